"""Group the day's dispatches into stories: each story one event, told by one outlet or several.

Each dispatch is a TF-IDF vector of stems (stop words out): the title and the lead weigh more than
the tail, and names and numbers more than other words, since two outlets on one event share its
actors, places and figures while any two stories share common words. A pair's similarity is their
cosine, lowered as they lie a day or more apart and nil beyond a story's span. Stories are built by
average-link agglomeration: two groups merge while their dispatches are, on average over all their
pairs, similar enough, and the result spans no more than `span_hours`. A dispatch joins a story
only when close to most of it, never through a chain of neighbours or a centroid that drifts as
members join. Dispatches are taken in a fixed order (published time, then id), so the stories do
not depend on the order they arrived in. Languages are clustered apart unless
`cross_language` is set: then a French and an English dispatch can share a story when their
names and numbers agree.
"""

from __future__ import annotations

import heapq
import math
import re
import unicodedata
from array import array
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy import sparse

from tasks.language import bundle, words
from tasks.models import Dispatch, Story


class ClusterOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: float = Field(
        0.1,
        gt=0,
        le=1,
        description="mean similarity of two groups' dispatches (over all their pairs) for them to be one story",
    )
    name_weight: float = Field(
        2.0, ge=1, description="weight of names (capitalised words within a sentence) and numbers against other words"
    )
    lead_weight: float = Field(
        2.0, ge=1, description="weight of the title's and the first two sentences' words against the rest of the text"
    )
    span_hours: float = Field(
        96.0,
        gt=0,
        description="longest time between two dispatches of one story; pairs more "
        "than a day apart count less, half at this span",
    )
    cross_language: bool = Field(
        False,
        description="let dispatches in two languages share a story when their names "
        "and numbers agree (transliteration-tolerant)",
    )
    headline_words: int = Field(16, ge=4, description="longest headline taken from a lead sentence")


LEAD_SENTENCES = 2  # the lead: what the event is, who, where, when
DIGIT_GROUP = re.compile(r"(?<=\d)[,. \u202f\u00a0](?=\d{3}\b)")  # 2,000 and 2 000 are one number, not 2 and 000


def _zones(dispatch: Dispatch, lead_weight: float) -> list[tuple[str, float]]:
    """(sentence, weight): the title and the lead weigh `lead_weight`, the rest 1."""
    zones = [(dispatch.title, lead_weight)] if dispatch.title else []
    return zones + [(s, lead_weight if n < LEAD_SENTENCES else 1.0) for n, s in enumerate(dispatch.sentences)]


def vectorise(dispatches: Sequence[Dispatch], options: ClusterOptions) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """L2-normalised TF-IDF rows over stems, title, lead, names and numbers weighted up; and rows over the
    names and numbers alone, spelled so that one name in two languages is one term (see `_name_key`).

    A capitalised word is a name unless it opens its sentence; a number is a word with a digit (one
    digit alone says little)."""
    vocabulary: dict[str, int] = {}
    terms_of: dict[str, dict[str, int]] = {}  # language -> word -> term, -1 for a stop word: words repeat
    names: dict[str, int] = {}
    # Compact arrays of each dispatch's distinct terms: lists of every word were ~150 MB at 10,000.
    rows, cols, values = array("i"), array("i"), array("d")
    name_rows, name_cols, name_values = array("i"), array("i"), array("d")
    for row, dispatch in enumerate(dispatches):
        lang = bundle(dispatch.language)
        terms = terms_of.setdefault(lang.code, {})
        weights: dict[int, float] = {}
        name_weights: dict[int, float] = {}
        for text, zone in _zones(dispatch, options.lead_weight):
            tokens = words(DIGIT_GROUP.sub("", text))
            # A sentence's first word is capitalised whatever it is: counted as a plain word.
            for word, count in Counter([tokens[0].lower(), *tokens[1:]] if tokens else []).items():
                lowered = word.lower()
                term = terms.get(lowered)
                if term is None:
                    useless = lowered in lang.stop_words or len(lowered) < 2
                    term = -1 if useless else vocabulary.setdefault(lang.stem(lowered), len(vocabulary))
                    terms[lowered] = term
                if term < 0:
                    continue
                named = word[0].isupper() or not word.isalpha() and any(c.isdigit() for c in word)
                weights[term] = weights.get(term, 0.0) + count * (zone * options.name_weight if named else zone)
                if named and options.cross_language:
                    key = names.setdefault(_name_key(lowered), len(names))
                    name_weights[key] = name_weights.get(key, 0.0) + count * zone
        rows.extend([row] * len(weights))
        cols.extend(weights.keys())
        values.extend(weights.values())
        name_rows.extend([row] * len(name_weights))
        name_cols.extend(name_weights.keys())
        name_values.extend(name_weights.values())
    return _tfidf(rows, cols, values, len(dispatches), len(vocabulary)), _tfidf(
        name_rows, name_cols, name_values, len(dispatches), len(names)
    )


