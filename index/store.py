"""The Chroma collection that holds every chunk with its review's metadata."""

from __future__ import annotations

import gc
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

from index.errors import EmbedderMismatchError, IndexEmptyError, StoreError
from index.lease import StoreLease
from index.records import Attachment, Chunk, Rating, Review, Work

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection
    from chromadb.config import Settings as ChromaSettings

log = logging.getLogger(__name__)

DEFAULT_COLLECTION = "reviews"
EMBEDDED = "embedded"
_PAGE = 5000

Metadata = dict[str, str | int | float | bool]
_Found = TypeVar("_Found")


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as the store returns it; ``score`` is cosine similarity for query results."""

    chunk_id: str
    text: str
    metadata: Metadata
    score: float = 0.0

    @property
    def review_id(self) -> str:
        return str(self.metadata["review_id"])


def _server_address(chroma_url: str) -> tuple[str, int]:
    url = urlparse(chroma_url)
    if not url.hostname:
        raise StoreError(f"REVIEWBOT_CHROMA_URL is not a URL: {chroma_url!r}")
    return url.hostname, url.port or (443 if url.scheme == "https" else 8000)


def store_location(chroma_url: str | None) -> str:
    """The store's name beside its snapshots: "embedded" (the one in the data dir), or the
    server's host:port. A bot trusts the generation named there only for its own store."""
    if not chroma_url:
        return EMBEDDED
    host, port = _server_address(chroma_url)
    return f"{host}:{port}"


def connect(*, data_dir: Path, chroma_url: str | None = None) -> ClientAPI:
    """An embedded Chroma in ``data_dir/chroma``, or a Chroma server at ``chroma_url``."""
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    try:
        if chroma_url:
            host, port = _server_address(chroma_url)
            return chromadb.HttpClient(
                host=host, port=port, ssl=urlparse(chroma_url).scheme == "https", settings=settings
            )
        data_dir.mkdir(parents=True, exist_ok=True)
        settings.persist_directory = str(data_dir / "chroma")
        settings.is_persistent = True
        return open_embedded(settings)
    except StoreError:
        raise
    except Exception as error:  # chromadb raises bare exceptions for unreachable servers
        where = chroma_url or str(data_dir)
        raise StoreError(f"cannot open the Chroma store at {where}: {error}") from error


def open_embedded(settings: ChromaSettings) -> ClientAPI:
    """A client on an embedded store with a system of its own, reading the files as they are now.

    ``chromadb.PersistentClient`` shares one system per path within a process, and that
    system keeps each HNSW index in memory once loaded: it never sees vectors another
    process added or deleted later. A system of its own can be thrown away and opened
    again (see :meth:`ReviewStore.reopen`). It also becomes the one later
    ``PersistentClient`` calls for this path get, so they start current too.
    """
    from chromadb.api import ServerAPI
    from chromadb.api.client import Client
    from chromadb.config import System
    from chromadb.telemetry.product import ProductTelemetryClient

    system = System(settings)
    system.instance(ProductTelemetryClient)  # type: ignore[type-abstract]
    system.instance(ServerAPI)  # type: ignore[type-abstract]
    system.start()
    return Client.from_system(system)


def new_generation() -> str:
    """A fresh generation id for an index run."""
    return uuid.uuid4().hex


def _is_embedded(client: ClientAPI) -> bool:
    return bool(client.get_settings().is_persistent)


def _location(client: ClientAPI) -> str:
    """:func:`store_location` of the store ``client`` is connected to."""
    settings = client.get_settings()
    if settings.is_persistent:
        return EMBEDDED
    return f"{settings.chroma_server_host}:{settings.chroma_server_http_port}"


