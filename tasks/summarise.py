"""Extractive summaries of stories, with sumy as the engine and every sentence attributed.

`NewsSummarizer` follows sumy's interface (`summarizer(document, count)`) and adds
what news needs: the lead of each dispatch matters, a fact carried by several
outlets is central, and a fact is said once (maximal marginal relevance with a
cap on similarity to what is already chosen).
"""

from __future__ import annotations

from typing import Callable, Literal, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from prefect import task
from prefect.cache_policies import NO_CACHE
from scipy import sparse
from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence
from sumy.summarizers._summarizer import AbstractSummarizer
from sumy.summarizers.edmundson import EdmundsonSummarizer
from sumy.summarizers.kl import KLSummarizer
from sumy.summarizers.lex_rank import LexRankSummarizer
from sumy.summarizers.lsa import LsaSummarizer
from sumy.summarizers.luhn import LuhnSummarizer
from sumy.summarizers.reduction import ReductionSummarizer
from sumy.summarizers.sum_basic import SumBasicSummarizer
from sumy.summarizers.text_rank import TextRankSummarizer

from tasks.dedup import DedupOptions, says_same, signature
from tasks.language import SumyTokenizer, bundle
from tasks.models import Attribution, Dispatch, Story, StorySummary, SummarySentence

Algorithm = Literal["news", "lead", "lexrank", "textrank", "lsa", "luhn", "sumbasic", "kl", "reduction", "edmundson"]


class SummaryOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    algorithm: Algorithm = "news"
    sentences: int = Field(4, ge=1, le=50, description="sentences per story")
    words: int | None = Field(None, ge=5, le=2000, description="word budget per story; overrides sentences")
    attribution: float = Field(
        0.7, gt=0, le=1, description="share of content words another outlet's sentence must share to be cited"
    )


class StoryDocument(ObjectDocumentModel):
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

    def __call__(self, infos):
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


class LeadSummarizer(AbstractSummarizer):
    """Lead baseline: round-robin over dispatches (first sentence of each, then the second...)."""

    def __call__(self, document, sentences_count):
        origins = getattr(document, "origins", None) or [(0, i) for i in range(len(document.sentences))]
        ranks = {s: (pos, d) for s, (d, pos) in zip(document.sentences, origins)}
        return self._get_best_sentences(document.sentences, sentences_count, lambda s: -_rank(ranks[s]))


def _rank(pos_and_dispatch: tuple[int, int]) -> float:
    position, dispatch = pos_and_dispatch
    return position * 1000 + dispatch


class NewsSummarizer(AbstractSummarizer):
    """Lead-aware centrality with redundancy control (MMR), in sumy's interface."""

    def __init__(self, language: str, position_weight=1.0, redundancy=0.4, mmr_lambda=0.7, repeats=DedupOptions()):
        self._lang = bundle(language)
        super().__init__(self._lang.stem)
        self.stop_words = self._lang.stop_words
        self.position_weight = position_weight
        self.redundancy = redundancy
        self.mmr_lambda = mmr_lambda
        self.repeats = repeats

    def __call__(self, document, sentences_count):
        sentences = list(document.sentences)
        if not sentences:
            return ()
        origins = getattr(document, "origins", None) or [(0, i) for i in range(len(sentences))]
        vectors = self._tfidf(sentences)
        relevance = self._relevance(vectors, origins)
        chosen = self._select(sentences, vectors, relevance, sentences_count)
        return tuple(sentences[i] for i in sorted(chosen))

    def _tfidf(self, sentences: list[Sentence]) -> sparse.csr_matrix:
        vocabulary: dict[str, int] = {}
        rows, cols = [], []
        for row, sentence in enumerate(sentences):
            for word in sentence.words:
                lowered = self.normalize_word(word)
                if lowered in self.stop_words or not any(c.isalnum() for c in lowered):
                    continue
                rows.append(row)
                cols.append(vocabulary.setdefault(self.stem_word(lowered), len(vocabulary)))
        counts = sparse.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(len(sentences), max(len(vocabulary), 1))
        )
        document_frequency = np.asarray((counts > 0).sum(axis=0)).ravel()
        idf = np.log((1 + len(sentences)) / (1 + document_frequency)) + 1
        weighted = counts.multiply(idf).tocsr()
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
        norms[norms == 0] = 1
        return sparse.csr_matrix(sparse.diags(1 / norms) @ weighted)

    def _relevance(self, vectors: sparse.csr_matrix, origins) -> np.ndarray:
        # Centrality: mean cosine to every other sentence, via the centroid (O(nnz), no n² matrix).
        n = vectors.shape[0]
        centroid = np.asarray(vectors.sum(axis=0)).ravel()
        self_similarity = np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel()
        centrality = (vectors @ centroid - self_similarity) / max(n - 1, 1)
        if centrality.max() > 0:
            centrality = centrality / centrality.max()
        positions = np.array([pos for _, pos in origins], dtype=float)
        lead = 1 / np.sqrt(1 + positions)
        return centrality + self.position_weight * lead

    def _select(self, sentences, vectors, relevance, count) -> list[int]:
        order = sorted(range(len(sentences)), key=lambda i: (-relevance[i], i))
        signatures = [signature(str(s), self._lang, self.repeats.shingle_size) for s in sentences]
        chosen: list[int] = []
        max_similarity = np.zeros(len(sentences))
        budget = count if callable(count) else None
        limit = len(sentences) if budget else int(count)
        used_words = 0
        while len(chosen) < limit:
            scores = self.mmr_lambda * relevance - (1 - self.mmr_lambda) * max_similarity
            candidates = [i for i in order if i not in chosen and max_similarity[i] < self.redundancy]
            if budget:
                candidates = [i for i in candidates if used_words + len(sentences[i].words) <= budget.words or not chosen]
            if not candidates:
                break
            best = max(candidates, key=lambda i: (scores[i], -i))
            chosen.append(best)
            used_words += len(sentences[best].words)
            similarity = (vectors @ vectors[best].T).toarray().ravel()
            max_similarity = np.maximum(max_similarity, similarity)
            # A sentence that says what a chosen one says (or less) adds nothing, however worded.
            for i in order:
                if max_similarity[i] < self.redundancy and says_same(signatures[i], signatures[best], self.repeats):
                    max_similarity[i] = 1.0
            if budget and used_words >= budget.words:
                break
        return chosen


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


