"""Brings the store in step with the review files: add, update, remove, never duplicate.

The store itself is the record of what is indexed: every run compares the chunks the
files give now with the chunks in the store and applies the difference, new chunks
before deletions. A run killed at any point leaves a searchable store, and the next
run finishes the job without embedding anything twice.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.chunking import DEFAULT_CHUNK_CHARS, chunk_review, split_sentences
from index.decoding import DEFAULT_MAX_FILE_BYTES
from index.embedding import ReviewEmbedder
from index.errors import EmptySourceError, IndexLockedError
from index.file_records import (
    FileRecord,
    FileRecords,
    FileState,
    ReviewRecord,
    file_sha256,
    file_state,
)
from index.files import (
    ReviewFiles,
    absolute_path,
    in_copies_of_one_folder,
    is_under,
    path_text,
    scan_review_files,
)
from index.loading import DEFAULT_MAX_RECORDS, load_reviews, one_line
from index.metadata import parse_review
from index.polarity import PolarityHead, head_for
from index.records import Chunk, FileLoad, LoadFailure, LoadNote, Review, SourceRecord
from index.sentence_store import SentenceStore, sentence_spans
from index.snapshot import is_published, record_published
from index.store import (
    Metadata,
    ReviewStore,
    chunk_metadata,
    new_generation,
    review_from_metadata,
)
from index.works import assign_works

if TYPE_CHECKING:
    from index.titles import Translator

EMBED_BATCH = 64
# Review ids per Chroma `where` lookup of their chunks.
_FETCH_BATCH = 500

log = logging.getLogger(__name__)

# (stage, done, total): stage is "embedding", or "splitting <review id>" for a long review.
Progress = Callable[[str, int, int], None]
EMBEDDING = "embedding"
# Reviews longer than this report their sentence splitting (seconds per 100,000 characters).
LONG_REVIEW_CHARS = 100_000
# Recorded with each run; an index without it gets its chunks' sentences stored once.
SENTENCES_VERSION = 1
# Recorded with each run is the polarity head's version; an index made under another (or
# before polarities were stored) gets its polarities computed afresh from its vectors, once.
_NO_POLARITY = "none"


@dataclass
class IndexReport:
    """What one index run changed, review by review."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    failed: list[LoadFailure] = field(default_factory=list)
    notes: list[LoadNote] = field(default_factory=list)
    chunks_embedded: int = 0
    sentences_embedded: int = 0
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
    max_records: int = DEFAULT_MAX_RECORDS,
    follow_external_links: bool = False,
    allow_empty: bool = False,
    rebuild: bool = False,
    progress: Progress | None = None,
    embed_batch: int = EMBED_BATCH,
    records: Path | None = None,
    snapshots: Path | None = None,
    lexicon: Translator | None = None,
) -> IndexReport:
    """Index the review files under ``paths`` into ``store``; returns what changed.

    Reviews whose file is gone from ``paths`` are removed; reviews from other paths are
    left alone. Whatever goes wrong with one file (reading, metadata, splitting) is that
    file's failure in the report; the run goes on and the file keeps the chunks it had,
    as do the reviews below a folder that cannot be listed. A review id already held by
    a file of another folder with the same name is refused, not taken over, unless the two
    folders are copies of one (index.files.in_copies_of_one_folder). A folder
    that holds indexed reviews but no review files at all (an unmounted share, say)
    raises EmptySourceError unless ``allow_empty``.

    With ``records`` (a SQLite file, see index.file_records), files whose size and mtime
    (or, failing those, bytes) are as the last run recorded are not read again: a run in
    which nothing changed reads no file and does not scan the store. With ``snapshots``
    (see index.snapshot), a run that changes the store writes the new generation's
    snapshot before publishing it; ``lexicon`` lets its title index find titles translated
    between German and English.
    """
    started = time.monotonic()
    found = scan_review_files(paths)
    if rebuild:
        if not allow_empty and not found.files and not found.unlistable:
            raise EmptySourceError(_nothing_to_rebuild_from(paths))
        store.drop()
    run = _Run(
        paths,
        found,
        store=store,
        embedder=embedder,
        reading=_ReadOptions(
            chunk_chars, dict(columns or {}), max_bytes, max_records, follow_external_links
        ),
        allow_empty=allow_empty,
        rebuild=rebuild,
        progress=progress,
        embed_batch=embed_batch,
        book=FileRecords(records) if records is not None else None,
        snapshots=snapshots,
        lexicon=lexicon,
        started=started,
    )
    try:
        return run.go()
    finally:
        if run.book is not None:
            run.book.close()