class ReviewStore:
    """Chunks with their review metadata in one Chroma collection, tied to one embedder.

    On an embedded store, the client is reopened when the collection's generation shows
    that another process (or another client in this one) re-indexed: Chroma's in-memory
    HNSW index would otherwise keep answering with the vectors of the old generation.
    """

    def __init__(self, client: ClientAPI, *, collection: str, embedder_name: str) -> None:
        self._client = client
        self._name = collection
        self._embedder_name = embedder_name
        self._collection: Collection | None = None
        self._embedded = _is_embedded(client)
        # The generation this client's vector index holds; None until it is first read.
        self._client_generation: str | None = None
        self._client_read = False
        self._reopen_lock = threading.Lock()
        self._missing_logged = False

    @property
    def name(self) -> str:
        return self._name

    @property
    def location(self) -> str:
        """Which store this is, as :func:`store_location` names it."""
        return _location(self._client)

    @property
    def embedder_name(self) -> str:
        return self._embedder_name

    @property
    def client(self) -> ClientAPI:
        """The Chroma client the store uses now (it changes when the store reopens)."""
        return self._client

    def reopen(self) -> None:
        """Open the embedded store afresh, so vectors written by other processes are seen.

        A no-op for a Chroma server, which holds one index for every client.
        """
        if not self._embedded:
            return
        with self._reopen_lock:
            self._client = open_embedded(self._client.get_settings())
            self._collection = None
            self._client_read = False
            # The old client's components refer to each other: only the cycle collector
            # frees its vector index (230 MiB at 100k chunks), and until it runs, the next
            # search would load a second one beside it.
            gc.collect()
            log.info(
                "reopened the embedded store %s", self._client.get_settings().persist_directory
            )

    # -- the collection ----------------------------------------------------------------

    def _existing(self) -> Collection | None:
        if self._collection is None:
            from chromadb.errors import NotFoundError

            try:
                collection = self._client.get_collection(self._name, embedding_function=None)
            except (NotFoundError, ValueError):
                return None
            self._check_embedder(collection)
            if not self._client_read:
                # Vectors load lazily, after this read: they hold at least this generation.
                self._client_generation = (collection.metadata or {}).get("generation")
                self._client_read = True
            self._collection = collection
        return self._collection

    def _check_embedder(self, collection: Collection) -> None:
        built_with = (collection.metadata or {}).get("embedder")
        if built_with and built_with != self._embedder_name:
            raise EmbedderMismatchError(
                f"the index was built with the embedder {built_with!r}, but "
                f"{self._embedder_name!r} is configured; run `reviewbot index --rebuild` "
                "to re-embed everything, or set REVIEWBOT_EMBEDDER back"
            )

    def _writable(self) -> Collection:
        collection = self._existing()
        if collection is None:
            collection = self._client.get_or_create_collection(
                self._name,
                embedding_function=None,
                metadata={"embedder": self._embedder_name},
                configuration={"hnsw": {"space": "cosine"}},
            )
            self._collection = collection
        return collection

    def _readable(self) -> Collection:
        collection = self._existing()
        if collection is None:
            raise IndexEmptyError("nothing is indexed yet: run `reviewbot index` first")
        return collection

    def exists(self) -> bool:
        return self._existing() is not None

    @property
    def embedded(self) -> bool:
        """Whether the store is files in this process's reach (not a Chroma server)."""
        return self._embedded

    def lease(self) -> StoreLease:
        """The lease an index run holds on this store (see index.lease)."""
        return StoreLease(lambda: self._client, collection=self._name)

    def being_indexed(self) -> bool:
        """Whether an index run, in any process, holds the store's lease now."""
        return self.lease().active()

    def drop(self) -> None:
        """Delete the whole collection and its sentences, whichever embedder built them."""
        from index.sentence_store import sentence_collection_name

        names = {self._name, sentence_collection_name(self._name)}
        for collection in self._client.list_collections():
            if collection.name in names:
                self._client.delete_collection(collection.name)
        self._collection = None

    @property
    def state(self) -> dict[str, Any]:
        """The collection's own metadata: embedder, generation, last index time and counts."""
        collection = self._existing()
        return dict(collection.metadata or {}) if collection else {}

    def fresh_state(self) -> dict[str, Any]:
        """The collection's metadata as it is now, even if another process changed it.

        On an embedded store whose generation changed since its client read it, the
        client is reopened first, so that searches from now on see the new vectors.
        """
        self._collection = None
        state = self.state
        stale = self._client_read and state.get("generation") != self._client_generation
        if self._embedded and stale:
            self.reopen()
            state = self.state
        return state

    def mark_indexed(
        self, summary: Mapping[str, str | int | float], *, generation: str | None = None
    ) -> str:
        """Record that an index run finished; returns the new generation id (``generation``
        when the run chose it before, to write the generation's snapshot first)."""
        collection = self._writable()
        generation = generation or new_generation()
        metadata: dict[str, Any] = {
            "embedder": self._embedder_name,
            "generation": generation,
            "indexed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        metadata.update({f"last_{k}": v for k, v in summary.items()})
        collection.modify(metadata=metadata)
        # This client wrote the run itself: its vectors are the new generation's.
        self._client_generation = generation
        return generation

    # -- writing ---------------------------------------------------------------------

    def upsert(
        self,
        chunks: Sequence[Chunk],
        embeddings: Sequence[Sequence[float]],
        metadatas: Sequence[Metadata],
    ) -> None:
        if chunks:
            self._writable().upsert(
                ids=[c.chunk_id for c in chunks],
                embeddings=[list(e) for e in embeddings],  # type: ignore[arg-type]
                documents=[c.text for c in chunks],
                metadatas=list(metadatas),
            )

    def update_metadatas(self, ids: Sequence[str], metadatas: Sequence[Metadata]) -> None:
        if not ids:
            return
        collection = self._writable()
        # Chroma refuses batches above its maximum (5,461 on an embedded store).
        for start in range(0, len(ids), _PAGE):
            collection.update(
                ids=list(ids[start : start + _PAGE]),
                metadatas=list(metadatas[start : start + _PAGE]),
            )

    def delete(self, ids: Sequence[str]) -> None:
        collection = self._existing()
        if ids and collection is not None:
            for start in range(0, len(ids), _PAGE):
                collection.delete(ids=list(ids[start : start + _PAGE]))

    # -- reading ---------------------------------------------------------------------

    def count(self) -> int:
        collection = self._existing()
        return collection.count() if collection else 0

    def metadatas(self) -> dict[str, Metadata]:
        """Every chunk id with its metadata."""
        return {c.chunk_id: c.metadata for c in self._scan(with_documents=False)}

    def chunks(self) -> list[StoredChunk]:
        """Every chunk with its text and metadata."""
        return list(self._scan(with_documents=True))

    def iter_chunks(self) -> Iterator[StoredChunk]:
        """Every chunk with its text and metadata, read a page at a time."""
        return self._scan(with_documents=True)

    def get_chunks(self, ids: Iterable[str]) -> list[StoredChunk]:
        """The chunks stored under ``ids`` (ids not stored are left out), in no set order."""
        collection = self._existing()
        wanted = list(dict.fromkeys(ids))
        if collection is None or not wanted:
            return []
        found = []
        for start in range(0, len(wanted), _PAGE):
            page = collection.get(
                ids=wanted[start : start + _PAGE], include=["metadatas", "documents"]
            )
            documents = page.get("documents") or [""] * len(page["ids"])
            for chunk_id, document, metadata in zip(
                page["ids"], documents, page["metadatas"] or [], strict=True
            ):
                found.append(StoredChunk(chunk_id, document or "", dict(metadata)))  # type: ignore[arg-type]
        return found

    def _scan(self, *, with_documents: bool) -> Iterator[StoredChunk]:
        collection = self._existing()
        if collection is None:
            return
        include: Any = ["metadatas", "documents"] if with_documents else ["metadatas"]
        offset = 0
        while True:
            page = collection.get(include=include, limit=_PAGE, offset=offset)
            documents = page.get("documents") or [""] * len(page["ids"])
            for chunk_id, document, metadata in zip(
                page["ids"], documents, page["metadatas"] or [], strict=True
            ):
                yield StoredChunk(chunk_id, document or "", dict(metadata))  # type: ignore[arg-type]
            if len(page["ids"]) < _PAGE:
                return
            offset += _PAGE

    def vector_pages(self) -> Iterator[VectorPage]:
        """Every chunk id with its metadata and vector, a page at a time."""
        collection = self._existing()
        if collection is not None:
            yield from vector_pages(collection)

    def reviews(self) -> list[Review]:
        """One Review (metadata only, no text) per indexed review, sorted by id."""
        return reviews_from_metadatas(self.metadatas().values())

    def query(
        self, vector: Sequence[float], *, k: int, where: Mapping[str, Any] | None = None
    ) -> list[StoredChunk]:
        """The ``k`` chunks nearest to ``vector``; hits on chunks no longer stored are left out.

        On an embedded store that another process is re-indexing right now, a search
        can find none at all (Chroma's vectors of this process fall behind its files).
        """
        return self._searching(lambda: self._query(vector, k=k, where=where))

    def _searching(self, search: Callable[[], list[_Found]]) -> list[_Found]:
        """``search``, retried once on a reopened embedded store when it fails."""
        from chromadb.errors import ChromaError

        try:
            return search()
        except ChromaError as error:
            if not self._embedded:
                raise StoreError(f"the Chroma server failed a search: {error}") from error
            # Vectors loaded before another process deleted their chunks can fail a
            # search outright ("Error finding id"); the files as they are now do not.
            log.info("search failed on the loaded vectors (%s); reopening the store", error)
            self.reopen()
            try:
                return search()
            except ChromaError as again:
                # Another process is still deleting: this one question goes without
                # vector hits (keyword search still answers); the next one reopens again.
                log.warning("vector search skipped while the store is being re-indexed: %s", again)
                return []

    def _query(
        self, vector: Sequence[float], *, k: int, where: Mapping[str, Any] | None
    ) -> list[StoredChunk]:
        collection = self._readable()
        result = collection.query(
            query_embeddings=[list(vector)],  # type: ignore[arg-type]
            n_results=k,
            where=dict(where) if where else None,
            include=["metadatas", "documents", "distances"],
        )
        ids = result["ids"][0]
        documents = (result["documents"] or [[]])[0]
        metadatas = (result["metadatas"] or [[]])[0]
        distances = (result["distances"] or [[]])[0]
        found = []
        for chunk_id, document, metadata, distance in zip(
            ids, documents, metadatas, distances, strict=True
        ):
            if metadata is None or document is None:
                # A vector whose chunk was deleted after this client loaded its index.
                self._log_missing(chunk_id)
                continue
            stored = StoredChunk(chunk_id, document, dict(metadata), 1.0 - float(distance))  # type: ignore[arg-type]
            found.append(stored)
        return found

    def nearest(self, vector: Sequence[float], *, k: int) -> list[tuple[str, float]]:
        """The ids of the ``k`` chunks nearest to ``vector`` with their cosine similarity
        (ids only: the caller reads the chunks from a snapshot)."""
        return self._searching(lambda: self._nearest(vector, k=k))

    def _nearest(self, vector: Sequence[float], *, k: int) -> list[tuple[str, float]]:
        result = self._readable().query(
            query_embeddings=[list(vector)],  # type: ignore[arg-type]
            n_results=k,
            include=["distances"],
        )
        distances = (result["distances"] or [[]])[0]
        return [(i, 1.0 - float(d)) for i, d in zip(result["ids"][0], distances, strict=True)]

    def similarity(
        self, vector: Sequence[float], chunk_ids: Sequence[str]
    ) -> list[tuple[str, float]]:
        """These chunks' cosine similarity to ``vector``, best first, computed from their
        stored vectors: exact, and far cheaper than a filtered search over a large store."""
        if not chunk_ids:
            return []
        return self._searching(lambda: self._similarity(vector, chunk_ids))

    def _similarity(
        self, vector: Sequence[float], chunk_ids: Sequence[str]
    ) -> list[tuple[str, float]]:
        import numpy as np

        found = self._readable().get(ids=list(chunk_ids), include=["embeddings"])
        vectors = found.get("embeddings")
        if vectors is None or not len(found["ids"]):
            return []
        return rank_by_similarity(found["ids"], np.asarray(vectors, dtype=np.float32), vector)

    def vectors_of(self, ids: Iterable[str]) -> Iterator[tuple[list[str], npt.NDArray[np.float32]]]:
        """The stored vectors of ``ids`` (ids not stored are left out), a page at a time."""
        import numpy as np

        collection = self._existing()
        wanted = list(dict.fromkeys(ids))
        if collection is None:
            return
        for start in range(0, len(wanted), _PAGE):
            page = collection.get(ids=wanted[start : start + _PAGE], include=["embeddings"])
            vectors = page.get("embeddings")
            if page["ids"] and vectors is not None:
                yield list(page["ids"]), np.asarray(vectors, dtype=np.float32)

    def iter_vectors(self) -> Iterator[tuple[list[str], npt.NDArray[np.float32]]]:
        """Every chunk id with its stored vector, a page at a time."""
        import numpy as np

        collection = self._existing()
        if collection is None:
            return
        offset = 0
        while True:
            page = collection.get(include=["embeddings"], limit=_PAGE, offset=offset)
            vectors = page.get("embeddings")
            if page["ids"] and vectors is not None:
                yield list(page["ids"]), np.asarray(vectors, dtype=np.float32)
            if len(page["ids"]) < _PAGE:
                return
            offset += _PAGE

    def _log_missing(self, chunk_id: str) -> None:
        if not self._missing_logged:
            self._missing_logged = True
            log.warning(
                "the vector search found chunk %s, which is no longer stored; such hits "
                "are skipped until the store is reopened",
                chunk_id,
            )


def rank_by_similarity(
    ids: Sequence[str], matrix: npt.NDArray[np.float32], vector: Sequence[float]
) -> list[tuple[str, float]]:
    """``ids`` with the cosine similarity of their rows of ``matrix`` to ``vector``, best
    first (ties keep the order of ``ids``)."""
    import numpy as np

    norms = np.linalg.norm(matrix, axis=1) * float(np.linalg.norm(vector)) + 1e-12
    scores = matrix @ np.asarray(vector, dtype=np.float32) / norms
    order = np.argsort(-scores, kind="stable")
    return [(str(ids[i]), float(scores[i])) for i in order]


@dataclass(frozen=True)
class VectorPage:
    """Records of a collection with their metadata, vectors and texts (one row each)."""

    ids: list[str]
    metadatas: list[Metadata]
    vectors: Sequence[Sequence[float]]
    texts: list[str]


def vector_pages(collection: Collection) -> Iterator[VectorPage]:
    """Every record of ``collection`` with its metadata, vector and text, a page at a time."""
    offset = 0
    while True:
        page = collection.get(
            include=["metadatas", "embeddings", "documents"], limit=_PAGE, offset=offset
        )
        embeddings = page.get("embeddings")
        if page["ids"] and embeddings is not None:
            metadatas = [dict(m or {}) for m in page["metadatas"] or []]
            texts = [text or "" for text in page.get("documents") or [""] * len(page["ids"])]
            yield VectorPage(list(page["ids"]), metadatas, embeddings, texts)  # type: ignore[arg-type]
        if len(page["ids"]) < _PAGE:
            return
        offset += _PAGE


def chunk_metadata(
    review: Review, chunk: Chunk, *, chunk_count: int, polarity: float | None = None
) -> Metadata:
    """The flat metadata stored with each chunk: where it stands and its review's facts.

    ``chunk_count`` (chunks of the whole review) tells a later run whether every chunk
    of a review made it into the store. ``polarity`` is the chunk's own, from its vector;
    ``review_polarity`` (the review's, from all its chunks) is the same on each chunk.
    """
    work = review.work
    values: dict[str, str | int | float | bool | None] = {
        "review_id": review.review_id,
        "source_path": review.source_path,
        "record_key": review.record_key,
        "format": review.format,
        "content_hash": review.content_hash,
        "chunk_index": chunk.index,
        "chunk_count": chunk_count,
        "start": chunk.start,
        "end": chunk.end,
        "language": review.language,
        "title": review.title,
        "original_title": review.original_title,
        "year": review.year,
        "director": review.director,
        "cast": "; ".join(review.cast) or None,
        "genre": review.genre,
        "age_rating": review.age_rating,
        "rating_raw": review.rating.raw if review.rating else None,
        "rating_normalized": review.rating.normalized if review.rating else None,
        "rating_scale": review.rating.scale if review.rating else None,
        "source": review.source,
        "author": review.author,
        "date": review.date,
        "url": review.url,
        "has_header": review.has_header,
        "work_id": work.work_id if work else None,
        "work_title": work.title if work else None,
        "work_year": work.year if work else None,
        "work_director": work.director if work else None,
        "work_original_title": work.original_title if work else None,
        "polarity": polarity,
        "review_polarity": review.polarity,
    }
    if review.attached_by:
        values["attached_confidence"] = review.attached_by.confidence
        values["attached_evidence"] = json.dumps(review.attached_by.evidence, ensure_ascii=False)
    return {k: v for k, v in values.items() if v is not None}


def reviews_from_metadatas(metadatas: Iterable[Mapping[str, Any]]) -> list[Review]:
    """One Review per review id among chunk metadatas (from its first chunk), sorted by id."""
    first_chunks: dict[str, Mapping[str, Any]] = {}
    for metadata in metadatas:
        review_id = str(metadata["review_id"])
        known = first_chunks.get(review_id)
        if known is None or int(metadata["chunk_index"]) < int(known["chunk_index"]):
            first_chunks[review_id] = metadata
    return [review_from_metadata(first_chunks[k]) for k in sorted(first_chunks)]


def review_from_metadata(metadata: Mapping[str, Any]) -> Review:
    """Rebuild a Review's metadata (not its text) from a chunk's stored metadata."""
    rating = None
    if "rating_normalized" in metadata:
        rating = Rating(
            raw=str(metadata["rating_raw"]),
            normalized=float(metadata["rating_normalized"]),
            scale=int(metadata["rating_scale"]),
        )
    work = None
    if "work_id" in metadata:
        work = Work(
            work_id=str(metadata["work_id"]),
            title=str(metadata["work_title"]),
            year=metadata.get("work_year"),
            director=metadata.get("work_director"),
            original_title=metadata.get("work_original_title"),
        )
    attached = None
    if "attached_evidence" in metadata:
        attached = Attachment(
            confidence=float(metadata["attached_confidence"]),
            evidence=list(json.loads(str(metadata["attached_evidence"]))),
        )
    cast = str(metadata.get("cast", ""))
    return Review(
        review_id=str(metadata["review_id"]),
        source_path=str(metadata["source_path"]),
        record_key=metadata.get("record_key"),
        format=str(metadata.get("format", "txt")),
        text="",
        content_hash=str(metadata["content_hash"]),
        title=metadata.get("title"),
        original_title=metadata.get("original_title"),
        year=metadata.get("year"),
        director=metadata.get("director"),
        cast=[c for c in cast.split("; ") if c],
        genre=metadata.get("genre"),
        age_rating=metadata.get("age_rating"),
        rating=rating,
        source=metadata.get("source"),
        author=metadata.get("author"),
        date=metadata.get("date"),
        url=metadata.get("url"),
        language=str(metadata.get("language", "unknown")),
        has_header=bool(metadata.get("has_header", False)),
        work=work,
        attached_by=attached,
        polarity=float(metadata["review_polarity"]) if "review_polarity" in metadata else None,
    )
