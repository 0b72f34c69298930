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
from functools import lru_cache
from typing import TYPE_CHECKING

from bot.answers import Passage
from bot.engine.overlap import expected_answer, naming_words, terms_of
from bot.engine.reading import Question
from index.keyword import tokenize
from index.lexicon import Lexicon
from index.metadata import HeaderField, find_header_fields

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

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
) -> npt.NDArray[np.float64]:
    """One row of :data:`FEATURES` per span.

    ``content_vector`` embeds the question without the words that name its works (every
    passage of the work has them, and they dominate a short question's vector).
    """
    import numpy as np

    if not spans:
        return np.zeros((0, len(FEATURES)))
    vectors = np.stack([s.vector for s in spans])
    dense = vectors @ question_vector.astype(np.float32)
    terms = _question_terms(question, rarity)
    translations = _translations(question, rarity, lexicon)
    shape = expected_answer(question)
    exact: list[float] = []
    parts: list[float] = []
    translated: list[float] = []
    asked: list[float] = []
    shaped: list[float] = []
    for span in spans:
        text = span.text
        exact_share, part_share = _shared(terms.get(span.passage.language, {}), text, span)
        exact.append(exact_share)
        parts.append(part_share)
        translated.append(
            _translated_share(translations.get(span.passage.language, []), text, span)
        )
        asked.append(float(_states_asked_field(question, span)))
        shaped.append(float(bool(shape and shape.search(text))))
    lexical = np.array(exact) + 0.5 * np.array(parts) + 0.7 * np.array(translated)
    lexical_neighbour = _neighbour_max(spans, lexical)
    content = vectors @ (question_vector if content_vector is None else content_vector)
    dense_nearness = _nearness(spans, dense)
    content_nearness = _nearness(spans, content)
    # Across languages shared words cannot fire and similarities run lower, so the model
    # gets the language match and the measurements it then has to rest on apart.
    cross = np.array([float(s.passage.language != question.language) for s in spans])
    return np.column_stack(
        [
            *dense_nearness,
            *content_nearness,
            exact,
            parts,
            lexical - lexical.max(),
            lexical_neighbour,
            translated,
            [1.0 / (1 + s.rank) for s in spans],
            asked,
            shaped,
            [math.log(1 + len(s.text)) for s in spans],
            [(overlap or {}).get((s.passage.review_id, s.text), 0.0) for s in spans],
            cross,
            lexical * (1.0 - cross),
            dense_nearness[1] * cross,
            content_nearness[1] * cross,
            _previous(spans, dense.astype(np.float64)),
            _previous(spans, lexical),
            *_rare_new(question, spans, rarity, terms),
            _window(spans, vectors) @ question_vector.astype(np.float32),
        ]
    )


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
        groups = [lexicon.translate(w, source=question.language, target=language) for w in words]
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
)


def question_features(
    rows: npt.NDArray[np.float64],
    scores: npt.NDArray[np.float64],
    *,
    unknown: float,
    names_work: bool,
    cross_language: float,
) -> npt.NDArray[np.float64]:
    """One row of :data:`QUESTION_FEATURES`: how well the best sentences answer, how much of
    the question the corpus has no words for (:func:`unknown_share`), whether it names a
    work. ``cross_language`` is the share of the sentences in another language than the
    question's: a word of an English question is no evidence of a gap in German reviews."""
    import numpy as np

    ordered = np.sort(scores)[::-1] if len(scores) else np.zeros(1)
    lexical = rows[:, FEATURES.index("lexical")] + rows[:, FEATURES.index("translated")]
    dense_best = rows[:, FEATURES.index("dense")].max() if len(rows) else 0.0
    return np.array(
        [
            ordered[0],
            ordered[1] if len(ordered) > 1 else 0.0,
            rows[:, FEATURES.index("content")].max() if len(rows) else 0.0,
            lexical.max() if len(rows) else 0.0,
            rows[:, FEATURES.index("overlap")].max() if len(rows) else 0.0,
            unknown,
            unknown * (1.0 - cross_language),
            float(names_work),
            cross_language,
            ordered[0] * cross_language,
            dense_best,
            dense_best * cross_language,
        ]
    )


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
