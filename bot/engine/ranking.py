"""Ranks the sentences of the retrieved passages by a fitted model, and says when none answers.

The model is a logistic regression over some of :data:`bot.engine.features.FEATURES` (only
those it weighs are measured), fitted on the dev questions of the gold sets and SubjQA by
``scripts/fit_ranker.py`` and shipped as ``bot/data/ranker.json`` (feature scaling, weights,
the answer threshold chosen on dev to maximise answerability accuracy, the options it was
fitted with and the figures it was chosen with). Applying it is numpy.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.answers import Passage
from bot.engine.features import (
    FEATURES,
    QUESTION_FEATURE_COLUMNS,
    Rarity,
    SentenceSpan,
    cross_language,
    header_fields_of,
    question_features,
    sentence_features,
    unknown_share,
)
from bot.engine.overlap import Candidate, candidates, naming_words, terms_of
from bot.engine.reading import Question
from index.keyword import tokenize
from index.lexicon import Lexicon
from index.sentence_store import StoredSentence
from index.works import normalize

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

MODEL_PATH = Path(__file__).resolve().parents[1] / "data" / "ranker.json"

# (chunk ids) -> the stored sentences of each; (texts) -> their vectors, passage role.
SentenceLookup = Callable[[Sequence[str]], Mapping[str, list[StoredSentence]]]
EmbedPassages = Callable[[list[str]], list[list[float]]]


@dataclass(frozen=True)
class RankerModel:
    """A fitted logistic regression over the sentence features."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float
    embedder: str
    # Whether the reviews answer at all, from the question's features (None: the best
    # sentence's probability against ``threshold``).
    abstention: RankerModel | None = None
    # The names of the columns of the rows it is applied to.
    names: tuple[str, ...] = FEATURES

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, names: Sequence[str] | None = None
    ) -> RankerModel:
        """The model in ``data``, applied to rows of the columns ``names``; by default the
        sentence columns it and its abstention model read, so only those are measured."""
        abstention = data.get("abstention")
        features = tuple(data["features"])
        asked = tuple(abstention["features"]) if abstention else ()
        return cls(
            features=features,
            mean=tuple(data["mean"]),
            scale=tuple(data["scale"]),
            weights=tuple(data["weights"]),
            bias=float(data["bias"]),
            threshold=float(data["threshold"]),
            embedder=str(data.get("embedder", "")),
            abstention=cls.from_dict(abstention, names=asked) if abstention else None,
            names=tuple(names) if names is not None else sentence_columns(features, asked),
        )

    def needs_overlap(self) -> bool:
        """Whether the model weighs the shared-words score (it takes a while to compute)."""
        return "overlap" in self.names

    def probabilities(self, rows: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        import numpy as np

        if rows.shape[0] == 0:
            return np.zeros(0)
        columns = [self.names.index(name) for name in self.features]
        scaled = (rows[:, columns] - np.array(self.mean)) / np.array(self.scale)
        result: npt.NDArray[np.float64] = 1.0 / (
            1.0 + np.exp(-(scaled @ np.array(self.weights) + self.bias))
        )
        return result


def sentence_columns(features: Sequence[str], asked: Sequence[str]) -> tuple[str, ...]:
    """The sentence features a model of ``features`` with an abstention model of ``asked``
    (question features) reads, in the order of :data:`FEATURES`."""
    needed = set(features)
    for name in asked:
        needed.update(QUESTION_FEATURE_COLUMNS.get(name, ()))
    return tuple(name for name in FEATURES if name in needed)


@lru_cache(maxsize=1)
def load_model(path: Path = MODEL_PATH) -> RankerModel | None:
    """The shipped model, or None before one has been fitted."""
    try:
        return RankerModel.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None


class SentenceRanker:
    """Ranks sentences for one question: its vector, the stored sentence vectors, the corpus."""

    def __init__(
        self,
        question_vector: Sequence[float],
        *,
        sentences: SentenceLookup,
        embed_passages: EmbedPassages,
        rarity: Rarity,
        model: RankerModel | None,
        lexicon: Lexicon | None = None,
        embed_query: Callable[[str], list[float]] | None = None,
        content_vector: Sequence[float] | None = None,
    ) -> None:
        """``content_vector``: the vector of :func:`content_text`, when the caller has it."""
        import numpy as np

        self.question_vector = np.asarray(question_vector, dtype=np.float32)
        self._given_content_vector = (
            None if content_vector is None else np.asarray(content_vector, dtype=np.float32)
        )
        self._sentences = sentences
        self._embed_passages = embed_passages
        self._rarity = rarity
        self.model = model
        self._lexicon = lexicon
        self._embed_query = embed_query
        # Set by :meth:`rank`: whether its sentences answer the question, and its ranking.
        self.answers = False
        self.ranked: list[Candidate] = []
        # Set by :meth:`spans`: the sentences of each chunk weighed, as stored or split now.
        self.sentences: dict[str, list[StoredSentence]] = {}
        self._cross_language = 0.0

    @property
    def threshold(self) -> float:
        return self.model.threshold if self.model else 0.5

    def spans(self, passages: Sequence[Passage]) -> list[SentenceSpan]:
        """Every sentence of the passages (each chunk once, at its best rank), in order."""
        import numpy as np

        first: dict[str, tuple[int, Passage]] = {}
        for rank, passage in enumerate(passages):
            first.setdefault(passage.chunk_id, (rank, passage))
        stored = dict(self._sentences(list(first)))
        missing = [chunk_id for chunk_id in first if chunk_id not in stored]
        if missing:
            stored.update(self._split_and_embed([first[c][1] for c in missing]))
        self.sentences = stored
        spans = []
        for chunk_id, (rank, passage) in first.items():
            for sentence in stored.get(chunk_id, []):
                if passage.text[sentence.start : sentence.end].strip():
                    spans.append(
                        SentenceSpan(
                            passage,
                            rank,
                            sentence.start,
                            sentence.end,
                            np.asarray(sentence.vector, dtype=np.float32),
                        )
                    )
        return spans

    def _split_and_embed(self, passages: Sequence[Passage]) -> dict[str, list[StoredSentence]]:
        """Sentences of chunks stored without theirs (an index from before, a killed run)."""
        import numpy as np

        from index.chunking import split_sentences

        pieces = [
            (p.chunk_id, s.start, s.end)
            for p in passages
            for s in split_sentences(p.text, language=p.language)
            if p.text[s.start : s.end].strip()
        ]
        texts = {p.chunk_id: p.text for p in passages}
        vectors = self._embed_passages([texts[c][a:b].strip() for c, a, b in pieces])
        found: dict[str, list[StoredSentence]] = {}
        for (chunk_id, start, end), vector in zip(pieces, vectors, strict=True):
            found.setdefault(chunk_id, []).append(
                StoredSentence(chunk_id, start, end, np.asarray(vector, dtype=np.float32))
            )
        return found

    def features(
        self, question: Question, passages: Sequence[Passage]
    ) -> tuple[list[SentenceSpan], npt.NDArray[np.float64]]:
        spans = self.spans(passages)
        overlap = None
        if self.model is None or self.model.needs_overlap():
            overlap = {
                (c.passage.review_id, c.quote): c.score
                for c in candidates(question, passages, self._lexicon, stored=self.sentences)
            }
        rows = sentence_features(
            question,
            self.question_vector,
            spans,
            self._rarity,
            content_vector=self._content_vector(question),
            lexicon=self._lexicon,
            overlap=overlap,
            columns=self.columns,
        )
        return spans, rows

    @property
    def columns(self) -> tuple[str, ...]:
        """The sentence features measured: the model's, or all of them without one."""
        return self.model.names if self.model else FEATURES

    def _answers(
        self, question: Question, rows: npt.NDArray[np.float64], scores: npt.NDArray[np.float64]
    ) -> bool:
        """Whether the sentences answer the question at all."""
        if not len(scores) or self.model is None:
            return False
        abstention = self.model.abstention
        if abstention is None:
            return bool(scores.max() >= self.model.threshold)
        asked = abstention.features
        unknown = (
            unknown_share(question, self._rarity, self._lexicon)
            if {"unknown_words", "unknown_same_language"} & set(asked)
            else 0.0
        )
        row = question_features(
            rows,
            scores,
            unknown=unknown,
            names_work=bool(question.works),
            cross_language=self._cross_language,
            columns=self.columns,
            features=asked,
        )
        return bool(abstention.probabilities(row[None, :])[0] >= abstention.threshold)

    def _content_vector(self, question: Question) -> npt.NDArray[np.float32] | None:
        """The question's vector without the words naming its works, when it has some."""
        import numpy as np

        text = content_text(question)
        if text is None:
            return None
        if self._given_content_vector is not None:
            return self._given_content_vector
        if self._embed_query is None:
            return None
        return np.asarray(self._embed_query(text), dtype=np.float32)

    def rank(self, question: Question, passages: Sequence[Passage]) -> list[Candidate]:
        """Every sentence of the passages as a Candidate scored by the model, best first."""
        import numpy as np

        spans, rows = self.features(question, passages)
        self._cross_language = cross_language(question, spans)
        if self.model is None:
            scores = rows[:, FEATURES.index("dense")] if len(spans) else np.zeros(0)
        else:
            scores = self.model.probabilities(rows)
        self.answers = self._answers(question, rows, scores)
        found = []
        seen: set[tuple[str, str]] = set()
        for span, score in zip(spans, scores, strict=True):
            quote = span.text
            if len(quote) < 3 or (span.passage.review_id, quote) in seen:
                continue
            seen.add((span.passage.review_id, quote))
            asked, shown = _asked_field(question, span)
            found.append(
                Candidate(
                    span.passage,
                    quote,
                    float(score),
                    asked,
                    shown,
                    focus=_focus(question, quote, span.passage.language),
                    vector=span.vector,  # type: ignore[arg-type]
                )
            )
        found.sort(key=lambda c: c.score, reverse=True)
        self.ranked = found
        return found


def _asked_field(question: Question, span: SentenceSpan) -> tuple[bool, str | None]:
    """Whether the sentence is the header field asked for, and how to show it."""
    if not question.aspect:
        return False, None
    for header in header_fields_of(span.passage.text):
        if header.start >= span.start and header.end <= span.end:
            if header.attribute != question.aspect:
                return False, None
            quote = span.passage.text[header.start : header.end]
            value = header.value
            key = quote[: quote.rfind(value)].strip(" :|_") if value in quote else ""
            return True, f"{key}: {value}" if key else None
    return False, None


def _focus(question: Question, quote: str, language: str) -> frozenset[str]:
    """The sentence's stems that the question has, to show the part of a long one they are in."""
    asked = set(tokenize(question.text, language=language))
    return frozenset(t for t in terms_of(quote, language) if t in asked)


def passages_by_rank(passages: Sequence[Passage], ranked: Sequence[Candidate]) -> list[Passage]:
    """The passages, those holding the best-ranked sentences first, numbered in that order."""
    order = {
        chunk_id: i for i, chunk_id in enumerate(dict.fromkeys(c.passage.chunk_id for c in ranked))
    }
    ordered = sorted(passages, key=lambda p: order.get(p.chunk_id, len(order)))
    return [replace(p, n=i) for i, p in enumerate(ordered, start=1)]


def content_text(question: Question) -> str | None:
    """The question without the words naming its works, when it has some and other words."""
    naming = naming_words(question)
    words = question.text.split()
    kept = [w for w in words if normalize(w) not in naming]
    if len(kept) == len(words) or not kept:
        return None
    return " ".join(kept)
