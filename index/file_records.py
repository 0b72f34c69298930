"""What the last index run read from each file, so that the next one reads only what changed.

Per file: its size, mtime and sha256, the review ids it gave and whether reading it failed;
per review: its chunk ids and its first chunk's metadata. The records are a small SQLite
file, tied to the store's generation: they are trusted only while the store still holds
the generation they were written with (another indexer, a rebuild or a dropped
collection makes a new one). A run that changes the store marks the records untrusted
before its first write and writes them afresh after publishing its generation, so a
run killed in between leaves records that the next run does not trust.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from index.store import Metadata

# Bump when what a record means changes: older records are then not trusted.
RECORDS_VERSION = 1
_HASH_BLOCK = 1 << 20

_SCHEMA = """
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT NOT NULL, root TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL, review_ids TEXT NOT NULL, failed INTEGER NOT NULL,
    PRIMARY KEY (path, root));
CREATE TABLE IF NOT EXISTS reviews (
    review_id TEXT PRIMARY KEY, source_path TEXT NOT NULL, chunk_ids TEXT NOT NULL,
    first TEXT NOT NULL);
"""


@dataclass(frozen=True)
class FileRecord:
    """One review file as the last run saw it; ``path`` and ``root`` as the walk found them."""

    path: str
    root: str
    size: int
    mtime_ns: int
    sha256: str
    review_ids: tuple[str, ...]
    failed: bool  # reading it failed or needed repairs: it is read again on every run

    @property
    def key(self) -> tuple[str, str]:
        return (self.path, self.root)


@dataclass(frozen=True)
class ReviewRecord:
    """One stored review: its chunk ids by position and its first chunk's metadata."""

    review_id: str
    chunk_ids: tuple[str, ...]
    first: Metadata

    @property
    def source_path(self) -> str:
        return str(self.first["source_path"])


@dataclass(frozen=True)
class FileState:
    """A file's size and mtime now (None when it cannot be looked at)."""

    size: int
    mtime_ns: int


def file_state(path: str) -> FileState | None:
    """Size and mtime of a regular file; None for anything else (a FIFO, a device)."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(status.st_mode):
        return None
    return FileState(status.st_size, status.st_mtime_ns)


def file_sha256(path: str) -> str | None:
    """The sha256 of a regular file's bytes; None when it cannot be read or is no regular
    file (opening a FIFO to read would wait for a writer for ever)."""
    digest = hashlib.sha256()
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return None
        with os.fdopen(descriptor, "rb", closefd=False) as file:
            while block := file.read(_HASH_BLOCK):
                digest.update(block)
    except OSError:
        return None
    finally:
        os.close(descriptor)
    return digest.hexdigest()


class FileRecords:
    """The records in one SQLite file (created on first write)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, isolation_level=None)
            connection.executescript(_SCHEMA)
            self._connection = connection
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def trusted(self, *, generation: str | None, settings: str) -> bool:
        """Whether the records describe the store at ``generation``, read with ``settings``."""
        if not generation or not self.path.exists():
            return False
        try:
            state = dict(self._db().execute("SELECT key, value FROM state").fetchall())
        except sqlite3.DatabaseError:
            return False
        return state == {
            "version": str(RECORDS_VERSION),
            "generation": generation,
            "settings": settings,
        }

    def files(self) -> dict[tuple[str, str], FileRecord]:
        rows = self._db().execute(
            "SELECT path, root, size, mtime_ns, sha256, review_ids, failed FROM files"
        )
        records = (
            FileRecord(path, root, size, mtime, sha, tuple(json.loads(ids)), bool(failed))
            for path, root, size, mtime, sha, ids, failed in rows
        )
        return {record.key: record for record in records}

    def review_sources(self) -> dict[str, str]:
        """Every stored review id with the file it comes from."""
        rows = self._db().execute("SELECT review_id, source_path FROM reviews")
        return dict(rows.fetchall())

    def reviews(self) -> dict[str, ReviewRecord]:
        rows = self._db().execute("SELECT review_id, chunk_ids, first FROM reviews")
        return {
            review_id: ReviewRecord(review_id, tuple(json.loads(ids)), json.loads(first))
            for review_id, ids, first in rows
        }

    def distrust(self) -> None:
        """Mark the records as not describing the store (before the store is written)."""
        if self.path.exists():
            self._db().execute("DELETE FROM state WHERE key = 'generation'")

    def retag(self, generation: str) -> None:
        """Record that the store, unchanged, was published again as ``generation``."""
        self._db().execute("INSERT OR REPLACE INTO state VALUES ('generation', ?)", (generation,))

    def touch(self, files: Iterable[FileRecord]) -> None:
        """Record new mtimes of files whose bytes did not change (the store is not touched)."""
        with _transaction(self._db()) as db:
            db.executemany(
                "UPDATE files SET size = ?, mtime_ns = ? WHERE path = ? AND root = ?",
                [(f.size, f.mtime_ns, f.path, f.root) for f in files],
            )

    def write(
        self,
        *,
        generation: str,
        settings: str,
        files: Sequence[FileRecord],
        dropped_files: Iterable[tuple[str, str]] = (),
        reviews: Mapping[str, ReviewRecord],
        dropped_reviews: Iterable[str] = (),
        replace: bool = False,
    ) -> None:
        """Record the store at ``generation``: the given files and reviews are written (all
        others dropped when ``replace``), the dropped ones deleted."""
        with _transaction(self._db()) as db:
            if replace:
                db.execute("DELETE FROM files")
                db.execute("DELETE FROM reviews")
            db.executemany(
                "DELETE FROM files WHERE path = ? AND root = ?", [tuple(k) for k in dropped_files]
            )
            db.executemany(
                "DELETE FROM reviews WHERE review_id = ?", [(r,) for r in dropped_reviews]
            )
            db.executemany(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        f.path,
                        f.root,
                        f.size,
                        f.mtime_ns,
                        f.sha256,
                        json.dumps(f.review_ids),
                        f.failed,
                    )
                    for f in files
                ],
            )
            db.executemany(
                "INSERT OR REPLACE INTO reviews VALUES (?, ?, ?, ?)",
                [
                    (r.review_id, r.source_path, json.dumps(r.chunk_ids), json.dumps(r.first))
                    for r in reviews.values()
                ],
            )
            db.execute("DELETE FROM state")
            db.executemany(
                "INSERT INTO state VALUES (?, ?)",
                [
                    ("version", str(RECORDS_VERSION)),
                    ("generation", generation),
                    ("settings", settings),
                ],
            )


class _transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> sqlite3.Connection:
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")
