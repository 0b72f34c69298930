"""The sentences of one generation of the index, in files every bot process shares.

Reading sentence vectors from Chroma loads the whole sentence index into every bot
process. These files are read per chunk instead: a question reads only the rows of its
chunks, through the page cache that all processes share. The vectors are read with
positional reads rather than mapped, since a mapping counts every page it ever touched
(the kernel maps large neighbourhoods of each row) in the process's resident memory.

The rows lie in immutable segments; a folder holds:

- per segment ``<segment>.vectors.npy`` (float16, one row per sentence, a chunk's rows
  together and by start), ``<segment>.spans.npy`` (int32 start, end) and
  ``<segment>.polarities.npy`` (float64, NaN when unknown);
- ``chunks.sqlite``: chunk id -> (segment, first row, row count), looked up by primary key;
- ``manifest.json``: the dimension and the segments with their row counts, written last:
  a folder without it (a write cut short) does not open.

A delta write links the previous folder's segments and adds one segment with the changed
chunks' rows; the rows of removed chunks stay in their segment, unused, until they are a
quarter of all rows, when every used row is copied into one new segment.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import sqlite3
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.sentence_store import SentenceStore, StoredSentence

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

log = logging.getLogger(__name__)

FORMAT = 2
MANIFEST = "manifest.json"
CHUNKS = "chunks.sqlite"
_PARTIAL = ".partial"
# Chunk ids per SQLite lookup, well below its limit on bound parameters.
_BATCH = 500
# Rows copied at a time when rows are gathered into a new segment.
_COPY_ROWS = 8192
# A delta write compacts when unused rows pass this share of all rows, or segments this count.
_MAX_UNUSED_SHARE = 0.25
_MAX_SEGMENTS = 16


@dataclass(frozen=True)
class ChunkRows:
    """Where the sentences of one chunk lie."""

    chunk_id: str
    segment: str
    first: int
    count: int


def segment_files(segment: str) -> tuple[str, str, str]:
    """The names of a segment's files: vectors, spans, polarities."""
    return (f"{segment}.vectors.npy", f"{segment}.spans.npy", f"{segment}.polarities.npy")


class _VectorFile:
    """The rows of a float16 .npy matrix, read by position without mapping the file."""

    def __init__(self, path: Path, rows: int, dimension: int) -> None:
        import numpy as np

        with path.open("rb") as file:
            version = np.lib.format.read_magic(file)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran_order, dtype = read_header(file)
            offset = file.tell()
        if shape != (rows, dimension) or fortran_order or dtype != np.dtype("<f2"):
            raise ValueError(f"{path.name} holds {shape} {dtype}, not ({rows}, {dimension}) <f2")
        if path.stat().st_size != offset + rows * dimension * 2:
            raise ValueError(f"{path.name} is not written in full")
        self.dimension = dimension
        self._offset = offset
        self._fd = os.open(path, os.O_RDONLY)

    def read(self, first: int, count: int) -> npt.NDArray[np.float16]:
        import numpy as np

        size = self.dimension * 2
        data = os.pread(self._fd, count * size, self._offset + first * size)
        if len(data) != count * size:
            raise OSError(f"sentence vectors end before row {first + count}")
        return np.frombuffer(data, dtype="<f2").reshape(count, self.dimension)

    def close(self) -> None:
        os.close(self._fd)


class _Segment:
    """One immutable run of sentence rows."""

    def __init__(self, folder: Path, name: str, rows: int, dimension: int) -> None:
        import numpy as np

        vectors, spans, polarities = segment_files(name)
        self.rows = rows
        self.spans: npt.NDArray[np.int32] = _load(folder / spans, (rows, 2), np.int32)
        self.polarities: npt.NDArray[np.float64] = _load(folder / polarities, (rows,), np.float64)
        self.vectors = _VectorFile(folder / vectors, rows, dimension)

    def sentences(self, rows: ChunkRows) -> list[StoredSentence]:
        import numpy as np

        end = rows.first + rows.count
        vectors = self.vectors.read(rows.first, rows.count).astype(np.float32)
        spans = self.spans[rows.first : end].tolist()
        polarities = self.polarities[rows.first : end].tolist()
        return [
            StoredSentence(rows.chunk_id, start, stop, vector, _polarity(polarity))
            for (start, stop), vector, polarity in zip(spans, vectors, polarities, strict=True)
        ]


