"""Extractive summaries of stories, with sumy as the engine and every sentence attributed.

`NewsSummarizer` follows sumy's interface (`summarizer(document, count)`) and adds
what news needs: the lead of each dispatch matters, a fact carried by several
outlets is central (and worth less each time the summary says it again), and a
fact is said once (maximal marginal relevance with a cap on similarity to what
is already chosen).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, cast

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy import sparse
from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence
from sumy.summarizers import AbstractSummarizer
from sumy.summarizers.edmundson import EdmundsonSummarizer
from sumy.summarizers.kl import KLSummarizer
from sumy.summarizers.lex_rank import LexRankSummarizer
from sumy.summarizers.lsa import LsaSummarizer
from sumy.summarizers.luhn import LuhnSummarizer
from sumy.summarizers.reduction import ReductionSummarizer
from sumy.summarizers.sum_basic import SumBasicSummarizer
from sumy.summarizers.text_rank import TextRankSummarizer

from tasks.compat import best_sentences, sentence_info  # sumy's private SentenceInfo and _get_best_sentences
from tasks.dedup import DedupOptions, Signature, says_same, signature
from tasks.language import LanguageBundle, SumyTokenizer, bundle, words
from tasks.models import Attribution, Dispatch, Story, StorySummary, SummarySentence
from tasks.workers import open_executor, spread, summarise_stories

Algorithm = Literal["news", "lead", "lexrank", "textrank", "lsa", "luhn", "sumbasic", "kl", "reduction", "edmundson"]


class SummaryOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    algorithm: Algorithm = "news"
    sentences: int = Field(4, ge=1, le=50, description="sentences per story")
    words: int | None = Field(None, ge=5, le=2000, description="word budget per story; overrides sentences")
    attribution: float = Field(
        0.7, gt=0, le=1, description="share of content words another outlet's sentence must share to be cited"
    )


class StoryDocument(ObjectDocumentModel):  # type: ignore[misc]  # sumy has no types: its classes are Any
    """A sumy document that remembers which dispatch and position each sentence comes from."""

    def __init__(self, dispatches: Sequence[Dispatch], tokenizer: SumyTokenizer):
        paragraphs, origins = [], []
        for d_index, dispatch in enumerate(dispatches):
            position = 0
            for block in dispatch.blocks:
                sentences = []
                for text in block.sentences:
                    sentences.append(Sentence(text, tokenizer, is_heading=block.heading))
                    if not block.heading:
                        origins.append((d_index, position))
                        position += 1
                paragraphs.append(Paragraph(sentences))
        super().__init__(paragraphs)
        self.dispatches = tuple(dispatches)
        self.origins = tuple(origins)  # (dispatch index, position in it) per body sentence


class WordBudget:
    """A sumy count: the best sentences, in rating order, while they fit the budget."""

    def __init__(self, words: int):
        self.words = words

    def __call__(self, infos: Iterable[Any]) -> list[Any]:  # sumy's SentenceInfo records
        chosen: list[Any]
        chosen, used = [], 0
        for info in infos:
            length = len(info.sentence.words)
            if chosen and used + length > self.words:
                continue
            chosen.append(info)
            used += length
            if used >= self.words:
                break
        return chosen


class LeadSummarizer(AbstractSummarizer):  # type: ignore[misc]  # sumy has no types: its classes are Any
    """Lead baseline: round-robin over dispatches (first sentence of each, then the second...)."""

    def __call__(
        self, document: ObjectDocumentModel, sentences_count: int | Callable[..., Any]
    ) -> tuple[Sentence, ...]:
        origins = getattr(document, "origins", None) or [(0, i) for i in range(len(document.sentences))]
        ranks = {s: (pos, d) for s, (d, pos) in zip(document.sentences, origins)}
        return best_sentences(document.sentences, sentences_count, lambda s: -_rank(ranks[s]))


def _rank(pos_and_dispatch: tuple[int, int]) -> float:
    position, dispatch = pos_and_dispatch
    return position * 1000 + dispatch


# Words that open a sentence leaning on the one before it (an unresolved pronoun or a
# connective): such a sentence reads badly alone, so it is chosen only after its predecessor.
# Keyed by language code; one- or two-word openings, lower-cased, as `tasks.language.words` splits them.
DANGLING_OPENINGS: dict[str, frozenset[str]] = {
    "en": frozenset(
        {
            "he",
            "she",
            "it",
            "they",
            "him",
            "them",
            "his",
            "her",
            "its",
            "their",
            "and",
            "or",
            "but",
            "however",
            "also",
            "yet",
            "still",
            "instead",
            "nevertheless",
            "nonetheless",
            "meanwhile",
            "moreover",
            "furthermore",
            "besides",
            "otherwise",
            "thus",
            "hence",
            "therefore",
            "in addition",
            "as well",
            "the latter",
            "the former",
        }
    ),
    "fr": frozenset(
        {
            "il",
            "elle",
            "ils",
            "elles",
            "lui",
            "eux",
            "leur",
            "leurs",
            "son",
            "sa",
            "ses",
            "cela",
            "ça",
            "ceci",
            "celui-ci",
            "celle-ci",
            "ceux-ci",
            "celles-ci",
            "et",
            "ou",
            "mais",
            "cependant",
            "pourtant",
            "toutefois",
            "néanmoins",
            "or",
            "donc",
            "ainsi",
            "aussi",
            "également",
            "en outre",
            "de plus",
            "par ailleurs",
            "en revanche",
            "du coup",
        }
    ),
}


# "This is", "That was", "Ce sont": a demonstrative before a stop word stands for what was said before
# ("This week" opens a sentence of its own).
DEMONSTRATIVES: dict[str, frozenset[str]] = {
    "en": frozenset({"this", "that", "these", "those"}),
    "fr": frozenset({"ce", "c"}),
}
GROUPED_NUMBER = re.compile(r"(?<![\d.,])\d{1,3}(?:[, ]\d{3})+(?!\d)")
THOUSANDS = re.compile(r"[, ]")
MIN_WORDS = 6  # a shorter "sentence" is a fragment: "he added.", "See more photos:"
GLUED_WORDS = 80  # a longer one is lines run together (a menu, a caption and its story), not a sentence
# A short line at least this share numbers is a result or a timetable ("Viera (3-0): K. Hupfer 1 goal.").
NUMBERS_SHARE, NUMBERS_WITHIN = 1 / 3, 12
NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
LOWER_WORD = re.compile(r"\b[a-zà-ÿ]{3,}")  # a word in lower case
CLOSING = "\"'”’»)] "


def stands_alone(text: str) -> bool:
    """A sentence a reader can take out of its dispatch: it starts as a sentence (not in lower case),
    has MIN_WORDS words or more (at most GLUED_WORDS), a lower-case word (a run of capitalised words
    is a name or a title, with no verb), is not mostly numbers, and ends as a sentence does: not on a
    lead-in's ":", a teaser's "..." or "…", nor without an end (cut, or a heading run into the text)."""
    tokens = words(text)
    opening = next((word for word in tokens if word[0].isalpha()), "")
    if opening[:1].islower() and not any(c.isupper() for c in opening):  # "iPhone" starts a sentence
        return False
    if not MIN_WORDS <= len(tokens) <= GLUED_WORDS or not LOWER_WORD.search(text) or _mostly_numbers(text):
        return False
    end = text.rstrip(CLOSING)
    return end.endswith((".", "!", "?")) and not end.endswith("...")


def _mostly_numbers(text: str) -> bool:
    count = len(words(NUMBER.sub("0", text)))  # "8:30" and "12,000" are one word each
    return count < NUMBERS_WITHIN and len(NUMBER.findall(text)) >= NUMBERS_SHARE * count


# Below three dispatches a concept is carried by one or by all: that says little more than
# the centroid does (Gillick and Favre count concepts found in three documents or more).
COVERAGE_MIN_DISPATCHES = 3


class NewsSummarizer(AbstractSummarizer):  # type: ignore[misc]  # sumy has no types: its classes are Any
    """Lead-aware concept coverage with redundancy control (MMR), in sumy's interface.

    A sentence's relevance is (content + title_weight * title + position_weight * lead) * form:

    - content, when the story has COVERAGE_MIN_DISPATCHES dispatches or more: what the sentence
      adds to the summary in concepts several outlets report (`ConceptCoverage`), recomputed
      after every choice; with fewer, the sentence's cosine to the story's TF-IDF centroid
      (itself excluded). Either way scaled to a maximum of 1;
    - title: cosine to the dispatches' titles when they have one, scaled to a maximum of 1;
    - lead: 1 / sqrt(1 + position in its own dispatch), so every dispatch's lead counts;
    - form: min(1, words / short_words) * min(1, long_words / words), short and long sentences
      losing weight in proportion.

    Sentences are then chosen by maximal marginal relevance, among those that stand alone
    (`stands_alone`: no fragment, lead-in, teaser or glued lines); one that opens on a pronoun or
    connective (see DANGLING_OPENINGS) only once the sentence before it is chosen. One whose cosine
    to a chosen sentence reaches `redundancy`, or that says what a chosen one says
    (`tasks.dedup.says_same`), is never chosen: two outlets reporting one fact give one sentence.
    Everything is sparse or linear in the number of sentences: no n x n matrix.
    """

    def __init__(
        self,
        language: str,
        position_weight: float = 1.0,
        title_weight: float = 1.0,
        short_words: int = 10,
        long_words: int = 40,
        # 1 favours terse sentences (best at a sentence count), lower ones complete ones (best at a
        # word budget); 0.65-0.8 gave the same summaries on the MultiLing dev topics.
        length_penalty: float = 0.75,
        redundancy: float = 0.4,
        mmr_lambda: float = 0.7,
        repeats: DedupOptions = DedupOptions(),
    ):
        self._lang = bundle(language)
        super().__init__(self._lang.stem)
        self.stop_words = self._lang.stop_words
        self.position_weight = position_weight
        self.title_weight = title_weight
        self.short_words = short_words
        self.long_words = long_words
        self.length_penalty = length_penalty
        self.redundancy = redundancy
        self.mmr_lambda = mmr_lambda
        self.repeats = repeats
        self._openings = DANGLING_OPENINGS.get(self._lang.code, frozenset())
        self._demonstratives = DEMONSTRATIVES.get(self._lang.code, frozenset())

    def __call__(
        self, document: ObjectDocumentModel, sentences_count: int | Callable[..., Any]
    ) -> tuple[Sentence, ...]:
        sentences = list(document.sentences)
        if not sentences:
            return ()
        origins = getattr(document, "origins", None) or [(0, i) for i in range(len(sentences))]
        positions = np.array([pos for _, pos in origins], dtype=float)
        lengths = np.array([len(s.words) for s in sentences], dtype=float)
        vocabulary: dict[str, int] = {}
        memo: dict[str, str | None] = {}
        vectors, idf = self._tfidf([self._terms(s.words, memo) for s in sentences], vocabulary)
        titles = self._title_vector(document, vocabulary, idf)
        dispatch_of = np.array([d for d, _ in origins])
        content = self._content(vectors, dispatch_of)
        relevance = self._relevance(vectors, titles, positions, lengths)
        dangling = self._dangling(sentences, positions)
        order = self._select(sentences, vectors, content, relevance, dangling, lengths, sentences_count)
        if callable(sentences_count) and not isinstance(sentences_count, WordBudget):
            # Any other sumy count (ItemsCount("20%")...) takes the sentences in choice order.
            infos = [sentence_info(sentences[i], i, -rank) for rank, i in enumerate(order)]
            return tuple(info.sentence for info in sorted(sentences_count(infos), key=lambda info: info.order))
        return tuple(sentences[i] for i in sorted(order))

    def _terms(self, words: Sequence[str], memo: dict[str, str | None] | None = None) -> list[str]:
        """Stems of a sentence's content words (no stop words, no punctuation)."""
        memo = {} if memo is None else memo
        terms = []
        for word in words:
            if word not in memo:
                lowered = word.lower()
                skip = lowered in self.stop_words or not any(c.isalnum() for c in lowered)
                memo[word] = None if skip else self._lang.stem(lowered)
            if memo[word] is not None:
                terms.append(cast(str, memo[word]))
        return terms

    def _tfidf(
        self, sentence_terms: list[list[str]], vocabulary: dict[str, int]
    ) -> tuple[sparse.csr_matrix, np.ndarray]:
        """Unit-length TF-IDF rows and the IDF (over the story's sentences); fills `vocabulary`."""
        rows, cols = [], []
        for row, terms in enumerate(sentence_terms):
            for term in terms:
                rows.append(row)
                cols.append(vocabulary.setdefault(term, len(vocabulary)))
        n = len(sentence_terms)
        counts = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, max(len(vocabulary), 1)))
        # scipy-stubs types no comparison of an spmatrix with a scalar (scipy has it: a boolean sparse matrix).
        document_frequency = np.asarray((counts > 0).sum(axis=0)).ravel()  # type: ignore[operator]
        idf = np.log((1 + n) / (1 + document_frequency)) + 1
        return _unit_rows(counts.multiply(idf).tocsr()), idf

    def _title_vector(
        self, document: ObjectDocumentModel, vocabulary: dict[str, int], idf: np.ndarray
    ) -> np.ndarray | None:
        """Unit TF-IDF vector of the dispatches' titles (a plain sumy document: its headings), or None."""
        dispatches = getattr(document, "dispatches", None)
        if dispatches is not None:
            texts = [d.title for d in dispatches if d.title]
        else:
            texts = [str(h) for h in getattr(document, "headings", ())]
        vector = np.zeros(idf.shape[0])
        for text in texts:
            for term in self._terms(self._lang.words(text)):
                if term in vocabulary:  # a title word no sentence has cannot make one closer
                    vector[vocabulary[term]] += idf[vocabulary[term]]
        norm = np.linalg.norm(vector)
        return vector / norm if norm > 0 else None

    def _content(self, vectors: sparse.csr_matrix, dispatch_of: np.ndarray) -> ConceptCoverage | Centrality:
        """Concept coverage when enough dispatches can vouch for a fact, else centroid centrality."""
        if len(np.unique(dispatch_of)) >= COVERAGE_MIN_DISPATCHES:
            return ConceptCoverage(vectors, dispatch_of, self.length_penalty)
        return Centrality(vectors)

    def _relevance(
        self, vectors: sparse.csr_matrix, titles: np.ndarray | None, positions: np.ndarray, lengths: np.ndarray
    ) -> Callable[[np.ndarray], np.ndarray]:
        """Relevance as a function of the content scores (which change as the summary grows)."""
        prior = self.position_weight / np.sqrt(1 + positions)
        if titles is not None:
            prior = prior + self.title_weight * _scaled(vectors @ titles)
        safe = np.maximum(lengths, 1)
        form = np.minimum(1, safe / self.short_words) * np.minimum(1, self.long_words / safe)
        return lambda content: (content + prior) * form

    def _dangling(self, sentences: list[Sentence], positions: np.ndarray) -> np.ndarray:
        """True for a sentence (not a lead) that opens on a pronoun or connective."""
        flags = np.zeros(len(sentences), dtype=bool)
        for i, sentence in enumerate(sentences):
            opening = [w.lower() for w in sentence.words[:2]]
            flags[i] = (
                positions[i] > 0
                and bool(opening)
                and (
                    opening[0] in self._openings
                    or " ".join(opening) in self._openings
                    or (opening[0] in self._demonstratives and opening[1:] != [] and opening[1] in self.stop_words)
                )
            )
        return flags

    def _select(
        self,
        sentences: list[Sentence],
        vectors: sparse.csr_matrix,
        content: ConceptCoverage | Centrality,
        relevance: Callable[[np.ndarray], np.ndarray],
        dangling: np.ndarray,
        lengths: np.ndarray,
        count: int | Callable[..., Any],
    ) -> list[int]:
        """Indices in the order chosen."""
        n = len(sentences)
        budget = count.words if isinstance(count, WordBudget) else None
        limit = n if callable(count) else min(int(count), n)
        available = np.array([stands_alone(str(s)) for s in sentences], dtype=bool)
        if not available.any():  # a story of fragments only still says something
            available[:] = True
        waiting = dangling.copy()  # until the sentence before it is chosen
        max_similarity = np.zeros(n)
        signatures: dict[int, Signature] = {}
        chosen: list[int] = []
        used_words = 0.0
        while len(chosen) < limit:
            candidates = available & ~waiting & (max_similarity < self.redundancy)
            if budget is not None and chosen:
                candidates &= used_words + lengths <= budget
            if not candidates.any():
                break
            scores = self.mmr_lambda * relevance(content.scores()) - (1 - self.mmr_lambda) * max_similarity
            best = int(np.argmax(np.where(candidates, scores, -np.inf)))  # ties: the earliest sentence
            # A sentence that says what a chosen one says (or less) adds nothing, however worded.
            # Checked when it comes first (exclusion is final, so checking later changes nothing).
            said = self._signature(best, sentences, signatures)
            if any(says_same(said, signatures[c], self.repeats) for c in chosen):
                available[best] = False
                continue
            chosen.append(best)
            available[best] = False
            used_words += lengths[best]
            content.said(best)
            if best + 1 < n:
                waiting[best + 1] = False  # its predecessor is in: a pronoun there is resolved
            similarity = (vectors @ vectors[best].T).toarray().ravel()
            max_similarity = np.maximum(max_similarity, similarity)
            if budget is not None and used_words >= budget:
                break
        return chosen

    def _signature(self, index: int, sentences: list[Sentence], cache: dict[int, Signature]) -> Signature:
        if index not in cache:
            cache[index] = says(str(sentences[index]), self._lang, self.repeats.shingle_size)
        return cache[index]


