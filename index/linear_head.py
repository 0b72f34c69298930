"""Reading a linear head fitted on the embedder's vectors, and the unit vectors it applies to."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from index.errors import ConfigurationError

Matrix = npt.NDArray[np.float64]


def read_linear_head(path: Path, *, name: str, script: str) -> tuple[dict[str, Any], Matrix]:
    """A linear head on the embedder's vectors as its fitting script wrote it: the stored
    fields (``embedder``, ``bias`` and ``threshold`` as floats) and the weight vector.

    Raises ConfigurationError, naming ``name`` and ``script``, when it is unreadable or damaged.
    """
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        weights = np.asarray(stored["weights"], dtype=np.float64)
        stored["embedder"] = str(stored["embedder"])
        stored["bias"] = float(stored["bias"])
        stored["threshold"] = float(stored["threshold"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigurationError(
            f"{name} {path} cannot be read ({error}); reinstall reviewbot or run {script}"
        ) from None
    if weights.ndim != 1 or not np.isfinite(weights).all():
        raise ConfigurationError(f"{name} {path} is damaged")
    return stored, weights


def unit(rows: Sequence[Sequence[float]] | Matrix) -> Matrix:
    """``rows`` as a matrix of unit vectors (zero rows stay zero)."""
    matrix = np.asarray(rows, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.asarray(matrix / np.where(norms == 0, 1.0, norms), dtype=np.float64)
