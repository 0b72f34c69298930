"""The sentences of one generation of the index, in files a bot process memory-maps.

Reading sentence vectors from Chroma loads the whole sentence index into every bot
process; these files are mapped instead, so the processes share their pages and read
only the rows of the chunks a question needs. A folder holds:

- ``vectors.npy``: one float16 row per sentence, the rows of a chunk together, by start;
- ``starts.npy``, ``ends.npy`` (int32) and ``polarities.npy`` (float64, NaN when unknown);
- ``chunks.sqlite``: chunk id -> (first row, row count), a point lookup by primary key;
- ``manifest.json``: the row count and dimension, written last: a folder without it (a
  write cut short) does not open.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.sentence_store import SentenceStore, StoredSentence

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

log = logging.getLogger(__name__)

FORMAT = 1
MANIFEST = "manifest.json"
VECTORS = "vectors.npy"
STARTS = "starts.npy"
ENDS = "ends.npy"
POLARITIES = "polarities.npy"
CHUNKS = "chunks.sqlite"
_PARTIAL = ".partial"
# Chunk ids per SQLite lookup, well below its limit on bound parameters.
_BATCH = 500
# Rows copied at a time when the rows are gathered from another file.
_COPY_ROWS = 65_536


@dataclass(frozen=True)
class ChunkRows:
    """The rows of one chunk's sentences."""

    chunk_id: str
    first: int
    count: int


