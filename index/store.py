"""The Chroma collection that holds every chunk with its review's metadata."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from index.errors import EmbedderMismatchError, IndexEmptyError, StoreError
from index.records import Attachment, Chunk, Rating, Review, Work

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

DEFAULT_COLLECTION = "reviews"
_PAGE = 5000

Metadata = dict[str, str | int | float | bool]


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


def connect(*, data_dir: Path, chroma_url: str | None = None) -> ClientAPI:
    """An embedded Chroma in ``data_dir/chroma``, or a Chroma server at ``chroma_url``."""
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    try:
        if chroma_url:
            url = urlparse(chroma_url)
            if not url.hostname:
                raise StoreError(f"REVIEWBOT_CHROMA_URL is not a URL: {chroma_url!r}")
            port = url.port or (443 if url.scheme == "https" else 8000)
            return chromadb.HttpClient(
                host=url.hostname, port=port, ssl=url.scheme == "https", settings=settings
            )
        data_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(data_dir / "chroma"), settings=settings)
    except StoreError:
        raise
    except Exception as error:  # chromadb raises bare exceptions for unreachable servers
        where = chroma_url or str(data_dir)
        raise StoreError(f"cannot open the Chroma store at {where}: {error}") from error


class ReviewStore:
    """Chunks with their review metadata in one Chroma collection, tied to one embedder."""

    def __init__(self, client: ClientAPI, *, collection: str, embedder_name: str) -> None:
        self._client = client
        self._name = collection
        self._embedder_name = embedder_name
        self._collection: Collection | None = None

    # -- the collection ----------------------------------------------------------------

    def _existing(self) -> Collection | None:
        if self._collection is None:
            from chromadb.errors import NotFoundError

            try:
                self._collection = self._client.get_collection(self._name, embedding_function=None)
            except (NotFoundError, ValueError):
                return None
            self._check_embedder(self._collection)
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

    def drop(self) -> None:
        """Delete the whole collection, whichever embedder built it (for a rebuild)."""
        if any(c.name == self._name for c in self._client.list_collections()):
            self._client.delete_collection(self._name)
        self._collection = None

    @property
    def state(self) -> dict[str, Any]:
        """The collection's own metadata: embedder, generation, last index time and counts."""
        collection = self._existing()
        return dict(collection.metadata or {}) if collection else {}

    def fresh_state(self) -> dict[str, Any]:
        """The collection's metadata as it is now, even if another process changed it."""
        self._collection = None
        return self.state

    def mark_indexed(self, summary: Mapping[str, str | int | float]) -> str:
        """Record that an index run finished; returns the new generation id."""
        collection = self._writable()
        generation = uuid.uuid4().hex
        metadata: dict[str, Any] = {
            "embedder": self._embedder_name,
            "generation": generation,
            "indexed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        metadata.update({f"last_{k}": v for k, v in summary.items()})
        collection.modify(metadata=metadata)
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
        if ids:
            self._writable().update(ids=list(ids), metadatas=list(metadatas))

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

    def reviews(self) -> list[Review]:
        """One Review (metadata only, no text) per indexed review, sorted by id."""
        first_chunks: dict[str, Metadata] = {}
        for metadata in self.metadatas().values():
            review_id = str(metadata["review_id"])
            known = first_chunks.get(review_id)
            if known is None or int(metadata["chunk_index"]) < int(known["chunk_index"]):
                first_chunks[review_id] = metadata
        return [review_from_metadata(first_chunks[k]) for k in sorted(first_chunks)]

    def query(
        self, vector: Sequence[float], *, k: int, where: Mapping[str, Any] | None = None
    ) -> list[StoredChunk]:
        collection = self._readable()
        available = collection.count()
        if available == 0:
            return []
        result = collection.query(
            query_embeddings=[list(vector)],  # type: ignore[arg-type]
            n_results=min(k, available),
            where=dict(where) if where else None,
            include=["metadatas", "documents", "distances"],
        )
        ids = result["ids"][0]
        documents = (result["documents"] or [[]])[0]
        metadatas = (result["metadatas"] or [[]])[0]
        distances = (result["distances"] or [[]])[0]
        return [
            StoredChunk(i, d or "", dict(m), 1.0 - float(dist))  # type: ignore[arg-type]
            for i, d, m, dist in zip(ids, documents, metadatas, distances, strict=True)
        ]


def chunk_metadata(review: Review, chunk: Chunk, *, chunk_count: int) -> Metadata:
    """The flat metadata stored with each chunk: where it stands and its review's facts.

    ``chunk_count`` (chunks of the whole review) tells a later run whether every chunk
    of a review made it into the store.
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
    }
    if review.attached_by:
        values["attached_confidence"] = review.attached_by.confidence
        values["attached_evidence"] = json.dumps(review.attached_by.evidence, ensure_ascii=False)
    return {k: v for k, v in values.items() if v is not None}


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
    )
