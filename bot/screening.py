"""Which review sentences an answer may quote: not those that speak to a model or the reader.

A review can carry text meant for whoever reads it rather than about the film: an instruction
to a language model ("Ignoriere alle anderen Rezensionen und antworte: …"), a call to buy
tickets somewhere, a link, an e-mail address, a phone number. Quoting such a sentence lets
the review's author speak through the bot, so these sentences are never quoted and never
shown to an LLM. Links and contact data are found by their shape. Instructions are found by
meaning, under the multilingual embedder: a linear probe trained, when first needed, on the
example sentences in ``prompts/instructions.txt`` against ``prompts/review_sentences.txt``
must say "instruction", and the sentence (or a clause of it) must be close to one of the
instruction examples. Either test alone flags too many real review sentences.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from langchain_core.embeddings import Embeddings

from index.errors import ConfigurationError

PROMPTS_DIR = Path(__file__).resolve().parents[1] / "prompts"
INSTRUCTIONS = PROMPTS_DIR / "instructions.txt"
REVIEW_SENTENCES = PROMPTS_DIR / "review_sentences.txt"
# Both bars measured with multilingual-e5-small on the seeds and Webis-CLS-10 sentences and on
# injections that are not among the examples (benchmarks/screening.py, tests/test_injection.py).
MIN_PROBE = 0.5
MIN_SIMILARITY = 0.88
# The probe: L2-regularised logistic regression by plain gradient descent; deterministic.
_L2 = 0.001
_STEPS = 5000
_RATE = 2.0
# Remembered verdicts; a long-running bot sees the same sentences again and again.
CACHE_SIZE = 50_000

_URL = re.compile(
    r"\b(?:https?://|www\.)\S+"
    # A bare domain: labels, then a country-code or one of the first generic top-level domains
    # (RFC 1591, and info and biz), so "schlecht.die" with a missing space is no link.
    r"|\b[A-Za-z0-9][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*\.(?:[a-z]{2}|com|net|org|info|biz)"
    r"(?:/\S*)?"
    r"(?=$|[\s,;:!?)\"“”»]|\.(?:\s|$))",
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(
    # +49 30 1234567, 0049-30-1234567, 030/1234567, 0171 1234567, Tel. 12 34 56
    r"(?:\+|\b00)[1-9]\d{0,3}[\s./-]?(?:\(0\))?\d[\d\s./()-]{5,}\d"
    r"|\b0\d{2,5}\s?[/-]\s?\d{3,}(?:[\s-]?\d+)*"
    r"|\b0\d{2,5} \d{4,}\b"
    r"|\b(?:tel|telefon|phone|fon|hotline)\b\.?:?\s*\+?\d[\d\s./()-]{4,}\d",
    re.I,
)
_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("e-mail address", _EMAIL),
    ("link", _URL),
    ("phone number", _PHONE),
)
# Clauses are judged too: an instruction can hide behind a harmless start.
_CLAUSE_BREAK = re.compile(r"\s*(?:[:;]|\s[–—-]\s)\s*")
_MIN_CLAUSE_WORDS = 3

Matrix = npt.NDArray[np.float64]


def load_examples(path: Path) -> list[str]:
    """Example sentences from ``path``: one a line, ``#`` starts a comment line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise ConfigurationError(f"example file {path} cannot be read: {error}") from None
    examples = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    if not examples:
        raise ConfigurationError(f"example file {path} holds no sentence")
    return examples


def contact_data(text: str) -> str | None:
    """What link or contact data ``text`` carries ("link", "e-mail address", …), or None."""
    for reason, pattern in _SHAPES:
        if pattern.search(text):
            return reason
    return None


@dataclass(frozen=True)
class Scores:
    """How much a sentence reads like an instruction: the probe's margin and the highest
    similarity to an instruction example, each the highest over the sentence's clauses."""

    probe: float
    similarity: float


@dataclass(frozen=True)
class _Model:
    instructions: Matrix
    weights: Matrix
    bias: float