def _tfidf(rows: array[int], cols: array[int], values: array[float], count: int, terms: int) -> sparse.csr_matrix:
    coordinates = (np.frombuffer(rows, dtype=np.intc), np.frombuffer(cols, dtype=np.intc))
    counts = sparse.csr_matrix((np.frombuffer(values), coordinates), shape=(count, max(terms, 1)))
    document_frequency = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = np.log((1 + count) / (1 + document_frequency)) + 1
    tf = counts.copy()
    tf.data = 1 + np.log(tf.data)  # sublinear: a long dispatch does not drown a short one
    weighted = sparse.csr_matrix(tf.multiply(idf))
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
    norms[norms == 0] = 1
    return sparse.csr_matrix(sparse.diags(1 / norms) @ weighted)


def _name_key(word: str) -> str:
    """A name as its consonants, accents off and doubled letters once, so its spellings in two languages
    meet: Poutine and Putin are "ptn", Zelensky and Zelenskyy "zlnsk"; a number as it is."""
    if any(c.isdigit() for c in word):
        return word
    plain = "".join(c for c in unicodedata.normalize("NFKD", word) if c.isalpha() and c.isascii())
    skeleton = re.sub(r"[aeiouyhw]", "", plain)
    return re.sub(r"(.)\1+", r"\1", skeleton) or plain


EDGE_SHARE = 0.75  # pairs below this share of the threshold are dropped: average link counts them as nil
NEIGHBOURS = 50  # each dispatch keeps its closest pairs only: a day's news is alike in small ways
DAY = 86400.0
CANDIDATES = 100  # pairs a dispatch puts forward for a product: twice the neighbours it keeps
INDEX_TERMS = 60  # a dispatch is indexed under its heaviest terms: the rare words, names and numbers of its event
POSTING_LIMIT = 200  # a term in more dispatches' index than this defines no event: it finds no candidates


def _edges(dispatches: Sequence[Dispatch], options: ClusterOptions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, similarity) of the pairs i < j that may share a story: each dispatch's `NEIGHBOURS` closest
    at `EDGE_SHARE` of the threshold or more, among its candidates (`candidates`): comparing every pair
    costs the square of the day's dispatches (and common words make their product nearly dense)."""
    vectors, names = vectorise(dispatches, options)
    codes_of: dict[str, int] = {}
    languages = np.array([codes_of.setdefault(d.language, len(codes_of)) for d in dispatches], dtype=np.int64)
    times = _times(dispatches)
    floor = EDGE_SHARE * options.threshold
    i, j = candidates(vectors, languages, times, options.span_hours)
    if options.cross_language:
        ai, aj = candidates(names, languages, times, options.span_hours, across=True)
        code = np.sort(np.concatenate([i * len(dispatches) + j, ai * len(dispatches) + aj]))
        i, j = code // len(dispatches), code % len(dispatches)
    factor = _time_factor(times[i], times[j], options.span_hours)
    similarity = _products(vectors, i, j) * factor
    if options.cross_language:
        across = languages[i] != languages[j]
        similarity[across] = _products(names, i[across], j[across]) * factor[across]
    keep = similarity >= floor
    i, j, similarity = i[keep], j[keep], similarity[keep]
    # Each dispatch's closest pairs, seen from both ends: a pair stays when one of its two keeps it.
    i, j, similarity = np.concatenate([i, j]), np.concatenate([j, i]), np.concatenate([similarity, similarity])
    order = np.lexsort((j, -similarity, i))  # each row's closest first, the earlier on a tie
    i, j, similarity = i[order], j[order], similarity[order]
    kept = np.arange(len(i)) - np.searchsorted(i, i) < NEIGHBOURS
    count = len(dispatches)
    code = np.minimum(i, j)[kept].astype(np.int64) * count + np.maximum(i, j)[kept]
    similarity = similarity[kept]
    order = np.lexsort((similarity, code))
    code, similarity = code[order], similarity[order]
    last = np.append(code[1:] != code[:-1], True)[: len(code)]  # each pair once (the two are one product)
    return code[last] // count, code[last] % count, similarity[last]