@dataclass(frozen=True)
class _ReadOptions:
    """How files are read and split: records are trusted only under the same options."""

    chunk_chars: int
    columns: dict[str, str]
    max_bytes: int
    max_records: int
    follow_external_links: bool

    def text(self, store: ReviewStore) -> str:
        return json.dumps(
            {"store": store.name, "embedder": store.embedder_name, **asdict(self)},
            sort_keys=True,
        )


@dataclass
class _Look:
    """The files under the paths compared with their records."""

    unchanged: list[FileRecord]
    touched: list[FileRecord]
    changed: list[tuple[Path, Path]]
    gone: list[tuple[str, str]]
    known: dict[tuple[str, str], FileRecord]


class _Run:
    """One index run: with trusted file records, only the files that changed are read."""

    def __init__(
        self,
        paths: Sequence[Path],
        found: ReviewFiles,
        *,
        store: ReviewStore,
        embedder: ReviewEmbedder,
        reading: _ReadOptions,
        allow_empty: bool,
        rebuild: bool,
        progress: Progress | None,
        embed_batch: int,
        book: FileRecords | None,
        snapshots: Path | None,
        lexicon: Translator | None,
        started: float,
    ) -> None:
        self.paths = paths
        self.found = found
        self.store = store
        self.embedder = embedder
        self.options = reading
        self.allow_empty = allow_empty
        self.rebuild = rebuild
        self.progress = progress
        self.embed_batch = embed_batch
        self.book = book
        self.snapshots = snapshots
        self.lexicon = lexicon
        self.started = started
        self.head = head_for(embedder.name)
        self.polarity_version = self.head.version if self.head else _NO_POLARITY
        self.roots = [path_text(os.path.realpath(p)) for p in paths]
        self.settings = reading.text(store)

    def go(self) -> IndexReport:
        look = self._look()
        if look is not None:
            if self._nothing_changed(look):
                return self._no_change(look)
            report = self._index(look)
            if report is not None:
                return report
            log.info("a review without a header changed: reading every file")
        report = self._index(None)
        assert report is not None
        return report

    # -- what changed ------------------------------------------------------------------

    def _look(self) -> _Look | None:
        """The files compared with their records; None when the records cannot be trusted."""
        state = self.store.state
        if (
            self.book is None
            or self.rebuild
            or state.get("last_sentences") != SENTENCES_VERSION
            or state.get("last_polarity") != self.polarity_version
            or not self.book.trusted(generation=state.get("generation"), settings=self.settings)
        ):
            return None
        known = self.book.files()
        look = _Look([], [], [], [], known)
        seen: set[tuple[str, str]] = set()
        for file, root in self.found.files:
            key = _key(file, root)
            seen.add(key)
            record = known.get(key)
            now = file_state(str(file))
            if record is None or record.failed or now is None or now.size != record.size:
                look.changed.append((file, root))
            elif now.mtime_ns == record.mtime_ns:
                look.unchanged.append(record)
            elif file_sha256(str(file)) == record.sha256:
                record = replace(record, mtime_ns=now.mtime_ns)
                look.unchanged.append(record)
                look.touched.append(record)
            else:
                look.changed.append((file, root))
        given = [path_text(absolute_path(p)) for p in self.paths]
        look.gone = [
            key
            for key in known
            if key not in seen and any(is_under(key[0], folder) for folder in given)
        ]
        return look

    def _nothing_changed(self, look: _Look) -> bool:
        if look.changed or look.gone or self.found.unlistable:
            assert self.book is not None
            return False
        assert self.book is not None
        unchanged = {r for record in look.unchanged for r in record.review_ids}
        return all(
            review_id in unchanged
            for review_id, source in self.book.review_sources().items()
            if self._under_roots(source)
        )

    def _under_roots(self, source: str) -> bool:
        return any(is_under(source, root) for root in self.roots)

    def _no_change(self, look: _Look) -> IndexReport:
        assert self.book is not None
        if look.touched:
            self.book.touch(look.touched)
        report = IndexReport()
        report.unchanged = [r for record in look.unchanged for r in record.review_ids]
        report.chunks_total = self.store.count()
        generation = str(self.store.state.get("generation"))
        if self.snapshots is not None and not is_published(self.snapshots, generation):
            # An index made before snapshots (or before this snapshot format): its snapshot
            # is written from the store.
            generation = self._publish(report, changed=(), removed=(), full=True)
            self.book.retag(generation)
        self._point_bots_at(generation)
        report.seconds = round(time.monotonic() - self.started, 3)
        return report

    # -- an index run ------------------------------------------------------------------

    def _index(self, look: _Look | None) -> IndexReport | None:
        """Bring the store in step; with ``look``, only its changed files are read (None
        when that cannot give the result a full read gives)."""
        store = self.store
        report = IndexReport()
        if look is None:
            stored = _StoredReviews.scan(store)
            to_read = self.found.files
            unchanged_ids: dict[str, None] = {}
        else:
            assert self.book is not None
            stored = _StoredReviews.recorded(self.book.reviews())
            to_read = look.changed
            unchanged_ids = dict.fromkeys(r for rec in look.unchanged for r in rec.review_ids)
        if not self.allow_empty:
            _refuse_emptied_folders(self.paths, self.found, stored.sources())
        # Size, mtime and bytes are taken before reading: a file changed meanwhile is
        # recorded as it was, and read again next time.
        recording = self.book is not None
        seen = [
            (file, root, *(_fingerprint(file) if recording else (None, None)))
            for file, root in to_read
        ]
        loads: Iterable[FileLoad] = load_reviews(
            to_read,
            columns=self.options.columns or None,
            max_bytes=self.options.max_bytes,
            max_records=self.options.max_records,
            follow_external_links=self.options.follow_external_links,
        )
        if look is not None:
            loads = list(loads)
            wanted = {
                review_id
                for review_id, source in stored.sources().items()
                if self._under_roots(source) and review_id not in unchanged_ids
            }
            wanted.update(
                record.review_id
                for load in loads
                for record in load.records
                if record.review_id in stored.firsts
            )
            stored.fetch(store, wanted)

        reading = _Reading(
            stored.chunks,
            self.roots,
            report,
            chunk_chars=self.options.chunk_chars,
            progress=self.progress,
            unread={
                review_id: str(stored.firsts[review_id]["source_path"])
                for review_id in unchanged_ids
                if review_id in stored.firsts
            },
        )
        for folder in self.found.unlistable:
            reading.add_unlistable(folder.failures, folder.source_path)
        read_files: list[FileRecord] = []
        for (file, root, state, sha), file_load in zip(seen, loads, strict=True):
            review_ids, failed = reading.add(file_load)
            if state is not None and sha is not None:
                read_files.append(
                    FileRecord(
                        path_text(file),
                        path_text(root),
                        state.size,
                        state.mtime_ns,
                        sha,
                        tuple(review_ids),
                        # Repairs are reported on every run, as failures are: read it again.
                        failed or bool(file_load.notes),
                    )
                )
        loaded = reading.reviews
        if look is not None and any(not review.title for review in loaded.values()):
            return None  # its work is found from the text of every review: a full read

        carried: dict[str, Review] = {}
        for review_id, first in stored.firsts.items():
            if review_id in loaded:
                continue
            source = str(first["source_path"])
            if review_id in unchanged_ids:
                carried[review_id] = review_from_metadata(first)
                report.unchanged.append(review_id)
            elif not self._under_roots(source):
                carried[review_id] = review_from_metadata(first)
            elif reading.failed_at(source):
                carried[review_id] = review_from_metadata(first)
                report.kept.append(review_id)
            else:
                report.removed.append(review_id)

        # Reviews carried over without their text keep a work attached by evidence.
        regroup = [*loaded.values(), *(r for r in carried.values() if r.title)]
        assign_works(regroup)
        if look is not None:
            works = {r.work.work_id for r in regroup if r.work}
            for review_id in unchanged_ids:
                review = carried.get(review_id)
                work = review.work if review else None
                if work and not work.work_id.startswith("untitled-") and work.work_id not in works:
                    return None  # a review without a header whose work is gone

        head = self.head
        pending: list[_ReviewPlan] = []
        to_update: dict[str, Metadata] = {}
        to_delete: list[str] = []
        for review_id, review in loaded.items():
            before = stored.chunks.get(review_id, {})
            chunks = sorted(reading.chunks[review_id], key=lambda c: c.index)
            reading.chunks[review_id] = chunks
            report.chunks_total += len(chunks)
            plan = _ReviewPlan(review, chunks, before)
            if plan.new:
                pending.append(plan)
            else:
                to_update.update(plan.settle(head, {}).changed)
            stale = set(before) - {c.chunk_id for c in chunks}
            to_delete.extend(sorted(stale))
            if not before:
                report.added.append(review_id)
            elif stale or len(before) != len(chunks) or _hash_of(before) != review.content_hash:
                report.updated.append(review_id)
            else:
                report.unchanged.append(review_id)
        to_check: list[str] = []
        for review_id, review in carried.items():
            chunk_ids = stored.chunk_ids[review_id]
            report.chunks_total += len(chunk_ids)
            if review_id in stored.chunks:
                to_update.update(_carried_updates(review, stored.chunks[review_id]))
                continue
            first = stored.firsts[review_id]
            position = _stored_position(review_id, chunk_ids[0], first)
            expected = chunk_metadata(
                review, position, chunk_count=len(chunk_ids), polarity=_stored_polarity(first)
            )
            if expected != first:  # its review's facts changed: every chunk of it changes
                to_check.append(review_id)
        if to_check:
            stored.fetch(store, to_check)
            for review_id in to_check:
                to_update.update(_carried_updates(carried[review_id], stored.chunks[review_id]))
        for review_id in report.removed:
            to_delete.extend(sorted(stored.chunks.get(review_id, {})))

        if self.book is not None:
            self.book.distrust()
        sentences = SentenceStore(store)
        written: dict[str, Metadata] = {}
        report.sentences_embedded = _embed_and_store(
            pending,
            store=store,
            sentences=sentences,
            embedder=self.embedder,
            head=head,
            to_update=to_update,
            written=written,
            progress=self.progress,
            batch_size=self.embed_batch,
        )
        report.chunks_embedded = sum(len(plan.new) for plan in pending)
        ids = sorted(to_update)
        log.info("updating the metadata of %d chunks", len(ids))
        store.update_metadatas(ids, [to_update[i] for i in ids])
        log.info("deleting %d chunks", len(to_delete))
        store.delete(to_delete)
        sentences.delete_chunks(to_delete)
        report.chunks_deleted = len(to_delete)
        filled = False
        if store.exists() and store.state.get("last_sentences") != SENTENCES_VERSION:
            report.sentences_embedded += _fill_in_sentences(
                store,
                sentences,
                skip={chunk.chunk_id for plan in pending for chunk in plan.new},
                head=head,
                embedder=self.embedder,
                progress=self.progress,
                batch_size=self.embed_batch,
            )
            filled = True
        if (
            stored.firsts
            and head is not None
            and store.state.get("last_polarity") != self.polarity_version
        ):
            _fill_in_polarities(store, sentences, head)
            filled = True
        generation = store.state.get("generation")
        snapshot_missing = self.snapshots is not None and (
            not generation or not is_published(self.snapshots, str(generation))
        )
        if (
            report.changed
            or to_update
            or self.rebuild
            or filled
            or not generation
            or snapshot_missing
        ):
            generation = self._publish(
                report,
                changed=[*written, *to_update],
                removed=to_delete,
                full=self.rebuild or filled,
            )
        if self.book is not None:
            self._record(
                str(generation),
                look,
                read_files,
                stored=_StoredReviews.scan(store) if filled else stored,
                loaded=reading.chunks if not filled else {},
                carried=carried if not filled else {},
                removed=report.removed,
                updates={**written, **to_update},
                everything=filled,
            )
        self._point_bots_at(str(generation))
        report.seconds = round(time.monotonic() - self.started, 3)
        return report

    def _point_bots_at(self, generation: str) -> None:
        """Name the store's generation as the one bots read (also after a run that was cut
        short between publishing a generation and naming it)."""
        if self.snapshots is not None and is_published(self.snapshots, generation):
            record_published(
                self.snapshots, generation, self.store.location, self.store.embedder_name
            )

    def _publish(
        self,
        report: IndexReport,
        *,
        changed: Collection[str],
        removed: Collection[str],
        full: bool,
    ) -> str:
        """Write the new generation's snapshot (given a snapshot root), then publish it."""
        generation = new_generation()
        if self.snapshots is not None:
            from index.snapshot import write_snapshot

            previous = self.store.state.get("generation")
            if full or not previous or not is_published(self.snapshots, str(previous)):
                previous = None
            write_snapshot(
                self.store,
                self.snapshots,
                generation,
                previous=previous,
                changed=sorted(set(changed)),
                removed=sorted(set(removed)),
                lexicon=self.lexicon,
            )
        self.store.mark_indexed(
            {
                "added": len(report.added),
                "updated": len(report.updated),
                "removed": len(report.removed),
                "failed": len(report.failed),
                "sentences": SENTENCES_VERSION,
                "polarity": self.polarity_version,
            },
            generation=generation,
        )
        return generation

    def _record(
        self,
        generation: str,
        look: _Look | None,
        read_files: list[FileRecord],
        *,
        stored: _StoredReviews,
        loaded: Mapping[str, list[Chunk]],
        carried: Mapping[str, Review],
        removed: Sequence[str],
        updates: Mapping[str, Metadata],
        everything: bool,
    ) -> None:
        """Record the files read and the reviews the store holds now, at ``generation``."""
        assert self.book is not None
        reviews: dict[str, ReviewRecord] = {}
        for review_id, chunks in loaded.items():
            first_id = chunks[0].chunk_id
            first = updates.get(first_id) or stored.chunks[review_id][first_id]
            chunk_ids = tuple(c.chunk_id for c in chunks)
            reviews[review_id] = ReviewRecord(review_id, chunk_ids, first)
        for review_id in carried:
            chunk_ids = stored.chunk_ids[review_id]
            updated = updates.get(chunk_ids[0])
            if updated is not None or look is None:
                first = updated or stored.firsts[review_id]
                reviews[review_id] = ReviewRecord(review_id, chunk_ids, first)
        if everything:
            for review_id, first in stored.firsts.items():
                reviews[review_id] = ReviewRecord(review_id, stored.chunk_ids[review_id], first)
        self.book.write(
            generation=generation,
            settings=self.settings,
            files=[*read_files, *(look.touched if look else [])],
            # A changed file that could not be looked at keeps no record: it is read next time.
            dropped_files=[*look.gone, *(_key(f, r) for f, r in look.changed)] if look else (),
            reviews=reviews,
            dropped_reviews=removed,
            replace=look is None or everything,
        )