class SentenceSnapshot:
    """The sentences of one generation, read per chunk id from memory-mapped files."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        vectors: npt.NDArray[np.float16],
        starts: npt.NDArray[np.int32],
        ends: npt.NDArray[np.int32],
        polarities: npt.NDArray[np.float64],
    ) -> None:
        self._connection = connection
        self._vectors = vectors
        self._starts = starts
        self._ends = ends
        self._polarities = polarities
        self._lock = threading.Lock()

    @classmethod
    def open(cls, folder: Path) -> SentenceSnapshot | None:
        """The snapshot in ``folder``; None when it is missing or was not written in full."""
        import numpy as np

        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            if manifest.get("format") != FORMAT:
                return None
            rows, dimension = int(manifest["rows"]), int(manifest["dimension"])
            arrays = [_load(folder / name, rows) for name in (VECTORS, STARTS, ENDS, POLARITIES)]
            vectors, starts, ends, polarities = arrays
            if vectors.shape != (rows, dimension) or vectors.dtype != np.float16:
                return None
            if not (folder / CHUNKS).is_file():
                return None
            connection = sqlite3.connect(
                f"{(folder / CHUNKS).resolve().as_uri()}?mode=ro&immutable=1",
                uri=True,
                check_same_thread=False,
            )
            try:
                connection.execute("SELECT chunk_id, first_row, row_count FROM chunks LIMIT 1")
            except sqlite3.Error:
                connection.close()
                return None
        except (OSError, ValueError, KeyError, TypeError, sqlite3.Error) as error:
            log.info("no sentence snapshot in %s (%s)", folder, error)
            return None
        return cls(connection, vectors, starts, ends, polarities)

    @property
    def rows(self) -> int:
        return int(self._vectors.shape[0])

    @property
    def dimension(self) -> int:
        return int(self._vectors.shape[1])

    def of_chunks(self, chunk_ids: Sequence[str]) -> dict[str, list[StoredSentence]]:
        """The sentences of each chunk, in order of their start; chunks without any are
        left out (the same as :meth:`SentenceStore.of_chunks`)."""
        import numpy as np

        found: dict[str, list[StoredSentence]] = {}
        for rows in self._rows_of(list(dict.fromkeys(chunk_ids))):
            end = rows.first + rows.count
            vectors = np.asarray(self._vectors[rows.first : end], dtype=np.float32)
            starts = self._starts[rows.first : end].tolist()
            ends = self._ends[rows.first : end].tolist()
            polarities = self._polarities[rows.first : end].tolist()
            found[rows.chunk_id] = [
                StoredSentence(rows.chunk_id, start, stop, vector, _polarity(polarity))
                for start, stop, vector, polarity in zip(
                    starts, ends, vectors, polarities, strict=True
                )
            ]
        return found

    def _rows_of(self, chunk_ids: list[str]) -> list[ChunkRows]:
        rows: dict[str, ChunkRows] = {}
        with self._lock:
            for start in range(0, len(chunk_ids), _BATCH):
                batch = chunk_ids[start : start + _BATCH]
                marks = ",".join("?" * len(batch))
                query = (
                    f"SELECT chunk_id, first_row, row_count FROM chunks WHERE chunk_id IN ({marks})"
                )
                for chunk_id, first, count in self._connection.execute(query, batch):
                    rows[chunk_id] = ChunkRows(chunk_id, first, count)
        return [rows[c] for c in chunk_ids if c in rows and rows[c].count > 0]

    def chunk_rows(self) -> list[ChunkRows]:
        """Every chunk with its rows, in the order of the rows (for writing the next one)."""
        with self._lock:
            cursor = self._connection.execute(
                "SELECT chunk_id, first_row, row_count FROM chunks ORDER BY first_row"
            )
            return [ChunkRows(c, f, n) for c, f, n in cursor]

    def close(self) -> None:
        with self._lock:
            self._connection.close()


def write_sentence_snapshot(
    sentences: SentenceStore,
    folder: Path,
    *,
    previous: Path | None,
    chunk_ids_changed: Collection[str],
    chunk_ids_removed: Collection[str],
    all_chunk_ids: Collection[str] | None,
) -> None:
    """Write the sentences of the stored chunks into ``folder``.

    With ``previous`` (a folder written here before), its rows are copied for every chunk
    neither changed nor removed, and only the changed chunks' sentences are read from the
    store; without it (or when it does not open) every sentence is read. ``all_chunk_ids``,
    when given, are the chunks of the generation: sentences of other chunks are left out
    and its chunks that ``previous`` lacks are read from the store too.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).unlink(missing_ok=True)
    older = SentenceSnapshot.open(previous) if previous is not None else None
    if previous is not None and older is None:
        log.warning("sentence snapshot %s does not open; reading every sentence", previous)
    try:
        if older is None or not _write_delta(
            sentences,
            folder,
            older,
            changed=set(chunk_ids_changed),
            removed=set(chunk_ids_removed),
            wanted=None if all_chunk_ids is None else set(all_chunk_ids),
        ):
            _write_full(
                sentences, folder, wanted=None if all_chunk_ids is None else set(all_chunk_ids)
            )
    finally:
        if older is not None:
            older.close()