def candidates(
    vectors: sparse.csr_matrix, languages: np.ndarray, times: np.ndarray, span_hours: float, across: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(i, j), i < j, each pair once, sorted: the pairs worth a product, of one language (of two when
    `across`) and within `span_hours`. A dispatch's index is its `INDEX_TERMS` heaviest terms (by TF-IDF,
    names and the lead weighted up: the rare words, names and numbers that set its event apart), less
    those in more than `POSTING_LIMIT` indexes (a common word, or a subject so broad it is no one event).
    Two dispatches meet when their indexes share a term; each keeps the `CANDIDATES` it meets with the
    largest product over their shared index terms (a part of their similarity), times their time factor,
    and a pair is a candidate when one of the two keeps it. The work is the sum of the squared postings,
    at most `INDEX_TERMS` x `POSTING_LIMIT` a dispatch, and the pairs at most `CANDIDATES` a dispatch:
    linear in the day's dispatches, where comparing every pair is quadratic."""
    count = vectors.shape[0]
    row_of = np.repeat(np.arange(count), np.diff(vectors.indptr))
    order = np.lexsort((vectors.indices, -vectors.data, row_of))  # each row's heaviest first, a tie by term
    rank = np.arange(len(order)) - vectors.indptr[row_of[order]]
    chosen = order[rank < INDEX_TERMS]
    terms = vectors.indices[chosen]
    chosen = chosen[(np.bincount(terms, minlength=vectors.shape[1]) <= POSTING_LIMIT)[terms]]
    index = sparse.csr_matrix((vectors.data[chosen], (row_of[chosen], vectors.indices[chosen])), shape=vectors.shape)
    postings = sparse.csr_matrix(index.T)
    mixed = across or len(languages) and languages.min() != languages.max()
    dated = bool(np.nanmax(times) - np.nanmin(times) > DAY) if not np.isnan(times).all() else False
    codes = []
    for start in range(0, count, ROWS_AT_ONCE):
        shared = sparse.csr_matrix(index[start : start + ROWS_AT_ONCE] @ postings)
        shared.sort_indices()
        i = np.repeat(np.arange(start, start + shared.shape[0]), np.diff(shared.indptr))
        j = shared.indices
        keep = i != j
        if mixed:  # one language: every pair is of one
            keep &= (languages[i] != languages[j]) if across else (languages[i] == languages[j])
        i, j, score = i[keep], j[keep], shared.data[keep]
        if dated:  # within a day (or undated): every pair's time factor is 1
            score = score * _time_factor(times[i], times[j], span_hours)
            keep = score > 0
            i, j, score = i[keep], j[keep], score[keep]
        # Each row's largest first, the earlier on a tie: one stable sort of a key that is the row, less
        # the score scaled below 1 (a lexsort of the three is ~3x slower, and this is the bulk of the work).
        order = np.argsort(i - score / (1.000001 * score.max(initial=1.0)), kind="stable")
        i, j = i[order], j[order]
        kept = np.arange(len(i)) - np.searchsorted(i, i) < CANDIDATES
        codes.append(np.minimum(i, j)[kept].astype(np.int64) * count + np.maximum(i, j)[kept])
    code = np.sort(np.concatenate(codes)) if codes else np.zeros(0, np.int64)
    code = code[np.append(True, code[1:] != code[:-1])[: len(code)]]  # np.unique: 5 us an element (numpy 2.4)
    return code // count, code % count