def says(sentence: str, lang: LanguageBundle, shingle_size: int) -> Signature:
    """What a sentence says, as outlets write it alike: one apostrophe, and numbers without thousands
    separators ("1,200" and "1200" are one number, which otherwise makes one sentence bring a new one)."""
    plain = GROUPED_NUMBER.sub(lambda number: THOUSANDS.sub("", number[0]), sentence.replace("’", "'"))
    return signature(plain, lang, shingle_size)


class Centrality:
    """Mean cosine of each sentence to every other one, via the centroid (O(nnz), no n² matrix),
    scaled to a maximum of 1. Fixed: MMR alone keeps what is chosen from being said again."""

    def __init__(self, vectors: sparse.csr_matrix):
        n = vectors.shape[0]
        centroid = np.asarray(vectors.sum(axis=0)).ravel()
        self_similarity = np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel()
        self._scores = _scaled((vectors @ centroid - self_similarity) / max(n - 1, 1))

    def scores(self) -> np.ndarray:
        return self._scores

    def said(self, index: int) -> None:
        pass


class ConceptCoverage:
    """What a sentence would add to the summary, in concepts several outlets report.

    Concepts are content stems; a concept's weight is the share of the story's dispatches that
    carry it (what many outlets report is what the story is about, as in Gillick and Favre's
    concept-based summarisation). A concept the summary already says n times is worth
    1 / (1 + n) of that: diminishing returns, so the objective is submodular and greedy choice
    is sound (Lin and Bilmes, 2011), and a second sentence on the same facts gains little.
    A sentence's score is its gain divided by (its content stems) ** length_penalty, scaled so the
    first step's best is 1: budgeted greedy (Lin and Bilmes, 2010) with the cost scaled between
    0 (the longest sentence says most) and 1 (gain per stem: terse sentences drop the details).
    """

    def __init__(self, vectors: sparse.csr_matrix, dispatch_of: np.ndarray, length_penalty: float):
        self._has = (vectors > 0).astype(float).tocsr()  # sentence x stem, 0/1
        n = self._has.shape[0]
        dispatches = sparse.csr_matrix((np.ones(n), (dispatch_of, np.arange(n))), shape=(dispatch_of.max() + 1, n))
        carried_by = np.asarray(((dispatches @ self._has) > 0).sum(axis=0)).ravel()
        self._weights = carried_by / len(np.unique(dispatch_of))
        self._times_said = np.zeros_like(self._weights)
        self._cost = np.maximum(np.asarray(self._has.sum(axis=1)).ravel(), 1) ** length_penalty
        first = self._gains()
        self._scale = first.max() if first.max() > 0 else 1.0

    def _gains(self) -> np.ndarray:
        return (self._has @ (self._weights / (1 + self._times_said))) / self._cost

    def scores(self) -> np.ndarray:
        return self._gains() / self._scale

    def said(self, index: int) -> None:
        self._times_said[self._has[index].indices] += 1