class SentenceSnapshot:
    """The sentences of one generation, read per chunk id."""

    def __init__(
        self,
        folder: Path,
        connection: sqlite3.Connection,
        segments: dict[str, _Segment],
        dimension: int,
    ) -> None:
        self.folder = folder
        self.dimension = dimension
        self._connection = connection
        self._segments = segments
        self._lock = threading.Lock()

    @classmethod
    def open(cls, folder: Path) -> SentenceSnapshot | None:
        """The snapshot in ``folder``; None when it is missing or was not written in full."""
        segments: dict[str, _Segment] = {}
        connection: sqlite3.Connection | None = None
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            if manifest.get("format") != FORMAT:
                return None
            dimension = int(manifest["dimension"])
            for name, rows in dict(manifest["segments"]).items():
                segments[str(name)] = _Segment(folder, str(name), int(rows), dimension)
            if not (folder / CHUNKS).is_file():
                raise ValueError(f"{CHUNKS} is missing")
            connection = sqlite3.connect(
                f"{(folder / CHUNKS).resolve().as_uri()}?mode=ro&immutable=1",
                uri=True,
                check_same_thread=False,
            )
            connection.execute("SELECT chunk_id, segment, first_row, row_count FROM chunks LIMIT 1")
        except (OSError, ValueError, KeyError, TypeError, sqlite3.Error) as error:
            log.info("no sentence snapshot in %s (%s)", folder, error)
            for segment in segments.values():
                segment.vectors.close()
            if connection is not None:
                connection.close()
            return None
        return cls(folder, connection, segments, dimension)

    def of_chunks(self, chunk_ids: Sequence[str]) -> dict[str, list[StoredSentence]]:
        """The sentences of each chunk, in order of their start; chunks without any are
        left out (the same as :meth:`SentenceStore.of_chunks`)."""
        return {
            rows.chunk_id: self._segments[rows.segment].sentences(rows)
            for rows in self._rows_of(list(dict.fromkeys(chunk_ids)))
        }

    def _rows_of(self, chunk_ids: list[str]) -> list[ChunkRows]:
        found: dict[str, ChunkRows] = {}
        with self._lock:
            for start in range(0, len(chunk_ids), _BATCH):
                batch = chunk_ids[start : start + _BATCH]
                marks = ",".join("?" * len(batch))
                query = (
                    "SELECT chunk_id, segment, first_row, row_count FROM chunks"
                    f" WHERE chunk_id IN ({marks})"
                )
                for row in self._connection.execute(query, batch):
                    found[row[0]] = ChunkRows(*row)
        return [found[c] for c in chunk_ids if c in found and found[c].count > 0]

    def segment_rows(self) -> dict[str, int]:
        """Each segment with its number of rows, used or not."""
        return {name: segment.rows for name, segment in self._segments.items()}

    def vectors(self, segment: str, first: int, count: int) -> npt.NDArray[np.float16]:
        return self._segments[segment].vectors.read(first, count)

    def spans(self, segment: str, first: int, count: int) -> npt.NDArray[np.int32]:
        return self._segments[segment].spans[first : first + count]

    def polarities(self, segment: str, first: int, count: int) -> npt.NDArray[np.float64]:
        return self._segments[segment].polarities[first : first + count]

    def close(self) -> None:
        with self._lock:
            self._connection.close()
            for segment in self._segments.values():
                segment.vectors.close()