def _write_delta(
    sentences: SentenceStore,
    folder: Path,
    older: SentenceSnapshot,
    *,
    changed: set[str],
    removed: set[str],
    wanted: set[str] | None,
) -> bool:
    """Copy the unchanged chunks' rows of ``older`` and append the changed ones; False
    when the store's vectors no longer have the older rows' dimension."""
    import numpy as np

    kept: list[ChunkRows] = []
    had: set[str] = set()
    for rows in older.chunk_rows():
        had.add(rows.chunk_id)
        if rows.chunk_id in changed or rows.chunk_id in removed:
            continue
        if wanted is not None and rows.chunk_id not in wanted:
            continue
        kept.append(rows)
    to_read = changed - removed
    if wanted is not None:
        to_read = (to_read & wanted) | (wanted - had - removed)
    fresh = sentences.read_chunks(sorted(to_read))
    dimensions = {len(s.vector) for found in fresh.values() for s in found}
    if dimensions and dimensions != {older.dimension}:
        log.warning("sentence vectors changed dimension; reading every sentence")
        return False

    table: list[ChunkRows] = []
    sources: list[tuple[int, int]] = []  # row ranges of the older vectors, merged
    row = 0
    for rows in kept:
        table.append(ChunkRows(rows.chunk_id, row, rows.count))
        row += rows.count
        if sources and sources[-1][1] == rows.first:
            sources[-1] = (sources[-1][0], rows.first + rows.count)
        else:
            sources.append((rows.first, rows.first + rows.count))
    copied = row
    appended = [s for chunk_id in sorted(fresh) for s in fresh[chunk_id]]
    for chunk_id in sorted(fresh):
        table.append(ChunkRows(chunk_id, row, len(fresh[chunk_id])))
        row += len(fresh[chunk_id])

    old_starts, old_ends, old_polarities = older._starts, older._ends, older._polarities
    starts = np.concatenate(
        [old_starts[a:b] for a, b in sources]
        + [np.asarray([s.start for s in appended], dtype=np.int32)]
    )
    ends = np.concatenate(
        [old_ends[a:b] for a, b in sources] + [np.asarray([s.end for s in appended], np.int32)]
    )
    polarities = np.concatenate(
        [old_polarities[a:b] for a, b in sources]
        + [np.asarray([_nan(s.polarity) for s in appended], dtype=np.float64)]
    )

    def fill(out: npt.NDArray[np.float16]) -> None:
        at = 0
        for a, b in sources:
            for start in range(a, b, _COPY_ROWS):
                stop = min(b, start + _COPY_ROWS)
                out[at : at + stop - start] = older._vectors[start:stop]
                at += stop - start
        if appended:
            out[copied:] = _half([s.vector for s in appended])

    _write_files(folder, older.dimension, table, starts, ends, polarities, fill)
    log.info(
        "sentence snapshot: %d rows copied, %d rows of %d chunks read",
        copied,
        len(appended),
        len(fresh),
    )
    return True


def _write_full(sentences: SentenceStore, folder: Path, *, wanted: set[str] | None) -> None:
    """Read every sentence from the store, group the rows by chunk, and write them."""
    import numpy as np

    unsorted = folder / f"vectors.unsorted{_PARTIAL}"
    chunk_codes: dict[str, int] = {}
    codes: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    polarities: list[float] = []
    dimension = 0
    try:
        with unsorted.open("wb") as raw:
            for page in sentences.vector_pages():
                keep = [
                    i
                    for i, metadata in enumerate(page.metadatas)
                    if wanted is None or str(metadata.get("chunk_id")) in wanted
                ]
                if not keep:
                    continue
                vectors = _half([page.vectors[i] for i in keep])
                if dimension and vectors.shape[1] != dimension:
                    raise ValueError("sentence vectors of different dimensions in one store")
                dimension = int(vectors.shape[1])
                raw.write(vectors.tobytes())
                for i in keep:
                    metadata = page.metadatas[i]
                    chunk_id = str(metadata["chunk_id"])
                    codes.append(chunk_codes.setdefault(chunk_id, len(chunk_codes)))
                    starts.append(int(metadata["start"]))
                    ends.append(int(metadata["end"]))
                    polarities.append(_nan(metadata.get("polarity")))
        rows = len(codes)
        # Rows ordered by chunk id, then start: a chunk's rows are one run, in order.
        rank = {chunk_id: r for r, chunk_id in enumerate(sorted(chunk_codes))}
        by_rank = np.asarray([rank[c] for c in sorted(chunk_codes, key=chunk_codes.__getitem__)])
        chunk_rank = by_rank[np.asarray(codes, dtype=np.int64)] if rows else np.zeros(0, np.int64)
        start_array = np.asarray(starts, dtype=np.int32)
        order = np.lexsort((start_array, chunk_rank))
        counts = np.bincount(chunk_rank, minlength=len(rank)) if rows else np.zeros(0, np.int64)
        firsts = np.concatenate([[0], np.cumsum(counts)[:-1]]) if rows else counts
        table = [
            ChunkRows(chunk_id, int(firsts[r]), int(counts[r])) for chunk_id, r in rank.items()
        ]
        source = (
            np.memmap(unsorted, dtype=np.float16, mode="r", shape=(rows, dimension))
            if rows
            else np.zeros((0, dimension), np.float16)
        )

        def fill(out: npt.NDArray[np.float16]) -> None:
            for at in range(0, rows, _COPY_ROWS):
                out[at : at + _COPY_ROWS] = source[order[at : at + _COPY_ROWS]]

        _write_files(
            folder,
            dimension,
            table,
            start_array[order],
            np.asarray(ends, dtype=np.int32)[order],
            np.asarray(polarities, dtype=np.float64)[order],
            fill,
        )
    finally:
        unsorted.unlink(missing_ok=True)
    if wanted is not None and (missing := len(wanted - chunk_codes.keys())):
        log.info("sentence snapshot: %d chunks have no stored sentences", missing)
    log.info("sentence snapshot: %d rows of %d chunks written", rows, len(chunk_codes))