def _fingerprint(file: Path) -> tuple[FileState | None, str | None]:
    return file_state(str(file)), file_sha256(str(file))


def _key(file: Path, root: Path) -> tuple[str, str]:
    return (path_text(file), path_text(root))


def _carried_updates(review: Review, chunks: Mapping[str, Metadata]) -> dict[str, Metadata]:
    """The chunks of a review carried over without its text whose metadata changes."""
    changed: dict[str, Metadata] = {}
    for chunk_id, old in chunks.items():
        position = _stored_position(review.review_id, chunk_id, old)
        metadata = chunk_metadata(
            review, position, chunk_count=len(chunks), polarity=_stored_polarity(old)
        )
        if metadata != old:
            changed[chunk_id] = metadata
    return changed


class _StoredReviews:
    """What the store holds before a run: each review's chunk ids and first chunk's metadata,
    and the metadata of every chunk of the reviews the run needs in full."""

    def __init__(self) -> None:
        self.chunks: dict[str, dict[str, Metadata]] = {}
        self.firsts: dict[str, Metadata] = {}
        self.chunk_ids: dict[str, tuple[str, ...]] = {}

    @classmethod
    def scan(cls, store: ReviewStore) -> _StoredReviews:
        """Every chunk of the store (a full scan)."""
        stored = cls()
        stored._add(_group_by_review(store.metadatas()))
        return stored

    @classmethod
    def recorded(cls, records: Mapping[str, ReviewRecord]) -> _StoredReviews:
        """The reviews as the file records describe them (no chunk metadata yet)."""
        stored = cls()
        for review_id, record in records.items():
            stored.firsts[review_id] = record.first
            stored.chunk_ids[review_id] = record.chunk_ids
        return stored

    def fetch(self, store: ReviewStore, review_ids: Iterable[str]) -> None:
        """Read every chunk's metadata of these reviews from the store."""
        missing = sorted(set(review_ids) - set(self.chunks))
        if not missing or not store.exists():
            return
        collection = store.client.get_collection(store.name, embedding_function=None)
        found: dict[str, Metadata] = {}
        for start in range(0, len(missing), _FETCH_BATCH):
            part = missing[start : start + _FETCH_BATCH]
            where: Any = {"review_id": {"$in": part}}
            page = collection.get(where=where, include=["metadatas"])
            for chunk_id, metadata in zip(page["ids"], page["metadatas"] or [], strict=True):
                found[chunk_id] = dict(metadata)  # type: ignore[arg-type]
        self._add(_group_by_review(found))

    def _add(self, grouped: Mapping[str, dict[str, Metadata]]) -> None:
        for review_id, chunks in grouped.items():
            ordered = sorted(chunks, key=lambda c: int(chunks[c]["chunk_index"]))
            self.chunks[review_id] = chunks
            self.chunk_ids[review_id] = tuple(ordered)
            self.firsts[review_id] = chunks[ordered[0]]

    def sources(self) -> dict[str, str]:
        return {review_id: str(first["source_path"]) for review_id, first in self.firsts.items()}