@dataclass(frozen=True)
class _Rows:
    vectors: npt.NDArray[np.float16]
    spans: npt.NDArray[np.int32]
    polarities: npt.NDArray[np.float64]


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

    With ``previous`` (a folder written here before), the rows of every chunk neither
    changed nor removed are taken from it, and only the changed chunks' sentences are
    read from the store; without it (or when it does not open) every sentence is read.
    ``all_chunk_ids``, when given, are the chunks of the generation: sentences of other
    chunks are left out, and its chunks that ``previous`` lacks are read from the store.
    """
    if previous is not None and previous.resolve() == folder.resolve():
        raise ValueError("a sentence snapshot is written into a folder of its own")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).unlink(missing_ok=True)
    for leftover in folder.iterdir():  # of an earlier write into this folder
        if leftover.name.endswith((_PARTIAL, ".npy")) or leftover.name == CHUNKS:
            leftover.unlink()
    wanted = None if all_chunk_ids is None else set(all_chunk_ids)
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
            wanted=wanted,
        ):
            _write_full(sentences, folder, wanted=wanted)
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
    """Keep the unchanged chunks' rows of ``older`` and add the changed ones; False when
    the store's vectors no longer have the older rows' dimension.

    The chunk table is the previous one, copied and edited in SQLite, so a small delta
    costs no Python work per stored chunk (unless ``wanted`` needs to be checked)."""
    import numpy as np

    table_path = folder / (CHUNKS + _PARTIAL)
    shutil.copyfile(older.folder / CHUNKS, table_path)
    table = sqlite3.connect(table_path)
    try:
        dropped = changed | removed
        to_read = changed - removed
        if wanted is not None:
            had = {chunk_id for (chunk_id,) in table.execute("SELECT chunk_id FROM chunks")}
            dropped |= had - wanted
            to_read = (to_read & wanted) | (wanted - had - removed)
        table.executemany("DELETE FROM chunks WHERE chunk_id = ?", ((c,) for c in dropped))
        fresh = sentences.read_chunks(sorted(to_read))
        if any(len(s.vector) != older.dimension for found in fresh.values() for s in found):
            log.warning("sentence vectors changed dimension; reading every sentence")
            return False
        added = [s for chunk_id in sorted(fresh) for s in fresh[chunk_id]]
        fresh_rows = _Rows(
            _half([s.vector for s in added], older.dimension),
            np.asarray([(s.start, s.end) for s in added], dtype=np.int32).reshape(-1, 2),
            np.asarray([_nan(s.polarity) for s in added], dtype=np.float64),
        )
        used = dict(table.execute("SELECT segment, SUM(row_count) FROM chunks GROUP BY segment"))
        sizes = older.segment_rows()
        live = sum(used.values()) + len(added)
        total = sum(sizes[name] for name in used) + len(added)
        if total - live > _MAX_UNUSED_SHARE * total or len(used) + 1 > _MAX_SEGMENTS:
            kept = [
                ChunkRows(*row)
                for row in table.execute(
                    "SELECT chunk_id, segment, first_row, row_count FROM chunks"
                    " ORDER BY segment, first_row"
                )
            ]
            table.close()
            rows, segments = _compact(folder, older, kept, fresh, fresh_rows)
            _write_table(table_path, rows)
            log.info("sentence snapshot: %d rows compacted into one segment", live)
        else:
            for name in used:
                for file in segment_files(name):
                    _link(older.folder / file, folder / file)
            segments = {name: sizes[name] for name in used}
            if added:
                name = _new_segment_name()
                _write_segment(folder, name, older.dimension, fresh_rows, [fresh_rows.vectors])
                segments[name] = len(added)
                table.executemany(
                    "INSERT INTO chunks VALUES (?, ?, ?, ?)",
                    (
                        (r.chunk_id, r.segment, r.first, r.count)
                        for r in _chunk_rows(name, 0, sorted(fresh), fresh)
                    ),
                )
            table.commit()
    finally:
        table.close()
    _publish(folder, older.dimension, segments)
    log.info(
        "sentence snapshot: %d chunks dropped, %d rows of %d chunks read",
        len(dropped),
        len(added),
        len(fresh),
    )
    return True


def _compact(
    folder: Path,
    older: SentenceSnapshot,
    kept: list[ChunkRows],
    fresh: dict[str, list[StoredSentence]],
    fresh_rows: _Rows,
) -> tuple[list[ChunkRows], dict[str, int]]:
    """Copy the kept rows of ``older`` and the fresh rows into one new segment."""
    import numpy as np

    name = _new_segment_name()
    table: list[ChunkRows] = []
    runs: list[tuple[str, int, int]] = []  # kept rows as runs: segment, first, end
    row = 0
    for rows in kept:
        table.append(ChunkRows(rows.chunk_id, name, row, rows.count))
        row += rows.count
        if runs and runs[-1][0] == rows.segment and runs[-1][2] == rows.first:
            runs[-1] = (rows.segment, runs[-1][1], rows.first + rows.count)
        else:
            runs.append((rows.segment, rows.first, rows.first + rows.count))
    table.extend(_chunk_rows(name, row, sorted(fresh), fresh))
    pieces = [
        (segment, start, min(end, start + _COPY_ROWS) - start)
        for segment, first, end in runs
        for start in range(first, end, _COPY_ROWS)
    ]
    spans = [older.spans(segment, first, count) for segment, first, count in pieces]
    polarities = [older.polarities(segment, first, count) for segment, first, count in pieces]

    def vectors() -> Iterator[npt.NDArray[np.float16]]:
        for segment, first, count in pieces:
            yield older.vectors(segment, first, count)
        yield fresh_rows.vectors

    merged = _Rows(
        fresh_rows.vectors,
        np.concatenate([*spans, fresh_rows.spans]),
        np.concatenate([*polarities, fresh_rows.polarities]),
    )
    _write_segment(folder, name, older.dimension, merged, vectors())
    return table, {name: len(merged.spans)}


def _write_full(sentences: SentenceStore, folder: Path, *, wanted: set[str] | None) -> None:
    """Read every sentence from the store, group the rows by chunk, and write one segment."""
    import numpy as np

    unsorted = folder / f"vectors.unsorted{_PARTIAL}"
    chunk_codes: dict[str, int] = {}
    codes: list[int] = []
    spans: list[tuple[int, int]] = []
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
                vectors = _half([page.vectors[i] for i in keep], dimension or None)
                dimension = int(vectors.shape[1])
                raw.write(vectors.tobytes())
                for i in keep:
                    metadata = page.metadatas[i]
                    chunk_id = str(metadata["chunk_id"])
                    codes.append(chunk_codes.setdefault(chunk_id, len(chunk_codes)))
                    spans.append((int(metadata["start"]), int(metadata["end"])))
                    polarities.append(_nan(metadata.get("polarity")))
        rows = len(codes)
        # Rows ordered by chunk id, then start: a chunk's rows are one run, in order.
        names = sorted(chunk_codes)
        rank_of_code = np.empty(len(names), dtype=np.int64)
        for rank, chunk_id in enumerate(names):
            rank_of_code[chunk_codes[chunk_id]] = rank
        chunk_rank = rank_of_code[np.asarray(codes, dtype=np.int64)]
        span_array = np.asarray(spans, dtype=np.int32).reshape(-1, 2)
        order = np.lexsort((span_array[:, 0], chunk_rank))
        counts = np.bincount(chunk_rank, minlength=len(names))
        firsts = np.cumsum(counts) - counts
        name = _new_segment_name()
        table = [
            ChunkRows(chunk_id, name, int(firsts[r]), int(counts[r]))
            for r, chunk_id in enumerate(names)
        ]
        source = (
            np.memmap(unsorted, dtype=np.float16, mode="r", shape=(rows, dimension))
            if rows
            else np.zeros((0, dimension), np.float16)
        )
        blocks = (source[order[at : at + _COPY_ROWS]] for at in range(0, rows, _COPY_ROWS))
        ordered = _Rows(
            np.zeros((0, dimension), np.float16),
            span_array[order],
            np.asarray(polarities, dtype=np.float64)[order],
        )
        _write_segment(folder, name, dimension, ordered, blocks)
        _write_table(folder / (CHUNKS + _PARTIAL), table)
        _publish(folder, dimension, {name: rows})
    finally:
        unsorted.unlink(missing_ok=True)
    if wanted is not None and (missing := len(wanted - chunk_codes.keys())):
        log.info("sentence snapshot: %d chunks have no stored sentences", missing)
    log.info("sentence snapshot: %d rows of %d chunks written", rows, len(chunk_codes))


def _chunk_rows(
    segment: str, first: int, chunk_ids: Sequence[str], found: dict[str, list[StoredSentence]]
) -> list[ChunkRows]:
    table = []
    for chunk_id in chunk_ids:
        table.append(ChunkRows(chunk_id, segment, first, len(found[chunk_id])))
        first += len(found[chunk_id])
    return table


def _write_segment(
    folder: Path,
    name: str,
    dimension: int,
    rows: _Rows,
    vectors: Iterable[npt.NDArray[np.float16]],
) -> None:
    """Write a segment's files under temporary names and move each into place; the
    vectors come in blocks, in the order of ``rows``' spans."""
    import numpy as np

    vectors_name, spans_name, polarities_name = segment_files(name)
    count = len(rows.spans)
    with (folder / (vectors_name + _PARTIAL)).open("wb") as file:
        header = {"descr": "<f2", "fortran_order": False, "shape": (count, dimension)}
        np.lib.format.write_array_header_1_0(file, header)
        written = 0
        for block in vectors:
            file.write(np.ascontiguousarray(block, dtype="<f2").tobytes())
            written += len(block)
        if written != count:
            raise ValueError(f"{written} sentence vectors for {count} sentences")
        file.flush()
        os.fsync(file.fileno())
    for file_name, array in ((spans_name, rows.spans), (polarities_name, rows.polarities)):
        with (folder / (file_name + _PARTIAL)).open("wb") as file:
            np.save(file, array)
            file.flush()
            os.fsync(file.fileno())
    for file_name in segment_files(name):
        os.replace(folder / (file_name + _PARTIAL), folder / file_name)