ROWS_AT_ONCE = 1000


def _products(vectors: sparse.csr_matrix, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """The cosine of each pair (i[n], j[n]), `i` ascending (the rows are L2-normalised): a few rows of `i`
    at a time are spread into dense rows, and each of their pairs' other vectors is read against them."""
    out = np.zeros(len(i))
    if not len(i):
        return out
    width = vectors.shape[1]
    at_once = max(1, DENSE_CELLS // width)
    dense = np.zeros((at_once, width))
    bounds = np.searchsorted(i, np.arange(0, vectors.shape[0] + at_once, at_once))
    for block, start in enumerate(range(0, vectors.shape[0], at_once)):
        first, last = bounds[block], bounds[block + 1]
        if first == last:
            continue
        rows = vectors[start : start + at_once]
        local = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))
        dense[local, rows.indices] = rows.data
        others = vectors[j[first:last]]
        values = dense[np.repeat(i[first:last] - start, np.diff(others.indptr)), others.indices] * others.data
        sums = np.add.reduceat(np.append(values, 0.0), others.indptr[:-1])
        sums[np.diff(others.indptr) == 0] = 0  # reduceat gives an empty row its next value
        out[first:last] = sums
        dense[local, rows.indices] = 0
    return out


DENSE_CELLS = 1 << 23  # 64 MB of dense rows


def _times(dispatches: Sequence[Dispatch]) -> np.ndarray:
    """Published times in seconds, NaN for a dispatch without one."""
    return np.array([d.published.timestamp() if d.published else np.nan for d in dispatches])


def _time_factor(first: np.ndarray, second: np.ndarray, span_hours: float) -> np.ndarray:
    """1 within a day (one news cycle), falling to a half at the span and nil beyond it; 1 when either
    dispatch has no time."""
    apart = np.abs(first - second)
    span = span_hours * 3600
    factor = np.where(apart <= DAY, 1.0, 1 - 0.5 * (apart - DAY) / max(span - DAY, 1.0))
    factor = np.where(apart > span, 0.0, factor)
    return np.where(np.isnan(apart), 1.0, factor)


def group(dispatches: Sequence[Dispatch], options: ClusterOptions) -> list[list[int]]:
    """Indices of the dispatches of each group; every dispatch is in exactly one.

    Average-link agglomeration over the sparse graph of similar pairs: the two groups whose pairs are
    the most similar on average (pairs not in the graph count as nil) merge first, while `_mergeable`
    and the merged group spans `span_hours` at most. Each group keeps, for each neighbouring group, the
    sum of their pairs' similarities and the count of their close pairs, so a merge costs the size of
    the two neighbourhoods, never a pass over the members.
    """
    order = sorted(range(len(dispatches)), key=lambda i: _order_key(dispatches[i]))
    ordered = [dispatches[i] for i in order]
    first, second, similarity = _edges(ordered, options)
    links: list[dict[int, tuple[float, int]]] = [{} for _ in ordered]  # group -> group -> (sum, close pairs)
    heap = []
    for i, j, s in zip(first.tolist(), second.tolist(), similarity.tolist()):
        links[i][j] = links[j][i] = (s, int(s >= options.threshold))
        if _mergeable(links[i][j], 1, 1, options.threshold):
            heap.append((-s, i, j, 0, 0))
    members = [[i] for i in range(len(ordered))]
    earliest, latest = _times(ordered), _times(ordered)
    version = [0] * len(ordered)
    heapq.heapify(heap)  # ties go to the earlier groups: the result follows the fixed order alone
    while heap:
        _, a, b, version_a, version_b = heapq.heappop(heap)
        if version[a] != version_a or version[b] != version_b or not members[a] or not members[b]:
            continue  # one of them merged since: its pairs were pushed again
        if np.fmax(latest[a], latest[b]) - np.fmin(earliest[a], earliest[b]) > options.span_hours * 3600:
            continue
        keep, gone = (a, b) if len(members[a]) >= len(members[b]) else (b, a)
        for other, (total, close) in links[gone].items():
            if other != keep:
                kept_total, kept_close = links[keep].get(other, (0.0, 0))
                links[keep][other] = links[other][keep] = (kept_total + total, kept_close + close)
                del links[other][gone]
        links[keep].pop(gone, None)
        links[gone] = {}
        members[keep] += members[gone]
        members[gone] = []
        earliest[keep], latest[keep] = np.fmin(earliest[a], earliest[b]), np.fmax(latest[a], latest[b])
        version[keep] += 1
        for other, link in links[keep].items():
            if _mergeable(link, len(members[keep]), len(members[other]), options.threshold):
                low, high = min(keep, other), max(keep, other)
                heapq.heappush(
                    heap,
                    (-link[0] / (len(members[keep]) * len(members[other])), low, high, version[low], version[high]),
                )
    return [[order[i] for i in sorted(group)] for group in members if group]