class _Reading:
    """The reviews and chunks read in one run, and the sources whose reading failed."""

    def __init__(
        self,
        stored: dict[str, dict[str, Metadata]],
        roots: list[str],
        report: IndexReport,
        *,
        chunk_chars: int,
        progress: Progress | None = None,
        unread: Mapping[str, str] | None = None,
    ) -> None:
        self.reviews: dict[str, Review] = {}
        # Review ids of files this run does not read again (unchanged), with their files.
        self._unread = unread or {}
        self.chunks: dict[str, list[Chunk]] = {}
        self._stored = stored
        self._roots = roots
        self._report = report
        self._chunk_chars = chunk_chars
        self._progress = progress
        self._failed_files: set[str] = set()
        self._unlistable: list[str] = []

    def add_unlistable(self, failures: list[LoadFailure], folder: str) -> None:
        self._report.failed.extend(failures)
        self._unlistable.append(folder)

    def add(self, file_load: FileLoad) -> tuple[list[str], bool]:
        """Parse and split every record of ``file_load``; any error is that record's failure.

        Returns the review ids read from the file and whether anything in it failed.
        """
        self._report.failed.extend(file_load.failures)
        self._report.notes.extend(file_load.notes)
        complete = file_load.complete
        review_ids: list[str] = []
        for record in file_load.records:
            problem = self._id_problem(record)
            if problem is None:
                problem = self._parse_and_split(record)
            if problem is not None:
                self._report.failed.append(LoadFailure(file_load.path, problem, record.record_key))
                complete = False
            else:
                review_ids.append(record.review_id)
        if not complete:
            self._failed_files.add(file_load.source_path)
        return review_ids, not complete

    def failed_at(self, source: str) -> bool:
        """Whether reading ``source`` (a file) failed this run, or its folder was unlistable."""
        return source in self._failed_files or any(
            is_under(source, folder) for folder in self._unlistable
        )

    def _parse_and_split(self, record: SourceRecord) -> str | None:
        try:
            review = parse_review(record)
            chunks = self._chunks_of(review)
        except Exception as error:  # one review's surprise must not stop the run
            log.debug("cannot index %s", record.review_id, exc_info=True)
            return one_line(f"cannot index: {type(error).__name__}: {error}")
        self.reviews[review.review_id] = review
        self.chunks[review.review_id] = chunks
        return None

    def _chunks_of(self, review: Review) -> list[Chunk]:
        before = self._stored.get(review.review_id, {})
        if _complete(before) and _hash_of(before) == review.content_hash:
            # Unchanged text: the stored chunk positions stand, no need to split it again.
            return [_stored_position(review.review_id, c, m) for c, m in before.items()]
        return chunk_review(review, max_chars=self._chunk_chars, progress=self._splitting(review))

    def _splitting(self, review: Review) -> Callable[[int, int], None] | None:
        """Progress for splitting a long review into sentences (it can take minutes)."""
        if len(review.text) < LONG_REVIEW_CHARS:
            return None
        stage = f"splitting {review.review_id}"
        log.info("%s: %d characters", stage, len(review.text))
        progress = self._progress
        if progress is None:
            return None

        def report(done: int, total: int) -> None:
            progress(stage, done, total)

        return report

    def _id_problem(self, record: SourceRecord) -> str | None:
        """Why ``record`` may not take its review id: another file of this run has it, or
        a file of another folder with the same name, which still exists and is no copy of
        this one, indexed it."""
        review_id = record.review_id
        if review_id in self.reviews:
            return f"review id {review_id} is already used by {self.reviews[review_id].source_path}"
        owner = self._unread.get(review_id)
        if owner is not None and owner != record.source_path:
            return f"review id {review_id} is already used by {owner}"
        before = self._stored.get(review_id)
        if not before:
            return None
        owner = str(next(iter(before.values()))["source_path"])
        if (
            owner == record.source_path
            or any(is_under(owner, root) for root in self._roots)
            or not os.path.lexists(owner)
            or _same_file(owner, record.source_path)
            or in_copies_of_one_folder(record.source_path, owner)
        ):
            return None
        return (
            f"review id {review_id} is already used by {owner}, a file of another folder "
            "with the same name; rename one of the folders"
        )