def _write_table(path: Path, table: Iterable[ChunkRows]) -> None:
    path.unlink(missing_ok=True)
    connection = sqlite3.connect(path)
    try:
        connection.execute(
            "CREATE TABLE chunks (chunk_id TEXT PRIMARY KEY, segment TEXT NOT NULL,"
            " first_row INTEGER NOT NULL, row_count INTEGER NOT NULL) WITHOUT ROWID"
        )
        connection.executemany(
            "INSERT INTO chunks VALUES (?, ?, ?, ?)",
            ((r.chunk_id, r.segment, r.first, r.count) for r in table),
        )
        connection.commit()
    finally:
        connection.close()


def _publish(folder: Path, dimension: int, segments: dict[str, int]) -> None:
    """Move the written chunk table into place, then write the manifest that makes the
    folder open."""
    partial = folder / (CHUNKS + _PARTIAL)
    with partial.open("rb+") as file:
        os.fsync(file.fileno())
    os.replace(partial, folder / CHUNKS)
    manifest = {"format": FORMAT, "dimension": dimension, "segments": segments}
    with (folder / (MANIFEST + _PARTIAL)).open("w", encoding="utf-8") as file:
        json.dump(manifest, file)
        file.flush()
        os.fsync(file.fileno())
    os.replace(folder / (MANIFEST + _PARTIAL), folder / MANIFEST)


