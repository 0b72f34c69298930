"""What the ranker knows about each sentence that might answer a question.

Every feature is a measurement, not a word list: how near the sentence is to the question
in the embedder's space (question in the query role, sentence in the passage role, as e5
was trained), how much of the question's rarer vocabulary it shares (inverse document
frequency from the indexed corpus, German compounds counted by their parts), the same for
the sentences beside it (the answer often follows the sentence that matches), where its
passage stood in the hybrid search, whether it is the header field the question asks for,
and whether it has the shape the answer must have (a name, a date, a number).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any, TypeAlias

from bot.answers import Passage
from bot.engine.overlap import expected_answer, naming_words, terms_of
from bot.engine.reading import Question
from index.keyword import tokenize
from index.lexicon import Lexicon
from index.metadata import HeaderField, find_header_fields

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    ColumnValues: TypeAlias = Sequence[float] | npt.NDArray[Any]

FEATURES = (
    "dense",
    "dense_gap",
    "dense_rank",
    "dense_neighbour",
    "content",
    "content_gap",
    "content_rank",
    "content_neighbour",
    "lexical",
    "lexical_part",
    "lexical_gap",
    "lexical_neighbour",
    "translated",
    "passage_rank",
    "asked_field",
    "answer_shape",
    "length",
    "overlap",
    "cross",
    "lexical_same",
    "dense_cross",
    "content_cross",
    "dense_previous",
    "lexical_previous",
    "rare_new",
    "rare_new_mean",
    "dense_window",
)
# A German compound counts for a question word it begins or ends with, this long or more.
_SHORTEST_PART = 4
_LANGUAGES = ("de", "en")


@dataclass(frozen=True)
class SentenceSpan:
    """A sentence of a retrieved passage, with its vector (passage role)."""

    passage: Passage
    rank: int
    start: int
    end: int
    vector: npt.NDArray[np.float32]

    @property
    def text(self) -> str:
        return self.passage.text[self.start : self.end].strip()


@dataclass(frozen=True)
class Rarity:
    """Inverse document frequency of stems over the indexed chunks."""

    document_frequency: Callable[[Sequence[str]], Mapping[str, int]]
    documents: int

    def weights(self, stems: Sequence[str]) -> dict[str, float]:
        frequency = self.document_frequency(stems)
        n = max(1, self.documents)
        return {
            stem: math.log(1 + (n - frequency.get(stem, 0) + 0.5) / (frequency.get(stem, 0) + 0.5))
            for stem in stems
        }


def sentence_features(
    question: Question,
    question_vector: npt.NDArray[np.float32],
    spans: Sequence[SentenceSpan],
    rarity: Rarity,
    *,
    content_vector: npt.NDArray[np.float32] | None = None,
    lexicon: Lexicon | None = None,
    overlap: Mapping[tuple[str, str], float] | None = None,
    columns: Sequence[str] = FEATURES,
) -> npt.NDArray[np.float64]:
    """One row per span of the ``columns`` named (of :data:`FEATURES`); only those are
    measured, so a model pays for the features it weighs.

    ``content_vector`` embeds the question without the words that name its works (every
    passage of the work has them, and they dominate a short question's vector).
    """
    import numpy as np

    if not spans:
        return np.zeros((0, len(columns)))
    unknown = sorted(set(columns) - set(FEATURES))
    if unknown:
        raise ValueError(f"unknown sentence features: {unknown}")
    measures = _Measures(
        question, question_vector, spans, rarity, content_vector, lexicon, overlap or {}
    )
    return np.column_stack([measures.column(name) for name in columns])


class _Measures:
    """The measurements of one question's spans, each taken when a column first needs it."""

    def __init__(
        self,
        question: Question,
        question_vector: npt.NDArray[np.float32],
        spans: Sequence[SentenceSpan],
        rarity: Rarity,
        content_vector: npt.NDArray[np.float32] | None,
        lexicon: Lexicon | None,
        overlap: Mapping[tuple[str, str], float],
    ) -> None:
        self.question = question
        self.question_vector = question_vector
        self.spans = spans
        self.rarity = rarity
        self.content_vector = content_vector
        self.lexicon = lexicon
        self.overlap = overlap

    def column(self, name: str) -> ColumnValues:
        return self._measured[name]()

    @cached_property
    def _measured(self) -> dict[str, Callable[[], ColumnValues]]:
        import numpy as np

        spans = self.spans
        return {
            "dense": lambda: self.dense_nearness[0],
            "dense_gap": lambda: self.dense_nearness[1],
            "dense_rank": lambda: self.dense_nearness[2],
            "dense_neighbour": lambda: self.dense_nearness[3],
            "content": lambda: self.content_nearness[0],
            "content_gap": lambda: self.content_nearness[1],
            "content_rank": lambda: self.content_nearness[2],
            "content_neighbour": lambda: self.content_nearness[3],
            "lexical": lambda: self.shares[0],
            "lexical_part": lambda: self.shares[1],
            "lexical_gap": lambda: self.lexical - self.lexical.max(),
            "lexical_neighbour": lambda: _neighbour_max(spans, self.lexical),
            "translated": lambda: self.translated,
            "passage_rank": lambda: [1.0 / (1 + s.rank) for s in spans],
            "asked_field": lambda: [float(_states_asked_field(self.question, s)) for s in spans],
            "answer_shape": self._answer_shape,
            "length": lambda: [math.log(1 + len(s.text)) for s in spans],
            "overlap": lambda: [
                self.overlap.get((s.passage.review_id, s.text), 0.0) for s in spans
            ],
            # Across languages shared words cannot fire and similarities run lower, so the
            # model gets the language match and the measurements it then has to rest on apart.
            "cross": lambda: self.cross,
            "lexical_same": lambda: self.lexical * (1.0 - self.cross),
            "dense_cross": lambda: self.dense_nearness[1] * self.cross,
            "content_cross": lambda: self.content_nearness[1] * self.cross,
            "dense_previous": lambda: _previous(spans, self.dense.astype(np.float64)),
            "lexical_previous": lambda: _previous(spans, self.lexical),
            "rare_new": lambda: self.rare_new[0],
            "rare_new_mean": lambda: self.rare_new[1],
            "dense_window": lambda: (
                _window(spans, self.vectors) @ self.question_vector.astype(np.float32)
            ),
        }

    @cached_property
    def vectors(self) -> npt.NDArray[np.float32]:
        import numpy as np

        return np.stack([s.vector for s in self.spans])

    @cached_property
    def dense(self) -> npt.NDArray[np.float32]:
        import numpy as np

        result: npt.NDArray[np.float32] = self.vectors @ self.question_vector.astype(np.float32)
        return result

    @cached_property
    def dense_nearness(self) -> tuple[npt.NDArray[np.float64], ...]:
        return _nearness(self.spans, self.dense)

    @cached_property
    def content_nearness(self) -> tuple[npt.NDArray[np.float64], ...]:
        vector = self.question_vector if self.content_vector is None else self.content_vector
        return _nearness(self.spans, self.vectors @ vector)

    @cached_property
    def terms(self) -> dict[str, dict[str, float]]:
        return _question_terms(self.question, self.rarity)

    @cached_property
    def shares(self) -> tuple[list[float], list[float]]:
        pairs = [_shared(self.terms.get(s.passage.language, {}), s.text, s) for s in self.spans]
        return [exact for exact, _ in pairs], [part for _, part in pairs]

    @cached_property
    def translated(self) -> list[float]:
        translations = _translations(self.question, self.rarity, self.lexicon)
        return [
            _translated_share(translations.get(s.passage.language, []), s.text, s)
            for s in self.spans
        ]

    @cached_property
    def lexical(self) -> npt.NDArray[np.float64]:
        import numpy as np

        exact, parts = self.shares
        result: npt.NDArray[np.float64] = (
            np.array(exact) + 0.5 * np.array(parts) + 0.7 * np.array(self.translated)
        )
        return result

    @cached_property
    def cross(self) -> npt.NDArray[np.float64]:
        import numpy as np

        language = self.question.language
        return np.array([float(s.passage.language != language) for s in self.spans])

    @cached_property
    def rare_new(self) -> tuple[list[float], list[float]]:
        return _rare_new(self.question, self.spans, self.rarity, self.terms)

    def _answer_shape(self) -> list[float]:
        shape = expected_answer(self.question)
        return [float(bool(shape and shape.search(s.text))) for s in self.spans]


def _window(
    spans: Sequence[SentenceSpan], vectors: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """Each sentence's vector averaged with its neighbours' in the passage, normalised: the
    sentence in its context, for an answer that names its subject only the sentence before."""
    import numpy as np

    summed = vectors.copy()
    for i in range(len(spans)):
        for j in (i - 1, i + 1):
            if 0 <= j < len(spans) and spans[j].passage.chunk_id == spans[i].passage.chunk_id:
                summed[i] += vectors[j]
    norms = np.linalg.norm(summed, axis=1, keepdims=True)
    result: npt.NDArray[np.float32] = summed / np.maximum(norms, 1e-9)
    return result


def _rare_new(
    question: Question,
    spans: Sequence[SentenceSpan],
    rarity: Rarity,
    terms: Mapping[str, Mapping[str, float]],
) -> tuple[list[float], list[float]]:
    """How rare the sentence's words that the question lacks are, the rarest and on average,
    as a share of the rarest a word can be: an answer names something specific (a film, an
    actor, a place) that the question asks for but cannot contain."""
    naming = naming_words(question)
    new = [
        sorted(
            stem
            for stem in terms_of(span.text, span.passage.language)
            if stem not in terms.get(span.passage.language, {}) and stem not in naming
        )
        for span in spans
    ]
    weights = rarity.weights(sorted({stem for stems in new for stem in stems}))
    most = math.log(1 + (max(1, rarity.documents) + 0.5) / 1.5) or 1.0
    rarest = [max((weights[s] for s in stems), default=0.0) / most for stems in new]
    mean = [sum(weights[s] for s in stems) / len(stems) / most if stems else 0.0 for stems in new]
    return rarest, mean


def _previous(
    spans: Sequence[SentenceSpan], values: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """For each sentence, the value of the sentence before it in its passage (the answer
    often follows the sentence that matches the question)."""
    import numpy as np

    result = np.zeros(len(spans))
    for i in range(1, len(spans)):
        if spans[i - 1].passage.chunk_id == spans[i].passage.chunk_id:
            result[i] = values[i - 1]
    return result


def _nearness(
    spans: Sequence[SentenceSpan], similarity: npt.NDArray[np.float32]
) -> tuple[npt.NDArray[np.float64], ...]:
    """The similarity, its distance to the best, 1 / rank, and the best of the neighbours."""
    import numpy as np

    values = similarity.astype(np.float64)
    rank = np.empty(len(values))
    rank[np.argsort(-values)] = 1.0 / (1 + np.arange(len(values)))
    return values, values - values.max(), rank, _neighbour_max(spans, values)


def _neighbour_max(
    spans: Sequence[SentenceSpan], values: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """For each sentence, the larger value of the sentences before and after it."""
    import numpy as np

    result = np.zeros(len(spans))
    for i, span in enumerate(spans):
        for j in (i - 1, i + 1):
            if 0 <= j < len(spans) and spans[j].passage.chunk_id == span.passage.chunk_id:
                result[i] = max(result[i], values[j])
    return result


def _translations(
    question: Question, rarity: Rarity, lexicon: Lexicon | None
) -> dict[str, list[tuple[frozenset[str], float]]]:
    """For each review language other than the question's: each content word's translations
    (stems) with the rarity of the rarest."""
    if not lexicon:
        return {}
    naming = naming_words(question)
    words = {
        w.lower() for w in re.findall(r"[^\W\d_]{3,}", question.text) if w.lower() not in naming
    }
    words = {w for w in words if tokenize(w, language=question.language)}
    found: dict[str, list[tuple[frozenset[str], float]]] = {}
    for language in _LANGUAGES:
        if language == question.language:
            continue
        groups = [
            lexicon.translate(w, source=question.language, target=language) for w in sorted(words)
        ]
        groups = [g for g in groups if g]
        weights = rarity.weights(sorted({stem for g in groups for stem in g}))
        found[language] = [(g, max(weights[stem] for stem in g)) for g in groups]
    return found


def _translated_share(
    groups: Sequence[tuple[frozenset[str], float]], text: str, span: SentenceSpan
) -> float:
    total = sum(weight for _, weight in groups)
    if not total:
        return 0.0
    stems = terms_of(text, span.passage.language)
    # A translation met as part of a compound ("material" in "Bonusmaterial") counts half,
    # as the question's own words do.
    return (
        sum(
            weight if group & stems else 0.5 * weight * _in_compound(group, stems)
            for group, weight in groups
        )
        / total
    )


def _in_compound(stems: frozenset[str], terms: frozenset[str]) -> bool:
    """Whether a term of the sentence begins or ends with one of the stems, as a compound."""
    return any(
        len(term) >= len(stem) + 3 and (term.startswith(stem) or term.endswith(stem))
        for stem in stems
        if len(stem) >= _SHORTEST_PART
        for term in terms
    )


def _question_terms(question: Question, rarity: Rarity) -> dict[str, dict[str, float]]:
    """The question's content stems in each review language, with their rarity."""
    naming = naming_words(question)
    words = " ".join(
        w for w in question.text.split() if w.strip(".,;:!?\"'„“”()").lower() not in naming
    )
    found: dict[str, dict[str, float]] = {}
    for language in _LANGUAGES:
        other = "en" if language == "de" else "de"
        stems = sorted(set(tokenize(words, language=language, also_stop=other)))
        found[language] = rarity.weights(stems)
    return found


def _shared(weights: Mapping[str, float], text: str, span: SentenceSpan) -> tuple[float, float]:
    """The share of the question's rarity the sentence has, word for word and in parts."""
    total = sum(weights.values())
    if not total:
        return 0.0, 0.0
    stems = terms_of(text, span.passage.language)
    exact = sum(w for stem, w in weights.items() if stem in stems)
    part = sum(
        w
        for stem, w in weights.items()
        if stem not in stems and _in_compound(frozenset((stem,)), stems)
    )
    return exact / total, part / total


def _states_asked_field(question: Question, span: SentenceSpan) -> bool:
    """Whether the sentence is a header line stating the field the question asks for."""
    return bool(question.aspect) and any(
        field.attribute == question.aspect and field.start >= span.start and field.end <= span.end
        for field in header_fields_of(span.passage.text)
    )


@lru_cache(maxsize=1024)
def header_fields_of(text: str) -> tuple[HeaderField, ...]:
    """The header lines of a passage ("Regie: Len Wiseman"), kept for the next question."""
    return tuple(find_header_fields(text))


QUESTION_FEATURES = (
    "best",
    "second",
    "best_content",
    "best_lexical",
    "best_overlap",
    "unknown_words",
    "unknown_same_language",
    "names_work",
    "cross_language",
    "best_cross",
    "best_dense",
    "best_dense_cross",
    "dense_mean",
    "lexical_mean",
)


# The sentence columns each question feature reads (besides the sentences' scores).
QUESTION_FEATURE_COLUMNS: dict[str, tuple[str, ...]] = {
    "best_content": ("content",),
    "best_lexical": ("lexical", "translated"),
    "best_overlap": ("overlap",),
    "best_dense": ("dense",),
    "best_dense_cross": ("dense",),
    "dense_mean": ("dense",),
    "lexical_mean": ("lexical",),
}


def question_features(
    rows: npt.NDArray[np.float64],
    scores: npt.NDArray[np.float64],
    *,
    unknown: float,
    names_work: bool,
    cross_language: float,
    columns: Sequence[str] = FEATURES,
    features: Sequence[str] = QUESTION_FEATURES,
) -> npt.NDArray[np.float64]:
    """One value per named question feature (of :data:`QUESTION_FEATURES`), from the rows of
    sentence ``columns``: how well the best sentences answer, how much of the question the
    corpus has no words for (:func:`unknown_share`), whether it names a work.
    ``cross_language`` is the share of the sentences in another language than the question's:
    a word of an English question is no evidence of a gap in German reviews."""
    import numpy as np

    ordered = np.sort(scores)[::-1] if len(scores) else np.zeros(1)

    def best(*names: str) -> float:
        if not len(rows):
            return 0.0
        return float(rows[:, [columns.index(name) for name in names]].sum(axis=1).max())

    def mean(name: str) -> float:
        return float(rows[:, columns.index(name)].mean()) if len(rows) else 0.0

    measured: dict[str, Callable[[], float]] = {
        "best": lambda: float(ordered[0]),
        "second": lambda: float(ordered[1]) if len(ordered) > 1 else 0.0,
        "best_content": lambda: best("content"),
        "best_lexical": lambda: best("lexical", "translated"),
        "best_overlap": lambda: best("overlap"),
        "unknown_words": lambda: unknown,
        "unknown_same_language": lambda: unknown * (1.0 - cross_language),
        "names_work": lambda: float(names_work),
        "cross_language": lambda: cross_language,
        "best_cross": lambda: float(ordered[0]) * cross_language,
        "best_dense": lambda: best("dense"),
        "best_dense_cross": lambda: best("dense") * cross_language,
        # How near the question is to the retrieved sentences as a whole: a review that
        # does not speak of what is asked is far from it everywhere, not only at its best.
        "dense_mean": lambda: mean("dense"),
        "lexical_mean": lambda: mean("lexical"),
    }
    return np.array([measured[name]() for name in features])


def unknown_share(question: Question, rarity: Rarity, lexicon: Lexicon | None) -> float:
    """The share of the question's content words that no indexed passage has, in either
    language, nor (with a dictionary) in translation: "box office" in DVD reviews."""
    naming = naming_words(question)
    words = [
        w.lower() for w in re.findall(r"[^\W\d_]{3,}", question.text) if w.lower() not in naming
    ]
    content = [w for w in words if tokenize(w, language=question.language)]
    if not content:
        return 0.0
    unknown = 0
    for word in content:
        stems = {s for language in _LANGUAGES for s in tokenize(word, language=language)}
        if lexicon:
            for language in _LANGUAGES:
                if language != question.language:
                    stems |= lexicon.translate(word, source=question.language, target=language)
        frequency = rarity.document_frequency(sorted(stems))
        unknown += not any(frequency.values())
    return unknown / len(content)


def cross_language(question: Question, spans: Sequence[SentenceSpan]) -> float:
    """The share of the sentences written in another language than the question."""
    if not spans:
        return 0.0
    return sum(s.passage.language != question.language for s in spans) / len(spans)