def _write_files(
    folder: Path,
    dimension: int,
    table: Sequence[ChunkRows],
    starts: npt.NDArray[np.int32],
    ends: npt.NDArray[np.int32],
    polarities: npt.NDArray[np.float64],
    fill: Callable[[npt.NDArray[np.float16]], None],
) -> None:
    """Write every file under a temporary name, move each into place, the manifest last."""
    import numpy as np

    rows = len(starts)
    vectors_path = folder / (VECTORS + _PARTIAL)
    if rows:
        vectors = np.lib.format.open_memmap(
            vectors_path, mode="w+", dtype=np.float16, shape=(rows, dimension)
        )
        fill(vectors)
        vectors.flush()
        del vectors
    else:
        with vectors_path.open("wb") as file:
            np.save(file, np.zeros((0, dimension), dtype=np.float16))
    _sync(vectors_path)
    for name, array in ((STARTS, starts), (ENDS, ends), (POLARITIES, polarities)):
        with (folder / (name + _PARTIAL)).open("wb") as file:
            np.save(file, array)
            file.flush()
            os.fsync(file.fileno())
    _write_table(folder / (CHUNKS + _PARTIAL), table)
    for name in (VECTORS, STARTS, ENDS, POLARITIES, CHUNKS):
        os.replace(folder / (name + _PARTIAL), folder / name)
    manifest = {"format": FORMAT, "rows": rows, "dimension": dimension, "chunks": len(table)}
    with (folder / (MANIFEST + _PARTIAL)).open("w", encoding="utf-8") as file:
        json.dump(manifest, file)
        file.flush()
        os.fsync(file.fileno())
    os.replace(folder / (MANIFEST + _PARTIAL), folder / MANIFEST)


def _write_table(path: Path, table: Iterable[ChunkRows]) -> None:
    path.unlink(missing_ok=True)
    connection = sqlite3.connect(path)
    try:
        connection.execute(
            "CREATE TABLE chunks (chunk_id TEXT PRIMARY KEY, first_row INTEGER NOT NULL,"
            " row_count INTEGER NOT NULL) WITHOUT ROWID"
        )
        connection.executemany(
            "INSERT INTO chunks VALUES (?, ?, ?)", ((r.chunk_id, r.first, r.count) for r in table)
        )
        connection.commit()
    finally:
        connection.close()
    _sync(path)


def _load(path: Path, rows: int) -> Any:
    import numpy as np

    if rows == 0:  # an empty file cannot be mapped
        return np.load(path)
    array = np.load(path, mmap_mode="r")
    if array.shape[0] != rows:
        raise ValueError(f"{path.name} holds {array.shape[0]} rows, not {rows}")
    return array


def _half(vectors: Sequence[Any]) -> npt.NDArray[np.float16]:
    import numpy as np

    half = np.asarray(vectors, dtype=np.float32).astype(np.float16)
    if half.ndim != 2 or not np.isfinite(half).all():
        raise ValueError("sentence vectors do not fit float16")
    return half


def _sync(path: Path) -> None:
    with path.open("rb+") as file:
        os.fsync(file.fileno())


def _nan(polarity: object) -> float:
    return float(polarity) if isinstance(polarity, int | float) else float("nan")


def _polarity(value: float) -> float | None:
    return None if value != value else value  # NaN marks an unknown polarity
