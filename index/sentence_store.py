"""The vector of every sentence of every stored chunk, in a collection beside the chunks'.

The answerer ranks sentences by how near they are to the question; embedding them once,
when their chunk is indexed, keeps that work out of every question. A chunk's sentences
are written before the chunk and deleted after it, so a stored chunk has its sentences
even when a run is killed in between.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from index.store import Metadata, ReviewStore, VectorPage, vector_pages

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

log = logging.getLogger(__name__)

# Chunk ids per request: Chroma's `$in` filters and deletes stay well below its limits.
_BATCH = 500


@dataclass(frozen=True)
class StoredSentence:
    """One sentence of a stored chunk: its place in the chunk's text, its vector, and the
    probability that it is positive (None when stored before polarities were, or under an
    embedder without a polarity head)."""

    chunk_id: str
    start: int
    end: int
    vector: npt.NDArray[np.float32]
    polarity: float | None = None


def sentence_collection_name(collection: str) -> str:
    return f"{collection}-sentences"


def sentence_id(chunk_id: str, start: int) -> str:
    return f"{chunk_id}#{start}"


class SentenceStore:
    """Sentence vectors of the chunks of one :class:`ReviewStore`."""

    def __init__(self, store: ReviewStore) -> None:
        self._store = store
        self._name = sentence_collection_name(store.name)
        self._client: ClientAPI | None = None
        self._collection: Collection | None = None
        # Chroma's embedded bindings crashed the process when several threads read the
        # sentences while the store was reopened under them: reads go one at a time.
        self._lock = threading.Lock()

    def _open(self) -> Collection:
        client = self._store.client  # changes when the store reopens
        if self._collection is None or client is not self._client:
            self._collection = client.get_or_create_collection(
                self._name,
                embedding_function=None,
                metadata={"embedder": self._store.embedder_name},
                configuration={"hnsw": {"space": "cosine"}},
            )
            self._client = client
        return self._collection

    def _readable(self) -> Collection | None:
        """The collection if it exists (a reader never creates it)."""
        from chromadb.errors import NotFoundError

        client = self._store.client
        if self._collection is None or client is not self._client:
            try:
                self._collection = client.get_collection(self._name, embedding_function=None)
            except (NotFoundError, ValueError):
                return None
            self._client = client
        return self._collection

    def add(
        self,
        spans: Sequence[tuple[str, int, int, str]],
        vectors: Sequence[Sequence[float]],
        metadatas: Sequence[Metadata],
        polarities: Sequence[float | None] | None = None,
    ) -> None:
        """Store sentences given as (chunk id, start, end, text), with their vectors, the
        metadata of their chunk's review (``work_id`` and ``review_id`` are kept) and
        their polarities, if known."""
        if not spans:
            return
        known = polarities if polarities is not None else [None] * len(spans)
        ids, records = [], []
        for (chunk_id, start, end, text), metadata, polarity in zip(
            spans, metadatas, known, strict=True
        ):
            ids.append(sentence_id(chunk_id, start))
            record: Metadata = {
                "chunk_id": chunk_id,
                "start": start,
                "end": end,
                "chars": len(text),
            }
            for key in ("review_id", "work_id", "language"):
                if key in metadata:
                    record[key] = metadata[key]
            if polarity is not None:
                record["polarity"] = polarity
            records.append(record)
        documents = [text for _, _, _, text in spans]
        self._open().upsert(
            ids=ids,
            embeddings=[list(v) for v in vectors],  # type: ignore[arg-type]
            documents=documents,
            metadatas=records,  # type: ignore[arg-type]
        )

    def delete_chunks(self, chunk_ids: Sequence[str]) -> None:
        """Forget the sentences of these chunks."""
        for start in range(0, len(chunk_ids), _BATCH):
            where: Any = {"chunk_id": {"$in": list(chunk_ids[start : start + _BATCH])}}
            self._open().delete(where=where)

    def of_chunks(self, chunk_ids: Sequence[str]) -> dict[str, list[StoredSentence]]:
        """The stored sentences of each chunk, in order; chunks without any are left out
        (as are all when the store cannot be read now: the caller embeds them itself)."""
        from chromadb.errors import ChromaError

        with self._lock:
            try:
                return self._read(chunk_ids)
            except ChromaError as error:
                log.warning("sentence vectors unreadable now (%s); embedding them instead", error)
                return {}

    def read_chunks(self, chunk_ids: Sequence[str]) -> dict[str, list[StoredSentence]]:
        """Like :meth:`of_chunks`, but a store that cannot be read raises (for writers)."""
        with self._lock:
            return self._read(chunk_ids)

    def _read(self, chunk_ids: Sequence[str]) -> dict[str, list[StoredSentence]]:
        import numpy as np

        found: dict[str, list[StoredSentence]] = {}
        wanted = list(dict.fromkeys(chunk_ids))
        collection = self._readable()
        if collection is None:
            return found
        for start in range(0, len(wanted), _BATCH):
            batch = wanted[start : start + _BATCH]
            where: Any = {"chunk_id": {"$in": batch}} if len(batch) > 1 else {"chunk_id": batch[0]}
            page = collection.get(where=where, include=["embeddings", "metadatas"])
            embeddings = page.get("embeddings")
            if embeddings is None:
                continue
            for metadata, vector in zip(page["metadatas"] or [], embeddings, strict=True):
                if metadata is None:
                    continue
                chunk_id = str(metadata["chunk_id"])
                found.setdefault(chunk_id, []).append(
                    StoredSentence(
                        chunk_id,
                        int(metadata["start"]),  # type: ignore[arg-type]
                        int(metadata["end"]),  # type: ignore[arg-type]
                        np.asarray(vector, dtype=np.float32),
                        _polarity(metadata.get("polarity")),
                    )
                )
        for sentences in found.values():
            sentences.sort(key=lambda s: s.start)
        return found

    def vector_pages(self) -> Iterator[VectorPage]:
        """Every sentence id with its metadata and vector, a page at a time."""
        collection = self._readable()
        if collection is not None:
            yield from vector_pages(collection)

    def update_metadatas(self, ids: Sequence[str], metadatas: Sequence[Metadata]) -> None:
        """Replace the metadata of these sentences."""
        for start in range(0, len(ids), _BATCH):
            self._open().update(
                ids=list(ids[start : start + _BATCH]),
                metadatas=list(metadatas[start : start + _BATCH]),
            )

    def stored_chunk_ids(self) -> set[str]:
        """Every chunk id that has sentences stored (for filling in an older index once)."""
        ids: set[str] = set()
        collection = self._open()
        offset = 0
        while True:
            page = collection.get(include=["metadatas"], limit=5000, offset=offset)
            ids.update(str(m["chunk_id"]) for m in page["metadatas"] or [] if m)
            if len(page["ids"]) < 5000:
                return ids
            offset += 5000


def _polarity(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def sentence_spans(
    chunk_id: str, text: str, offsets: Sequence[tuple[int, int]]
) -> list[tuple[str, int, int, str]]:
    """The chunk's sentences as (chunk id, start, end, text), blank ones left out."""
    spans = []
    for start, end in offsets:
        sentence = text[start:end].strip()
        if sentence:
            spans.append((chunk_id, start, end, sentence))
    return spans


def embed_sentences(
    spans: Sequence[tuple[str, int, int, str]], *, embed: Any, batch_size: int
) -> list[list[float]]:
    """Vectors of the sentences, ``batch_size`` at a time (passage role)."""
    vectors: list[list[float]] = []
    for start in range(0, len(spans), batch_size):
        vectors.extend(embed([text for _, _, _, text in spans[start : start + batch_size]]))
    return vectors