def _mergeable(link: tuple[float, int], size: int, other: int, threshold: float) -> bool:
    """Two groups are one story when their pairs' mean similarity clears the threshold by a margin that
    shrinks as the pairs grow in number (one pair is thin evidence, the mean of many is steady: the
    margin falls as 1/sqrt(pairs), as a mean's error does), and when most of their pairs are close (at
    the threshold): a dispatch close to one member of a story and far from the others stays out."""
    pairs = size * other
    total, close = link
    return total / pairs >= threshold * (1 + 1 / math.sqrt(pairs)) and 2 * close > pairs


def cluster(dispatches: Sequence[Dispatch], options: ClusterOptions, now: datetime | None = None) -> list[Story]:
    """Stories, most important first."""
    groups = group(dispatches, options)
    templates = template_titles([[dispatches[i] for i in members] for members in groups])
    stories = [_story(tuple(dispatches[i] for i in members), options, templates) for members in groups]
    latest = now or max((s.last_published for s in stories if s.last_published), default=None)
    scored = [(s, importance(s, latest)) for s in stories]
    scored.sort(key=lambda pair: (-pair[1], pair[0].headline, pair[0].dispatches[0].id))
    return [
        Story(id=n, dispatches=s.dispatches, headline=s.headline, importance=round(score, 3))
        for n, (s, score) in enumerate(scored, start=1)
    ]


def importance(story: Story, now: datetime | None) -> float:
    """More publishers make a story more important, each once however many dispatches it carried (a site
    that published three pieces on it is one voice); age makes it less (half-life a day)."""
    score = float(len(story.sources))
    if now and story.last_published:
        hours = max((now - story.last_published).total_seconds() / 3600, 0)
        score *= 0.5 ** (hours / 24)
    return score


def headline(dispatches: Sequence[Dispatch], max_words: int, templates: frozenset[str]) -> str:
    """The best title of the story's dispatches, else the earliest lead sentence, shortened.

    A title is best when it looks like an article's (not a site's or a section's name, a file name, one
    word or one of the `templates`: a crawl's pages often carry those in `<title>`), has three words or
    more, and shares the most words with the story's texts (a centroid-like choice); the earliest on a
    tie. A title of two words or that shares no word with the texts ("Local Teams", "Sponsored Links")
    loses to a lead that reads as a sentence."""
    story_terms = [_terms(d.text[:OPENING_CHARS], d.language) for d in dispatches]
    ranked = [
        (_title_rank(d, story_terms, max_words, templates), -n, d.title)
        for n, d in enumerate(dispatches)
        if d.title and not MARKUP.search(d.title)
    ]  # markup never reaches a reader, even for want of a lead
    (rank, _), _, title = max(ranked, default=((TitleRank.NOT_A_TITLE, 0.0), 0, None))
    lead = next((d.sentences[0] for d in dispatches if d.sentences), None)
    good_enough = TitleRank.TITLE if lead and _reads_as_sentence(lead) else TitleRank.WEAK
    if title and (rank >= good_enough or lead is None):
        return title
    if lead is None:
        return dispatches[0].location
    tokens = lead.split()
    return lead if len(tokens) <= max_words else " ".join(tokens[:max_words]) + " …"