def _refuse_emptied_folders(
    paths: Sequence[Path], found: ReviewFiles, sources: Mapping[str, str]
) -> None:
    if found.unlistable:
        return  # the reviews of an unlistable folder are kept, not removed
    with_files = {root for _, root in found.files}
    for given in paths:
        folder = Path(os.path.abspath(given))
        if not folder.is_dir() or folder in with_files:
            continue
        real = path_text(os.path.realpath(folder))
        held = sum(is_under(source, real) for source in sources.values())
        if held:
            raise EmptySourceError(
                f"{path_text(given)} holds no review files, but {held} indexed reviews come "
                "from it (is it unmounted?); nothing was changed. "
                "`reviewbot index --allow-empty` removes them"
            )


def _nothing_to_rebuild_from(paths: Sequence[Path]) -> str:
    where = ", ".join(path_text(p) for p in paths)
    return (
        f"{where} holds no review files (is it unmounted?); a rebuild would remove every "
        "review, nothing was changed. `reviewbot index --rebuild --allow-empty` does it"
    )


def _same_file(one: str, other: str) -> bool:
    try:
        return os.path.samefile(one, other)
    except OSError:
        return False


@dataclass
class _Settled:
    """A review's chunks with their metadata once its polarity is known."""

    new: list[tuple[Chunk, Metadata]]
    changed: dict[str, Metadata]