def _link(source: Path, target: Path) -> None:
    """Share an immutable segment file with the previous folder (copy it where links fail)."""
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _new_segment_name() -> str:
    return secrets.token_hex(6)


def _load(path: Path, shape: tuple[int, ...], dtype: Any) -> Any:
    import numpy as np

    array = np.load(path, mmap_mode="r") if shape[0] else np.load(path)
    if array.shape != shape or array.dtype != np.dtype(dtype):
        raise ValueError(f"{path.name} holds {array.shape} {array.dtype}, not {shape} {dtype}")
    return array


def _half(vectors: Sequence[Any], dimension: int | None) -> npt.NDArray[np.float16]:
    import numpy as np

    half = np.asarray(vectors, dtype=np.float32).astype(np.float16)
    if not len(vectors):
        return half.reshape(0, dimension or 0)
    if half.ndim != 2 or (dimension is not None and half.shape[1] != dimension):
        raise ValueError(f"sentence vectors of shape {half.shape}, not rows of {dimension}")
    if not np.isfinite(half).all():
        raise ValueError("sentence vectors do not fit float16")
    return half


def _nan(polarity: object) -> float:
    return float(polarity) if isinstance(polarity, int | float) else float("nan")


def _polarity(value: float) -> float | None:
    return None if value != value else value  # NaN marks an unknown polarity