class TitleRank:
    """How much a title looks like an article's, worst first."""

    NOT_A_TITLE = 0  # one word, a file name or domain, too long, the site's own name, a template's title
    WEAK = 1  # two words, or no word in common with the story's texts: a section's name more often than not
    TITLE = 2


def _title_rank(
    dispatch: Dispatch, story_terms: list[set[str]], max_words: int, templates: frozenset[str]
) -> tuple[int, float]:
    """(rank, the mean share of the title's words in each of the story's texts)."""
    title = dispatch.title or ""
    terms = _terms(title, dispatch.language)
    support = sum(len(terms & text) for text in story_terms) / (len(terms) * len(story_terms)) if terms else 0.0
    words = title.split()
    # A title of more than twice a headline's length is a page's text or description.
    if len(words) < 2 or len(words) > 2 * max_words or title.casefold() in templates or _names_the_site(dispatch):
        return TitleRank.NOT_A_TITLE, support
    return (TitleRank.WEAK if len(words) == 2 or not support else TitleRank.TITLE), support


OPENING_CHARS = 1500  # a title is compared with its text's opening (~250 words): whole texts cost ~25 s at 10,000
MARKUP = re.compile(r"</?[A-Za-z!][^>]*>?|[{}]")
SITE_NAME_COVER = 0.6  # share of a host's label a title's words must spell to be the site's name


def _names_the_site(dispatch: Dispatch) -> bool:
    """The title is the outlet's name, or spells a label of the page's host with one word at most more
    ("Winona Daily News" on winonadailynews.com, "Brandon Sun Online" on brandonsun.com)."""
    words = re.findall(r"[^\W\d_]+", (dispatch.title or "").lower())
    if "".join(words) == "".join(re.findall(r"[^\W_]+", dispatch.source.lower())):
        return True
    for label in _host_labels(dispatch.url or dispatch.location):
        spelled = [w for w in words if w in label]
        if len(words) - len(spelled) <= 1 and len("".join(spelled)) >= SITE_NAME_COVER * len(label):
            return True
    return False


def _host_labels(url: str) -> list[str]:
    """The labels of a URL's host that name the site: neither "www" nor the last (the top-level domain)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:  # an unbalanced [ in the host
        return []
    return [label.replace("-", "") for label in host.split(".")[:-1] if label != "www" and len(label) >= 3]


def _terms(text: str, language: str) -> set[str]:
    """Stems of the text's content words, a hyphenated word's parts apart ("Obama-mania" says Obama)."""
    lang = bundle(language)
    return {lang.stem(w) for w in re.findall(r"[^\W\d_]{2,}", text.lower()) if w not in lang.stop_words}


def _reads_as_sentence(text: str) -> bool:
    """A lead that can stand for a headline: six words or more, opening on a capital, a digit or a quote."""
    return len(text.split()) >= 6 and (text[0].isupper() or text[0].isdigit() or text[0] in "\"“‘'«")


def template_titles(groups: Sequence[Sequence[Dispatch]]) -> frozenset[str]:
    """Titles (casefolded) that dispatches of two stories or more carry: a site's or a section's name in
    the pages' template ("Local Sports Wire", "The Hindu News Update Service"), not an article's."""
    stories_of: dict[str, set[int]] = {}
    for number, dispatches in enumerate(groups):
        for dispatch in dispatches:
            if dispatch.title:
                stories_of.setdefault(dispatch.title.casefold(), set()).add(number)
    return frozenset(title for title, stories in stories_of.items() if len(stories) > 1)


def _story(dispatches: tuple[Dispatch, ...], options: ClusterOptions, templates: frozenset[str]) -> Story:
    ordered = tuple(sorted(dispatches, key=_order_key))
    return Story(
        id=0, dispatches=ordered, headline=headline(ordered, options.headline_words, templates), importance=0.0
    )


def _order_key(dispatch: Dispatch) -> tuple[datetime, str]:
    published = dispatch.published or datetime.max.replace(tzinfo=UTC)
    return (published, dispatch.id)