class _ReviewPlan:
    """One read review's chunks: those stored already, with their polarities, and new ones."""

    def __init__(self, review: Review, chunks: list[Chunk], before: Mapping[str, Metadata]):
        self.review = review
        self.chunks = chunks
        self.before = before
        self.new = [c for c in chunks if c.chunk_id not in before]

    def plain_metadata(self, chunk: Chunk) -> Metadata:
        """The chunk's metadata before polarities are known (all its sentences need)."""
        return chunk_metadata(self.review, chunk, chunk_count=len(self.chunks))

    def settle(self, head: PolarityHead | None, fresh: Mapping[str, float | None]) -> _Settled:
        """Every chunk's metadata, given the polarities of the new chunks (``fresh``): the
        new chunks to store, and the stored ones whose metadata changed."""
        polarities = {
            c.chunk_id: fresh[c.chunk_id]
            if c.chunk_id in fresh
            else _stored_polarity(self.before[c.chunk_id])
            for c in self.chunks
        }
        known = [p for p in polarities.values() if p is not None]
        complete = head is not None and 0 < len(known) == len(self.chunks)
        lengths = [c.end - c.start for c in self.chunks]
        self.review.polarity = head.of_review(known, lengths) if complete and head else None
        settled = _Settled([], {})
        for chunk in self.chunks:
            metadata = chunk_metadata(
                self.review,
                chunk,
                chunk_count=len(self.chunks),
                polarity=polarities[chunk.chunk_id],
            )
            if chunk.chunk_id not in self.before:
                settled.new.append((chunk, metadata))
            elif self.before[chunk.chunk_id] != metadata:
                settled.changed[chunk.chunk_id] = metadata
        return settled