def make_summarizer(algorithm: str, language: str) -> AbstractSummarizer:
    """Any summariser by its config name, set up with the language's stemmer and stop words."""
    lang = bundle(language)
    stemmer = lang.stem
    if algorithm == "news":
        return NewsSummarizer(language)
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
    dispatches: Sequence[Dispatch], options: SummaryOptions, language: str | None = None
) -> list[tuple[str, int, int]]:
    """Chosen sentences as (text, dispatch index, position), in reading order."""
    language = language or dispatches[0].language
    document = StoryDocument(dispatches, SumyTokenizer(language))
    body = [s for s in document.sentences]
    origin_of = {id(s): o for s, o in zip(body, document.origins)}
    count: int | Callable = options.sentences if options.words is None else WordBudget(options.words)
    chosen = make_summarizer(options.algorithm, language)(document, count)
    picked = [(str(s), *origin_of[id(s)]) for s in chosen]
    return sorted(picked, key=lambda item: (_time_key(dispatches[item[1]]), item[1], item[2]))


def _time_key(dispatch: Dispatch) -> float:
    return dispatch.published.timestamp() if dispatch.published else float("inf")


def attribute(sentence: str, origin: Dispatch, story: Sequence[Dispatch], repeats: DedupOptions) -> tuple[Attribution, ...]:
    """The dispatch a sentence was taken from, and every other one that says the same."""
    lang = bundle(origin.language)
    said = signature(sentence, lang, repeats.shingle_size)
    carriers = list(origin.carriers)
    for other in story:
        if other is origin or other.language != origin.language:
            continue
        if any(says_same(said, signature(s, lang, repeats.shingle_size), repeats) for s in other.sentences):
            carriers.extend(other.carriers)
    return tuple(carriers)


def summarise_story(story: Story, options: SummaryOptions, repeats: DedupOptions = DedupOptions()) -> StorySummary:
    dispatches = story.dispatches
    picked = summarise_dispatches(dispatches, options)
    # Citing is looser than removing: an outlet that reports the fact in other words carries it too.
    citing = repeats.model_copy(update={"word_containment": min(options.attribution, repeats.word_containment)})
    sentences = tuple(
        SummarySentence(text, attribute(text, dispatches[d], dispatches, citing))
        for text, d, _ in picked
    )
    return StorySummary(story=story, sentences=sentences)


@task(name="summarise", cache_policy=NO_CACHE)
def summarise_batch(stories: list[Story], options: SummaryOptions, repeats: DedupOptions) -> list[StorySummary]:
    return [summarise_story(story, options, repeats) for story in stories]
