"""Group the day's dispatches into stories.

Each dispatch is a TF-IDF vector of stems (stop words out, names weighted up,
since two outlets on one event share its names). Dispatches join the most
similar story centroid above a threshold, in a fixed order (published time,
then id), so the result does not depend on the order they arrived in. Languages
are clustered apart: a French and an English dispatch on one event stay two stories.
"""

from __future__ import annotations

import re
from array import array
from datetime import datetime, timezone
from typing import Sequence
from urllib.parse import urlsplit

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from prefect import task
from prefect.cache_policies import NO_CACHE
from scipy import sparse

from tasks.language import bundle, words
from tasks.models import Dispatch, Story


class ClusterOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: float = Field(0.2, gt=0, le=1, description="cosine similarity to a story's centroid to join it")
    name_weight: float = Field(2.0, ge=1, description="weight of capitalised words (names) against other words")
    headline_words: int = Field(16, ge=4, description="longest headline taken from a lead sentence")


def vectorise(dispatches: Sequence[Dispatch], name_weight: float) -> sparse.csr_matrix:
    """L2-normalised TF-IDF rows over stems, names weighted up."""
    vocabulary: dict[str, int] = {}
    # Compact arrays of each dispatch's distinct terms: lists of every word were ~150 MB at 10,000.
    rows, cols, values = array("i"), array("i"), array("d")
    for row, dispatch in enumerate(dispatches):
        lang = bundle(dispatch.language)
        weights: dict[int, float] = {}
        text = " ".join(filter(None, [dispatch.title, dispatch.text]))
        for word in words(text):
            lowered = word.lower()
            if lowered in lang.stop_words or len(lowered) < 2 or lowered.isdigit():
                continue
            term = vocabulary.setdefault(lang.stem(lowered), len(vocabulary))
            weights[term] = weights.get(term, 0.0) + (name_weight if word[0].isupper() else 1.0)
        rows.extend([row] * len(weights))
        cols.extend(weights.keys())
        values.extend(weights.values())
    coordinates = (np.frombuffer(rows, dtype=np.intc), np.frombuffer(cols, dtype=np.intc))
    counts = sparse.csr_matrix((np.frombuffer(values), coordinates), shape=(len(dispatches), max(len(vocabulary), 1)))
    document_frequency = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = np.log((1 + len(dispatches)) / (1 + document_frequency)) + 1
    tf = counts.copy()
    tf.data = 1 + np.log(tf.data)  # sublinear: a long dispatch does not drown a short one
    weighted = sparse.csr_matrix(tf.multiply(idf))
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
    norms[norms == 0] = 1
    return sparse.csr_matrix(sparse.diags(1 / norms) @ weighted)


SIMILARITY_FLOOR = 0.01  # pair similarities below this are dropped: they cannot tip a story
ROWS_AT_ONCE = 500  # news in one language is alike in small ways: a row has a similarity to most others


def similarities(rows: sparse.csr_matrix, vectors: sparse.csr_matrix) -> sparse.csr_matrix:
    """Cosine similarity of each of `rows` to every one of `vectors`, tiny ones dropped."""
    product = sparse.csr_matrix(rows @ vectors.T)
    product.data[product.data < SIMILARITY_FLOOR] = 0
    product.eliminate_zeros()
    return product


def group(dispatches: Sequence[Dispatch], options: ClusterOptions) -> list[list[int]]:
    """Indices of the dispatches of each group; every dispatch is in exactly one.

    A dispatch's similarity to a story's centroid is the sum of its similarities to the
    story's members over the norm of their summed vectors, kept up to date as members
    join: only sparse rows are read, never a dense story x vocabulary matrix. Similarities are
    computed for `ROWS_AT_ONCE` dispatches at a time, as they come: all pairs at once would be
    nearly dense (1.2 GB at 10,000 dispatches).
    """
    vectors = vectorise(dispatches, options.name_weight)
    order = sorted(range(len(dispatches)), key=lambda i: _order_key(dispatches[i]))
    story_of = np.full(len(dispatches), -1)
    members: list[list[int]] = []
    norms = np.zeros(len(dispatches))  # squared norm of each story's summed vector
    languages = np.empty(len(dispatches), dtype=object)  # each story's language
    for position, index in enumerate(order):
        if position % ROWS_AT_ONCE == 0:
            block = similarities(vectors[order[position : position + ROWS_AT_ONCE]], vectors)
        row = block[position % ROWS_AT_ONCE]
        placed = story_of[row.indices] >= 0
        dots = np.bincount(story_of[row.indices][placed], weights=row.data[placed], minlength=len(members))
        best = _closest(dots, norms, languages, dispatches[index].language, options.threshold)
        if best is None:
            best = len(members)
            members.append([])
            languages[best] = dispatches[index].language
        members[best].append(index)
        story_of[index] = best
        norms[best] += 2 * (dots[best] if best < len(dots) else 0.0) + 1.0  # rows are unit vectors
    return members


def _closest(dots: np.ndarray, norms: np.ndarray, languages: np.ndarray, language: str, threshold: float) -> int | None:
    """The story of the same language whose centroid is most similar (at least `threshold`; the
    later story on a tie), None when there is none. All stories at once: at 10,000 dispatches a
    dispatch has a similarity to hundreds of them."""
    stories = np.flatnonzero(dots)
    stories = stories[languages[stories] == language]
    if not stories.size:
        return None
    similarity = dots[stories] / np.sqrt(norms[stories])
    best = np.flatnonzero(similarity == similarity.max())[-1]
    return int(stories[best]) if similarity[best] >= threshold else None


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
    ranked = [(_title_rank(d, story_terms, max_words, templates), -n, d.title) for n, d in enumerate(dispatches)
              if d.title and not MARKUP.search(d.title)]  # markup never reaches a reader, even for want of a lead
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


def _title_rank(dispatch: Dispatch, story_terms: list[set[str]], max_words: int,
                templates: frozenset[str]) -> tuple[int, float]:
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
    return Story(id=0, dispatches=ordered, headline=headline(ordered, options.headline_words, templates),
                 importance=0.0)


def _order_key(dispatch: Dispatch) -> tuple:
    published = dispatch.published or datetime.max.replace(tzinfo=timezone.utc)
    return (published, dispatch.id)


@task(name="cluster", cache_policy=NO_CACHE)
def cluster_batch(dispatches: list[Dispatch], options: ClusterOptions, now: datetime | None = None) -> list[Story]:
    return cluster(dispatches, options, now)