def _stored_polarity(metadata: Mapping[str, object]) -> float | None:
    value = metadata.get("polarity")
    return float(value) if isinstance(value, int | float) else None


def _whole_reviews(plans: Sequence[_ReviewPlan], batch_size: int) -> Iterator[list[_ReviewPlan]]:
    """The plans in groups of about ``batch_size`` new chunks; a review is never split, so
    its polarity is known when its chunks are stored."""
    group: list[_ReviewPlan] = []
    size = 0
    for plan in plans:
        group.append(plan)
        size += len(plan.new)
        if size >= batch_size:
            yield group
            group, size = [], 0
    if group:
        yield group


def _embed_and_store(
    plans: Sequence[_ReviewPlan],
    *,
    store: ReviewStore,
    sentences: SentenceStore,
    embedder: ReviewEmbedder,
    head: PolarityHead | None,
    to_update: dict[str, Metadata],
    written: dict[str, Metadata],
    progress: Progress | None,
    batch_size: int,
) -> int:
    """Embed and store the new chunks and each of their sentences; returns the sentences
    stored. Stored chunks of these reviews whose metadata changes (their review's
    polarity) are added to ``to_update``, the chunks stored to ``written``.

    A batch's sentences are stored before its chunks: a stored chunk has its sentences.
    """
    total = sum(len(plan.new) for plan in plans)
    done = 0
    stored_sentences = 0
    for group in _whole_reviews(plans, batch_size):
        items = [(chunk, plan.plain_metadata(chunk)) for plan in group for chunk in plan.new]
        stored_sentences += _store_sentences(items, sentences, embedder, batch_size, head)
        chunks = [chunk for chunk, _ in items]
        vectors: list[list[float]] = []
        for start in range(0, len(chunks), batch_size):
            part = chunks[start : start + batch_size]
            vectors.extend(embedder.embed_documents([c.text for c in part]))
        texts = [c.text for c in chunks]
        polarities = head.polarity(vectors, texts) if head else [None] * len(chunks)
        fresh = {c.chunk_id: p for c, p in zip(chunks, polarities, strict=True)}
        vector_of = {c.chunk_id: v for c, v in zip(chunks, vectors, strict=True)}
        new: list[tuple[Chunk, Metadata]] = []
        for plan in group:
            settled = plan.settle(head, fresh)
            new.extend(settled.new)
            to_update.update(settled.changed)
        for start in range(0, len(new), batch_size):
            stored = new[start : start + batch_size]
            store.upsert(
                [c for c, _ in stored],
                [vector_of[c.chunk_id] for c, _ in stored],
                [m for _, m in stored],
            )
            written.update((c.chunk_id, m) for c, m in stored)
            done += len(stored)
            log.info("stored %d of %d new chunks", done, total)
            if progress:
                progress(EMBEDDING, done, total)
    return stored_sentences


