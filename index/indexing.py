"""Brings the store in step with the review files: add, update, remove, never duplicate.

The store itself is the record of what is indexed: every run compares the chunks the
files give now with the chunks in the store and applies the difference, new chunks
before deletions. A run killed at any point leaves a searchable store, and the next
run finishes the job without embedding anything twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from index.chunking import DEFAULT_CHUNK_CHARS, chunk_review
from index.embedding import ReviewEmbedder
from index.errors import IndexLockedError
from index.loading import DEFAULT_MAX_FILE_BYTES, load_reviews
from index.metadata import parse_review
from index.records import Chunk, LoadFailure, Review
from index.store import Metadata, ReviewStore, chunk_metadata, review_from_metadata
from index.works import assign_works

EMBED_BATCH = 64

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@dataclass
class IndexReport:
    """What one index run changed, review by review."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    failed: list[LoadFailure] = field(default_factory=list)
    chunks_embedded: int = 0
    chunks_deleted: int = 0
    chunks_total: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@contextmanager
def index_lock(data_dir: Path, *, store: ReviewStore | None = None) -> Iterator[None]:
    """Hold the index lock; a second indexer is refused, not queued.

    The lock is the data directory's file lock and, given ``store``, the store's own
    lease (see index.lease), which also refuses indexers with other data directories
    on the same Chroma server. On an embedded store the file lock proves that a lease
    left behind is a dead run's, so it is taken over.
    """
    from filelock import FileLock, Timeout

    data_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(data_dir / "index.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout as error:
        raise IndexLockedError(
            f"another `reviewbot index` is running on {data_dir}; try again when it has finished"
        ) from error
    try:
        if store is None:
            yield
        else:
            with store.lease().hold(take_over=store.embedded):
                yield
    finally:
        lock.release()


def index_reviews(
    paths: Sequence[Path],
    *,
    store: ReviewStore,
    embedder: ReviewEmbedder,
    chunk_chars: int = DEFAULT_CHUNK_CHARS,
    columns: Mapping[str, str] | None = None,
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
    rebuild: bool = False,
    progress: Progress | None = None,
    embed_batch: int = EMBED_BATCH,
) -> IndexReport:
    """Index the review files under ``paths`` into ``store``; returns what changed.

    Reviews whose file is gone from ``paths`` are removed; reviews from other paths are
    left alone. A file that fails to read keeps the chunks it had.
    """
    started = time.monotonic()
    report = IndexReport()
    if rebuild:
        store.drop()
    stored = _group_by_review(store.metadatas())
    roots = [p.resolve() for p in paths]

    loaded: dict[str, Review] = {}
    failed_files: set[str] = set()
    for file_load in load_reviews(paths, columns=columns, max_bytes=max_bytes):
        report.failed.extend(file_load.failures)
        if not file_load.complete:
            failed_files.add(str(Path(file_load.path).resolve()))
        for record in file_load.records:
            if record.review_id in loaded:
                report.failed.append(
                    LoadFailure(file_load.path, "duplicate review id", record.record_key)
                )
                continue
            loaded[record.review_id] = parse_review(record)

    carried: dict[str, Review] = {}
    for review_id, stored_chunks in stored.items():
        if review_id in loaded:
            continue
        first = min(stored_chunks.values(), key=lambda m: int(m["chunk_index"]))
        source = str(first["source_path"])
        if not _under(source, roots):
            carried[review_id] = review_from_metadata(first)
        elif source in failed_files:
            carried[review_id] = review_from_metadata(first)
            report.kept.append(review_id)
        else:
            report.removed.append(review_id)

    # Reviews carried over without their text keep a work attached by evidence.
    regroup = [*loaded.values(), *(r for r in carried.values() if r.title)]
    assign_works(regroup)

    to_embed: list[tuple[Chunk, Metadata]] = []
    to_update: dict[str, Metadata] = {}
    to_delete: list[str] = []
    for review_id, review in loaded.items():
        before = stored.get(review_id, {})
        if _complete(before) and _hash_of(before) == review.content_hash:
            # Unchanged text: the stored chunk positions stand, no need to split it again.
            chunks = [_stored_position(review_id, chunk_id, m) for chunk_id, m in before.items()]
        else:
            chunks = chunk_review(review, max_chars=chunk_chars)
        report.chunks_total += len(chunks)
        for chunk in chunks:
            metadata = chunk_metadata(review, chunk, chunk_count=len(chunks))
            if chunk.chunk_id not in before:
                to_embed.append((chunk, metadata))
            elif before[chunk.chunk_id] != metadata:
                to_update[chunk.chunk_id] = metadata
        stale = set(before) - {c.chunk_id for c in chunks}
        to_delete.extend(sorted(stale))
        if not before:
            report.added.append(review_id)
        elif stale or len(before) != len(chunks) or _hash_of(before) != review.content_hash:
            report.updated.append(review_id)
        else:
            report.unchanged.append(review_id)
    for review_id, review in carried.items():
        for chunk_id, old in stored[review_id].items():
            position = _stored_position(review_id, chunk_id, old)
            metadata = chunk_metadata(review, position, chunk_count=len(stored[review_id]))
            report.chunks_total += 1
            if metadata != old:
                to_update[chunk_id] = metadata
    for review_id in report.removed:
        to_delete.extend(sorted(stored[review_id]))

    _embed_and_store(
        to_embed, store=store, embedder=embedder, progress=progress, batch_size=embed_batch
    )
    report.chunks_embedded = len(to_embed)
    ids = sorted(to_update)
    log.info("updating the metadata of %d chunks", len(ids))
    store.update_metadatas(ids, [to_update[i] for i in ids])
    log.info("deleting %d chunks", len(to_delete))
    store.delete(to_delete)
    report.chunks_deleted = len(to_delete)
    report.seconds = round(time.monotonic() - started, 3)
    if report.changed or to_update or rebuild or not store.state.get("generation"):
        store.mark_indexed(
            {
                "added": len(report.added),
                "updated": len(report.updated),
                "removed": len(report.removed),
                "failed": len(report.failed),
            }
        )
    return report


def _embed_and_store(
    items: Sequence[tuple[Chunk, Metadata]],
    *,
    store: ReviewStore,
    embedder: ReviewEmbedder,
    progress: Progress | None,
    batch_size: int,
) -> None:
    total = len(items)
    for start in range(0, total, batch_size):
        batch = items[start : start + batch_size]
        chunks = [chunk for chunk, _ in batch]
        vectors = embedder.embed_documents([c.text for c in chunks])
        store.upsert(chunks, vectors, [metadata for _, metadata in batch])
        log.info("stored %d of %d new chunks", min(start + batch_size, total), total)
        if progress:
            progress(min(start + batch_size, total), total)


def _stored_position(review_id: str, chunk_id: str, metadata: Metadata) -> Chunk:
    """A stored chunk's place in its review (its text is not needed to rewrite metadata)."""
    return Chunk(
        chunk_id,
        review_id,
        int(metadata["chunk_index"]),
        "",
        int(metadata["start"]),
        int(metadata["end"]),
    )


def _group_by_review(metadatas: Mapping[str, Metadata]) -> dict[str, dict[str, Metadata]]:
    grouped: dict[str, dict[str, Metadata]] = {}
    for chunk_id, metadata in metadatas.items():
        grouped.setdefault(str(metadata["review_id"]), {})[chunk_id] = metadata
    return grouped


def _complete(chunks: Mapping[str, Metadata]) -> bool:
    """Whether every chunk of the review is stored (a killed run may have stored a part)."""
    counts = {int(m.get("chunk_count", -1)) for m in chunks.values()}
    return len(counts) == 1 and counts.pop() == len(chunks)


def _hash_of(chunks: Mapping[str, Metadata]) -> str:
    hashes = {str(m["content_hash"]) for m in chunks.values()}
    return hashes.pop() if len(hashes) == 1 else ""


def _under(path: str, roots: Sequence[Path]) -> bool:
    resolved = Path(path)
    return any(resolved == root or root in resolved.parents for root in roots)