def _unit_rows(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1
    return sparse.csr_matrix(sparse.diags(1 / norms) @ matrix)


def _scaled(values: np.ndarray) -> np.ndarray:
    """Values divided by their maximum (unchanged when none is positive)."""
    top = values.max() if values.size else 0
    return values / top if top > 0 else values


SUMY_ALGORITHMS: dict[str, type[AbstractSummarizer]] = {
    "lexrank": LexRankSummarizer,
    "textrank": TextRankSummarizer,
    "lsa": LsaSummarizer,
    "luhn": LuhnSummarizer,
    "sumbasic": SumBasicSummarizer,
    "kl": KLSummarizer,
    "reduction": ReductionSummarizer,
    "edmundson": EdmundsonSummarizer,
}


def make_summarizer(algorithm: str, language: str, repeats: DedupOptions = DedupOptions()) -> AbstractSummarizer:
    """Any summariser by its config name, set up with the language's stemmer and stop words (ours
    also with what says the same, `repeats`)."""
    lang = bundle(language)
    stemmer = lang.stem
    if algorithm == "news":
        return NewsSummarizer(language, repeats=repeats)
    if algorithm == "lead":
        return LeadSummarizer(stemmer)
    if algorithm == "edmundson":
        # Cue words are per-corpus lists we do not have: title and location methods only.
        summarizer = EdmundsonSummarizer(stemmer, cue_weight=0.0)
        summarizer.null_words = lang.stop_words
        return summarizer
    summarizer = SUMY_ALGORITHMS[algorithm](stemmer)
    summarizer.stop_words = lang.stop_words
    return summarizer


def summarise_dispatches(
    dispatches: Sequence[Dispatch],
    options: SummaryOptions,
    language: str | None = None,
    repeats: DedupOptions = DedupOptions(),
) -> list[tuple[str, int, int]]:
    """Chosen sentences as (text, dispatch index, position), in reading order; no two that say the
    same as citing understands it (`citing`): a sentence cited to an outlet is not said again in its words."""
    language = language or dispatches[0].language
    document = StoryDocument(dispatches, SumyTokenizer(language))
    body = [s for s in document.sentences]
    origin_of = {id(s): o for s, o in zip(body, document.origins)}
    count: int | Callable[..., Any] = options.sentences if options.words is None else WordBudget(options.words)
    chosen = make_summarizer(options.algorithm, language, citing(repeats, options))(document, count)
    picked = [(str(s), *origin_of[id(s)]) for s in chosen]
    return sorted(picked, key=lambda item: (_time_key(dispatches[item[1]]), item[1], item[2]))


def _time_key(dispatch: Dispatch) -> float:
    return dispatch.published.timestamp() if dispatch.published else float("inf")


def attribute(
    sentence: str,
    origin: Dispatch,
    story: Sequence[Dispatch],
    repeats: DedupOptions,
    said_in: Callable[[Dispatch], list[Signature]],
) -> tuple[Attribution, ...]:
    """The dispatch a sentence was taken from, and every other one that says the same.

    `said_in` gives a dispatch's sentence signatures: a story's summary asks for them once per
    chosen sentence, so its caller caches them."""
    lang = bundle(origin.language)
    said = says(sentence, lang, repeats.shingle_size)
    carriers = list(origin.carriers)
    for other in story:
        if other is origin or other.language != origin.language:
            continue
        if any(says_same(said, theirs, repeats) for theirs in said_in(other)):
            carriers.extend(other.carriers)
    return tuple(carriers)


def citing(repeats: DedupOptions, options: SummaryOptions) -> DedupOptions:
    """What says the same for citing: looser than removing, as an outlet that reports the fact in other words carries it too."""
    return repeats.model_copy(update={"word_containment": min(options.attribution, repeats.word_containment)})


def summarise_story(story: Story, options: SummaryOptions, repeats: DedupOptions = DedupOptions()) -> StorySummary:
    dispatches = story.dispatches
    picked = summarise_dispatches(dispatches, options, repeats=repeats)
    cited = citing(repeats, options)
    signatures: dict[int, list[Signature]] = {}

    def said_in(dispatch: Dispatch) -> list[Signature]:
        if id(dispatch) not in signatures:
            lang = bundle(dispatch.language)
            signatures[id(dispatch)] = [says(s, lang, cited.shingle_size) for s in dispatch.sentences]
        return signatures[id(dispatch)]

    sentences = tuple(
        SummarySentence(text, attribute(text, dispatches[d], dispatches, cited, said_in)) for text, d, _ in picked
    )
    return StorySummary(story=story, sentences=sentences)


def summarise_batch(stories: list[Story], options: SummaryOptions, repeats: DedupOptions) -> list[StorySummary]:
    return [summarise_story(story, options, repeats) for story in stories]


def summarise_spread(
    stories: list[Story], options: SummaryOptions, repeats: DedupOptions, executor: str
) -> list[StorySummary]:
    """`summarise_batch` on the workers of `executor` (a Dask scheduler's address), 8 stories a piece."""
    with open_executor(executor) as workers:
        return spread(workers, summarise_stories, stories, options, repeats)