def _store_sentences(
    batch: Sequence[tuple[Chunk, Metadata]],
    sentences: SentenceStore,
    embedder: ReviewEmbedder,
    batch_size: int,
    head: PolarityHead | None,
) -> int:
    """Embed and store the sentences of the chunks, with their polarities; returns how many.

    Sentences of like length are embedded together: a batch is padded to its longest.
    """
    spans = [
        (span, metadata)
        for chunk, metadata in batch
        for span in sentence_spans(chunk.chunk_id, chunk.text, _offsets(chunk, metadata))
    ]
    by_length = sorted(spans, key=lambda item: len(item[0][3]))
    for first in range(0, len(by_length), batch_size):
        part = by_length[first : first + batch_size]
        vectors = embedder.embed_documents([span[3] for span, _ in part])
        polarities = head.polarity(vectors, [span[3] for span, _ in part]) if head else None
        sentences.add(
            [span for span, _ in part], vectors, [metadata for _, metadata in part], polarities
        )
    return len(spans)


def _offsets(chunk: Chunk, metadata: Metadata) -> tuple[tuple[int, int], ...]:
    """Where the chunk's sentences are; split afresh for a chunk that does not say."""
    if chunk.sentences:
        return chunk.sentences
    language = str(metadata.get("language", "de"))
    return tuple((s.start, s.end) for s in split_sentences(chunk.text, language=language))


def _fill_in_sentences(
    store: ReviewStore,
    sentences: SentenceStore,
    *,
    skip: set[str],
    embedder: ReviewEmbedder,
    head: PolarityHead | None,
    progress: Progress | None,
    batch_size: int,
) -> int:
    """Give the chunks of an index made before sentences were stored their sentences."""
    have = sentences.stored_chunk_ids()
    missing = [c for c in store.chunks() if c.chunk_id not in have and c.chunk_id not in skip]
    if not missing:
        return 0
    log.info("storing the sentences of %d chunks indexed before sentences were", len(missing))
    items = [
        (
            Chunk(c.chunk_id, c.review_id, int(c.metadata.get("chunk_index", 0)), c.text, 0, 0),
            c.metadata,
        )
        for c in missing
    ]
    count = 0
    for start in range(0, len(items), batch_size):
        batch = items[start : start + batch_size]
        count += _store_sentences(batch, sentences, embedder, batch_size, head)
        if progress:
            progress(EMBEDDING, min(start + batch_size, len(items)), len(items))
    return count


def _fill_in_polarities(store: ReviewStore, sentences: SentenceStore, head: PolarityHead) -> None:
    """Compute every chunk's, review's and sentence's polarity from the stored vectors: for
    an index made before polarities were stored, or under another polarity head."""
    log.info("computing the polarities of the stored chunks and sentences")
    chunks: list[tuple[str, Metadata, float]] = []
    for page in store.vector_pages():
        polarities = head.polarity(page.vectors, page.texts)
        chunks.extend(zip(page.ids, page.metadatas, polarities, strict=True))
    by_review: dict[str, tuple[list[float], list[int]]] = {}
    for _, metadata, p in chunks:
        polarities, lengths = by_review.setdefault(str(metadata["review_id"]), ([], []))
        polarities.append(p)
        lengths.append(int(metadata["end"]) - int(metadata["start"]))
    review_p = {review_id: head.of_review(*found) for review_id, found in by_review.items()}
    ids, metadatas = [], []
    for chunk_id, metadata, p in chunks:
        review_id = str(metadata["review_id"])
        wanted = {**metadata, "polarity": p, "review_polarity": review_p[review_id]}
        if wanted != metadata:
            ids.append(chunk_id)
            metadatas.append(wanted)
    store.update_metadatas(ids, metadatas)
    updated = 0
    for page in sentences.vector_pages():
        changed = [
            (sentence_id, {**metadata, "polarity": p})
            for sentence_id, metadata, p in zip(
                page.ids, page.metadatas, head.polarity(page.vectors, page.texts), strict=True
            )
            if metadata.get("polarity") != p
        ]
        sentences.update_metadatas([i for i, _ in changed], [m for _, m in changed])
        updated += len(changed)
    log.info("polarities: %d chunks and %d sentences updated", len(ids), updated)


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