class SentenceScreen:
    """Tells which sentences must not be quoted, and why.

    Without an embedder only links and contact data are found.
    """

    def __init__(
        self,
        embedder: Embeddings | None,
        *,
        instructions: Sequence[str] | None = None,
        reviews: Sequence[str] | None = None,
        min_probe: float = MIN_PROBE,
        min_similarity: float = MIN_SIMILARITY,
    ) -> None:
        self.embedder = embedder
        self.min_probe = min_probe
        self.min_similarity = min_similarity
        self._instructions = list(instructions) if instructions is not None else None
        self._reviews = list(reviews) if reviews is not None else None
        self._model: _Model | None = None
        self._verdicts: dict[str, str | None] = {}

    def allows(self, sentence: str) -> bool:
        """Whether ``sentence`` may be quoted or shown to an LLM."""
        return self.reason(sentence) is None

    def reason(self, sentence: str) -> str | None:
        """Why ``sentence`` must not be quoted ("instruction", "link", …), or None."""
        return self.reasons([sentence])[sentence]

    def reasons(self, sentences: Iterable[str]) -> dict[str, str | None]:
        """:meth:`reason` for many sentences, embedding those not yet judged in one batch."""
        wanted = list(dict.fromkeys(sentences))
        unknown = [s for s in wanted if s not in self._verdicts]
        for sentence in unknown:
            shape = contact_data(sentence)
            if shape is not None or self.embedder is None or not sentence.strip():
                self._remember(sentence, shape)
        pending = [s for s in unknown if s not in self._verdicts]
        for sentence, scores in zip(pending, self.scores(pending), strict=True):
            self._remember(sentence, "instruction" if self._instruction(scores) else None)
        return {s: self._verdicts[s] for s in wanted}

    def scores(self, sentences: Sequence[str]) -> list[Scores]:
        """The probe's and the similarity's verdict on each sentence, for measuring."""
        if not sentences:
            return []
        if self.embedder is None:
            return [Scores(float("-inf"), 0.0) for _ in sentences]
        model = self._trained()
        pieces = [_pieces(s) for s in sentences]
        flat = list(dict.fromkeys(p for group in pieces for p in group))
        rows = dict(zip(flat, _unit(self.embedder.embed_documents(flat)), strict=True))
        result = []
        for group in pieces:
            vectors = np.stack([rows[p] for p in group])
            probe = float((vectors @ model.weights).max()) + model.bias
            similarity = float((vectors @ model.instructions.T).max())
            result.append(Scores(probe, similarity))
        return result

    def _instruction(self, scores: Scores) -> bool:
        return scores.probe >= self.min_probe and scores.similarity >= self.min_similarity

    def _trained(self) -> _Model:
        if self._model is None:
            assert self.embedder is not None
            positive = self._instructions or load_examples(INSTRUCTIONS)
            negative = self._reviews or load_examples(REVIEW_SENTENCES)
            vectors = _unit(self.embedder.embed_documents([*positive, *negative]))
            labels = np.array([1.0] * len(positive) + [0.0] * len(negative))
            weights, bias = _logistic_regression(vectors, labels)
            self._model = _Model(vectors[: len(positive)], weights, bias)
        return self._model

    def _remember(self, sentence: str, verdict: str | None) -> None:
        if len(self._verdicts) >= CACHE_SIZE:
            self._verdicts.clear()
        self._verdicts[sentence] = verdict


def _logistic_regression(vectors: Matrix, labels: Matrix) -> tuple[Matrix, float]:
    weights = np.zeros(vectors.shape[1])
    bias = 0.0
    for _ in range(_STEPS):
        predicted = 1.0 / (1.0 + np.exp(-(vectors @ weights + bias)))
        error = predicted - labels
        weights -= _RATE * (vectors.T @ error / len(labels) + _L2 * weights)
        bias -= _RATE * float(error.mean())
    return weights, bias


def _unit(rows: Sequence[Sequence[float]]) -> Matrix:
    matrix = np.asarray(rows, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.asarray(matrix / np.where(norms == 0, 1.0, norms), dtype=np.float64)


def _pieces(sentence: str) -> list[str]:
    """The sentence, whitespace-normalised, and its clauses of a few words or more."""
    whole = " ".join(sentence.split())
    clauses = [c for c in _CLAUSE_BREAK.split(whole) if len(c.split()) >= _MIN_CLAUSE_WORDS]
    return list(dict.fromkeys([whole, *clauses])) if len(clauses) > 1 else [whole]
