"""One generation of the index as questions read it, written once by the indexer.

A snapshot folder ``<root>/<generation>/`` holds the chunks, reviews and per-work
vocabulary in SQLite, the BM25 index (memory-mapped when opened), the pickled catalogue
and the sentences. It is written as ``<generation>.partial`` and renamed into place, so a
reader sees a whole generation or none. A bot opens it instead of scanning the store.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import pickle
import shutil
import sqlite3
import threading
import time
import weakref
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from index.keyword import KeywordIndex, tokenize
from index.records import Review
from index.store import ReviewStore, StoredChunk, rank_by_similarity, review_from_metadata

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from index.catalog import Catalog, ReviewSource
    from index.sentence_snapshot import SentenceSnapshot
    from index.titles import Translator

log = logging.getLogger(__name__)

FORMAT = 3
PARTIAL = ".partial"
KEEP = 2
DATABASE = "snapshot.sqlite"
KEYWORD = "keyword"
CATALOG = "catalog.pickle"
SENTENCES = "sentences"
MANIFEST = "manifest.json"
# Names the generation the store published last, so a bot finds it without opening the store.
CURRENT = "CURRENT"
_PAGE = 2000
# Bound parameters per statement, well under SQLite's limit.
_BATCH = 500
# Both stemmers count: a German word in an English review still names the work.
_VOCABULARY_LANGUAGES = ("de", "en")

_SCHEMA = """
CREATE TABLE chunks (
    chunk_id TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    review_id TEXT NOT NULL,
    work_id TEXT,
    chunk_index INTEGER NOT NULL,
    language TEXT NOT NULL,
    text TEXT NOT NULL,
    tokens TEXT NOT NULL,
    metadata TEXT NOT NULL
);
CREATE INDEX chunks_by_work ON chunks (work_id, review_id, chunk_index);
CREATE INDEX chunks_by_review ON chunks (review_id, chunk_index);
CREATE INDEX chunks_by_position ON chunks (position);
CREATE TABLE reviews (
    review_id TEXT PRIMARY KEY,
    work_id TEXT,
    metadata TEXT NOT NULL
);
CREATE INDEX reviews_by_work ON reviews (work_id);
CREATE TABLE works (
    work INTEGER PRIMARY KEY,
    work_id TEXT NOT NULL UNIQUE
);
CREATE TABLE vocabulary (
    work INTEGER NOT NULL,
    term TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (work, term)
) WITHOUT ROWID;
CREATE TABLE vectors (
    chunk_id TEXT PRIMARY KEY,
    vector BLOB NOT NULL
);
CREATE TABLE term_totals (
    term TEXT PRIMARY KEY,
    total INTEGER NOT NULL
) WITHOUT ROWID;
"""

_CHUNK_COLUMNS = "chunk_id, text, metadata"


def snapshot_root(data_dir: Path, collection: str) -> Path:
    """Where the snapshots of ``collection`` live."""
    return data_dir / "snapshots" / collection


def published_generation(root: Path, location: str, embedder: str) -> str | None:
    """The generation the indexer published last under ``root`` into the store at
    ``location`` (index.store.store_location) with vectors of ``embedder``; None when it is
    not recorded, or recorded for another store that keeps its snapshots here too, or for
    another embedder (whose vectors a question's must not be compared with)."""
    try:
        lines = (root / CURRENT).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    if len(lines) != 3 or lines[1] != location or lines[2] != embedder:
        return None
    return lines[0].strip() or None


def record_published(root: Path, generation: str, location: str, embedder: str) -> None:
    """Record ``generation`` as the one published into the store at ``location`` with
    vectors of ``embedder``, once the store has published it."""
    if published_generation(root, location, embedder) == generation:
        return
    root.mkdir(parents=True, exist_ok=True)
    partial = root / f"{CURRENT}{PARTIAL}"
    partial.write_text(f"{generation}\n{location}\n{embedder}\n", encoding="utf-8")
    partial.replace(root / CURRENT)


def is_published(root: Path, generation: str) -> bool:
    """Whether ``generation`` has a whole snapshot under ``root`` in this code's format."""
    return bool(generation) and _manifest(root / generation) is not None


# -- reading -------------------------------------------------------------------------


class _Database:
    """A read-only SQLite connection shared by threads, one statement at a time."""

    def __init__(self, path: Path) -> None:
        uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
        self._connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self._lock = threading.Lock()

    def rows(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._connection.execute(sql, parameters).fetchall()

    def close(self) -> None:
        with self._lock:
            self._connection.close()


def _chunk(row: tuple[Any, ...]) -> StoredChunk:
    chunk_id, text, metadata = row
    return StoredChunk(str(chunk_id), str(text), json.loads(metadata))


def _batches(values: Iterable[str], size: int = _BATCH) -> Iterator[list[str]]:
    iterator = iter(values)
    while batch := list(islice(iterator, size)):
        yield batch


def _marks(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))


class SnapshotChunks(Mapping[str, StoredChunk]):
    """The snapshot's chunks by id; lookups are point queries, iteration is a scan."""

    def __init__(self, database: _Database, count: int) -> None:
        self._database = database
        self._count = count

    def __getitem__(self, chunk_id: str) -> StoredChunk:
        rows = self._database.rows(
            f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE chunk_id = ?", (chunk_id,)
        )
        if not rows:
            raise KeyError(chunk_id)
        return _chunk(rows[0])

    def __contains__(self, chunk_id: object) -> bool:
        if not isinstance(chunk_id, str):
            return False
        return bool(self._database.rows("SELECT 1 FROM chunks WHERE chunk_id = ?", (chunk_id,)))

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[str]:
        rows = self._database.rows("SELECT chunk_id FROM chunks ORDER BY position")
        return iter([str(r[0]) for r in rows])

    def many(self, chunk_ids: Iterable[str]) -> dict[str, StoredChunk]:
        """The chunks of ``chunk_ids`` that the snapshot holds, by id."""
        found: dict[str, StoredChunk] = {}
        for batch in _batches(dict.fromkeys(chunk_ids)):
            rows = self._database.rows(
                f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE chunk_id IN ({_marks(batch)})", batch
            )
            found.update((c.chunk_id, c) for c in map(_chunk, rows))
        return found


class Snapshot:
    """One published generation, opened read-only; safe to share between threads.

    It is also the catalogue's review source: reviews and vocabulary come from its
    SQLite, a work or a few at a time.
    """

    def __init__(
        self,
        folder: Path,
        generation: str,
        database: _Database,
        chunk_count: int,
        keyword: KeywordIndex,
        catalog: Catalog,
        sentences: SentenceSnapshot,
    ) -> None:
        self.folder = folder
        self.generation = generation
        self._database = database
        self.chunks = SnapshotChunks(database, chunk_count)
        self.keyword = keyword
        self.catalog = catalog
        self.sentences = sentences
        self._closed = False

    @classmethod
    def open(cls, root: Path, generation: str) -> Snapshot | None:
        """The published snapshot of ``generation``; None when it is absent or incomplete."""
        if not generation or generation.endswith(PARTIAL) or Path(generation).name != generation:
            return None
        folder = root / generation
        manifest = _manifest(folder)
        if manifest is None:
            return None
        from index.sentence_snapshot import SentenceSnapshot

        try:
            database = _Database(folder / DATABASE)
        except sqlite3.Error:
            return None
        keyword = KeywordIndex.load(folder / KEYWORD, mmap=True)
        sentences = SentenceSnapshot.open(folder / SENTENCES)
        try:
            catalog = _unpickle((folder / CATALOG).read_bytes())
        except (OSError, pickle.UnpicklingError, EOFError):
            catalog = None
        if keyword is None or sentences is None or catalog is None:
            database.close()
            if sentences is not None:
                sentences.close()
            return None
        snapshot = cls(
            folder, generation, database, int(manifest["chunks"]), keyword, catalog, sentences
        )
        # The catalogue reads through the snapshot without keeping it alive: a snapshot
        # nobody uses any more closes its files at once (see __del__).
        catalog.attach(cast("ReviewSource", weakref.proxy(snapshot)))
        return snapshot

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._database.close()
            self.sentences.close()

    def __del__(self) -> None:
        self.close()

    def chunks_of_works(self, work_ids: Sequence[str]) -> list[StoredChunk]:
        """Every chunk of the works ``work_ids``, by review and then place in the review."""
        found: list[StoredChunk] = []
        for batch in _batches(dict.fromkeys(work_ids)):
            found.extend(
                map(
                    _chunk,
                    self._database.rows(
                        f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE work_id IN ({_marks(batch)})"
                        " ORDER BY review_id, chunk_index",
                        batch,
                    ),
                )
            )
        if len(work_ids) > _BATCH:
            found.sort(key=lambda c: (c.review_id, int(c.metadata["chunk_index"])))
        return found

    def keyword_mask(self, work_ids: Sequence[str]) -> npt.NDArray[np.float32]:
        """A weight mask for :meth:`KeywordIndex.search` keeping the chunks of ``work_ids``."""
        import numpy as np

        mask = np.zeros(len(self.keyword.chunk_ids), dtype=np.float32)
        for batch in _batches(dict.fromkeys(work_ids)):
            rows = self._database.rows(
                f"SELECT position FROM chunks WHERE work_id IN ({_marks(batch)})", batch
            )
            mask[[int(r[0]) for r in rows]] = 1.0
        return mask

    def similarity(
        self, vector: Sequence[float], chunk_ids: Sequence[str]
    ) -> list[tuple[str, float]]:
        """These chunks' cosine similarity to ``vector``, best first, from the vectors the
        store held at this generation: no vector index is loaded for a few works' chunks."""
        import numpy as np

        ids: list[str] = []
        rows: list[bytes] = []
        for batch in _batches(dict.fromkeys(chunk_ids)):
            for chunk_id, blob, _ in self._database.rows(
                "SELECT v.chunk_id, v.vector, c.position FROM vectors AS v"
                f" JOIN chunks AS c USING (chunk_id) WHERE v.chunk_id IN ({_marks(batch)})"
                " ORDER BY c.position",
                batch,
            ):
                ids.append(str(chunk_id))
                rows.append(blob)
        if not ids:
            return []
        matrix = np.frombuffer(b"".join(rows), dtype=np.float32).reshape(len(ids), -1)
        return rank_by_similarity(ids, matrix, vector)

    def all_vectors(self) -> tuple[list[str], npt.NDArray[np.float32]]:
        """Every chunk's id and vector, in the order the chunks were stored (for an exact
        search of a small index)."""
        import numpy as np

        rows = self._database.rows(
            "SELECT v.chunk_id, v.vector FROM vectors AS v"
            " JOIN chunks AS c USING (chunk_id) ORDER BY c.position"
        )
        if not rows:
            return [], np.zeros((0, 0), dtype=np.float32)
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
        return [str(r[0]) for r in rows], matrix.reshape(len(rows), -1)

    # -- the catalogue's review source ------------------------------------------------

    def reviews(self) -> list[Review]:
        """Every review (metadata only), by id: a scan, for the rare question that needs it."""
        rows = self._database.rows("SELECT metadata FROM reviews ORDER BY review_id")
        return [review_from_metadata(json.loads(r[0])) for r in rows]

    def reviews_of(self, work_ids: Sequence[str]) -> list[Review]:
        """The reviews of ``work_ids``, by id."""
        rows: list[tuple[Any, ...]] = []
        for batch in _batches(dict.fromkeys(work_ids)):
            rows.extend(
                self._database.rows(
                    f"SELECT review_id, metadata FROM reviews WHERE work_id IN ({_marks(batch)})",
                    batch,
                )
            )
        return [review_from_metadata(json.loads(m)) for _, m in sorted(rows)]

    def reviews_with_ids(self, review_ids: Sequence[str]) -> list[Review]:
        """The reviews of ``review_ids`` (unknown ids are left out), by id."""
        rows: list[tuple[Any, ...]] = []
        for batch in _batches(dict.fromkeys(review_ids)):
            rows.extend(
                self._database.rows(
                    f"SELECT review_id, metadata FROM reviews WHERE review_id IN ({_marks(batch)})",
                    batch,
                )
            )
        return [review_from_metadata(json.loads(m)) for _, m in sorted(rows)]

    def vocabulary(self, work_ids: Sequence[str], terms: Sequence[str]) -> dict[str, Counter[str]]:
        """How many chunks of each work hold each of ``terms`` (absent terms are left out)."""
        found: dict[str, Counter[str]] = {w: Counter() for w in work_ids}
        wanted_terms = list(dict.fromkeys(terms))
        if not wanted_terms:
            return found
        for works in _batches(found, _BATCH // 2):
            for words in _batches(wanted_terms, _BATCH // 2):
                rows = self._database.rows(
                    "SELECT w.work_id, v.term, v.count FROM works AS w"
                    " JOIN vocabulary AS v ON v.work = w.work"
                    f" WHERE w.work_id IN ({_marks(works)}) AND v.term IN ({_marks(words)})",
                    [*works, *words],
                )
                for work_id, term, count in rows:
                    found[work_id][term] = int(count)
        return found


def _unpickle(data: bytes) -> Any:
    """Unpickle without the cyclic garbage collector: it would walk every object made so
    far each few hundred allocations (half the load time of a 40k-review catalogue)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return pickle.loads(data)
    finally:
        if enabled:
            gc.enable()


def _manifest(folder: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return None
    return manifest


# -- writing -------------------------------------------------------------------------


def write_snapshot(
    store: ReviewStore,
    root: Path,
    generation: str,
    *,
    previous: str | None = None,
    changed: Collection[str] = (),
    removed: Collection[str] = (),
    lexicon: Translator | None = None,
) -> Path:
    """Write and publish the snapshot of ``generation``; returns its folder.

    With ``previous`` (a published generation under ``root``) its snapshot is copied and
    the delta applied: ``changed`` chunk ids (new or updated) are read from the store by
    id, ``removed`` ones dropped. Otherwise the store is read once, a page at a time.
    The keyword index and the catalogue are rebuilt from the snapshot's own tables.
    """
    from index.sentence_snapshot import write_sentence_snapshot
    from index.sentence_store import SentenceStore

    started = time.perf_counter()
    root.mkdir(parents=True, exist_ok=True)
    final = root / generation
    partial = root / f"{generation}{PARTIAL}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    base = root / previous if previous and _manifest(root / previous) is not None else None

    database = partial / DATABASE
    if base is not None:
        shutil.copyfile(base / DATABASE, database)
    connection = sqlite3.connect(database)
    try:
        if base is None:
            connection.executescript(_SCHEMA)
            _fill(connection, store.iter_chunks())
            _put_vectors(connection, store.iter_vectors())
        else:
            _apply_delta(connection, store, changed=set(changed), removed=set(removed))
        connection.commit()
        chunk_ids = [str(r[0]) for r in connection.execute("SELECT chunk_id FROM chunks")]
        write_sentence_snapshot(
            SentenceStore(store),
            partial / SENTENCES,
            previous=base / SENTENCES if base is not None else None,
            chunk_ids_changed=chunk_ids if base is None else set(changed),
            chunk_ids_removed=set(removed) if base is not None else (),
            all_chunk_ids=chunk_ids,
        )
        _keyword_index(connection).save(partial / KEYWORD)
        catalog = _catalog(connection, lexicon)
        (partial / CATALOG).write_bytes(pickle.dumps(catalog, protocol=pickle.HIGHEST_PROTOCOL))
        manifest = {"format": FORMAT, "generation": generation, "chunks": len(chunk_ids)}
    finally:
        connection.close()
    (partial / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    _sync_tree(partial)
    shutil.rmtree(final, ignore_errors=True)
    partial.rename(final)
    os.utime(final)
    _sync_directory(root)
    _remove_old(root, keep=final)
    log.info(
        "snapshot %s written (%s, %d chunks) in %.2f s",
        generation,
        f"delta on {previous}" if base is not None else "full",
        manifest["chunks"],
        time.perf_counter() - started,
    )
    return final


class _Stems:
    """A chunk text's German and English stems, each made once."""

    def __init__(self, text: str) -> None:
        self.by_language = {lang: tokenize(text, language=lang) for lang in _VOCABULARY_LANGUAGES}

    def of(self, language: str) -> list[str]:
        """The stems the keyword index uses for a chunk in ``language``."""
        # tokenize stems and stops every language but German as English.
        return self.by_language["de" if language == "de" else "en"]

    def in_work(self, work_id: str) -> Counter[tuple[str, str]]:
        """What the chunk adds to its work's vocabulary: 1 per stemmer that finds a stem."""
        counts: Counter[tuple[str, str]] = Counter()
        for stems in self.by_language.values():
            counts.update((work_id, t) for t in set(stems))
        return counts


def _language(chunk: StoredChunk) -> str:
    return str(chunk.metadata.get("language", "de"))


def _chunk_row(chunk: StoredChunk, position: int, stems: _Stems) -> tuple[object, ...]:
    metadata = chunk.metadata
    work_id = metadata.get("work_id")
    return (
        chunk.chunk_id,
        position,
        str(metadata["review_id"]),
        None if work_id is None else str(work_id),
        int(metadata["chunk_index"]),
        _language(chunk),
        chunk.text,
        " ".join(stems.of(_language(chunk))),
        json.dumps(metadata, ensure_ascii=False, sort_keys=True),
    )


def _insert_chunks(
    connection: sqlite3.Connection,
    chunks: Sequence[tuple[StoredChunk, _Stems]],
    first_position: int,
) -> None:
    connection.executemany(
        "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [_chunk_row(c, first_position + i, stems) for i, (c, stems) in enumerate(chunks)],
    )


def _fill(connection: sqlite3.Connection, chunks: Iterator[StoredChunk]) -> None:
    """Every chunk of the store, with its reviews and vocabulary (a full build)."""
    position = 0
    review_ids: set[str] = set()
    while page := [(c, _Stems(c.text)) for c in islice(chunks, _PAGE)]:
        _insert_chunks(connection, page, position)
        position += len(page)
        vocabulary: Counter[tuple[str, str]] = Counter()
        for chunk, stems in page:
            vocabulary.update(stems.in_work(str(chunk.metadata.get("work_id", ""))))
            review_ids.add(chunk.review_id)
        _add_vocabulary(connection, vocabulary)
    _refresh_reviews(connection, review_ids)


def _apply_delta(
    connection: sqlite3.Connection, store: ReviewStore, *, changed: set[str], removed: set[str]
) -> None:
    """Drop ``removed`` chunks and write ``changed`` ones as the store holds them now."""
    fresh = {c.chunk_id: c for c in store.get_chunks(sorted(changed))}
    gone = (removed | changed) - fresh.keys()
    touched = sorted(gone | fresh.keys())
    old: dict[str, tuple[str, str, str]] = {}
    for batch in _batches(touched):
        for chunk_id, review_id, work_id, text in connection.execute(
            "SELECT chunk_id, review_id, work_id, text FROM chunks"
            f" WHERE chunk_id IN ({_marks(batch)})",
            batch,
        ):
            old[chunk_id] = (review_id, work_id or "", text)

    vocabulary: Counter[tuple[str, str]] = Counter()
    review_ids: set[str] = set()
    stems = {c: _Stems(chunk.text) for c, chunk in fresh.items()}
    for chunk_id in touched:
        before = old.get(chunk_id)
        after = fresh.get(chunk_id)
        new_work = str(after.metadata.get("work_id", "")) if after else ""
        same = before is not None and after is not None and before[1:] == (new_work, after.text)
        if before is not None:
            review_ids.add(before[0])
            if not same:
                vocabulary.subtract(_Stems(before[2]).in_work(before[1]))
        if after is not None:
            review_ids.add(after.review_id)
            if not same:
                vocabulary.update(stems[chunk_id].in_work(new_work))

    updated = [c for c in sorted(fresh) if c in old]
    for batch in _batches(sorted(gone)):
        connection.execute(f"DELETE FROM chunks WHERE chunk_id IN ({_marks(batch)})", batch)
    for batch in _batches(touched):
        connection.execute(f"DELETE FROM vectors WHERE chunk_id IN ({_marks(batch)})", batch)
    _put_vectors(connection, store.vectors_of(sorted(fresh)))
    connection.executemany(
        "UPDATE chunks SET review_id = ?, work_id = ?, chunk_index = ?, language = ?,"
        " text = ?, tokens = ?, metadata = ? WHERE chunk_id = ?",
        [(*row[2:], row[0]) for row in (_chunk_row(fresh[c], 0, stems[c]) for c in updated)],
    )
    end = connection.execute("SELECT COALESCE(MAX(position) + 1, 0) FROM chunks").fetchone()[0]
    added = [(fresh[c], stems[c]) for c in sorted(fresh) if c not in old]
    _insert_chunks(connection, added, int(end))
    _add_vocabulary(connection, vocabulary)
    _refresh_reviews(connection, review_ids)
    # Keyword documents are numbered by position: close the gaps removed chunks left.
    connection.execute(
        "UPDATE chunks SET position = ranked.number FROM"
        " (SELECT chunk_id, ROW_NUMBER() OVER (ORDER BY position) - 1 AS number FROM chunks)"
        " AS ranked WHERE chunks.chunk_id = ranked.chunk_id AND chunks.position != ranked.number"
    )


def _put_vectors(
    connection: sqlite3.Connection, pages: Iterable[tuple[list[str], npt.NDArray[np.float32]]]
) -> None:
    """Store each chunk's vector as the store holds it (float32 bytes, for exact scores)."""
    for ids, vectors in pages:
        connection.executemany(
            "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
            [(chunk_id, vector.tobytes()) for chunk_id, vector in zip(ids, vectors, strict=True)],
        )


def _work_keys(connection: sqlite3.Connection, work_ids: set[str]) -> dict[str, int]:
    """The vocabulary's number for each work id (work ids are long; counts are many)."""
    connection.executemany(
        "INSERT OR IGNORE INTO works (work_id) VALUES (?)", [(w,) for w in sorted(work_ids)]
    )
    keys: dict[str, int] = {}
    for batch in _batches(sorted(work_ids)):
        keys.update(
            connection.execute(
                f"SELECT work_id, work FROM works WHERE work_id IN ({_marks(batch)})", batch
            ).fetchall()
        )
    return keys


def _add_vocabulary(connection: sqlite3.Connection, delta: Counter[tuple[str, str]]) -> None:
    """Add ``delta`` (negative to take away) to the work vocabulary and the term totals."""
    keys = _work_keys(connection, {w for (w, _), n in delta.items() if n})
    changes = [(keys[w], t, n) for (w, t), n in delta.items() if n]
    if not changes:
        return
    connection.executemany(
        "INSERT INTO vocabulary VALUES (?, ?, ?)"
        " ON CONFLICT (work, term) DO UPDATE SET count = count + excluded.count",
        changes,
    )
    totals: Counter[str] = Counter()
    for _, term, n in changes:
        totals[term] += n
    connection.executemany(
        "INSERT INTO term_totals VALUES (?, ?)"
        " ON CONFLICT (term) DO UPDATE SET total = total + excluded.total",
        [(t, n) for t, n in totals.items() if n],
    )
    connection.executemany(
        "DELETE FROM vocabulary WHERE work = ? AND term = ? AND count <= 0",
        [(w, t) for w, t, n in changes if n < 0],
    )
    connection.executemany(
        "DELETE FROM term_totals WHERE term = ? AND total <= 0",
        [(t,) for t, n in totals.items() if n < 0],
    )


def _refresh_reviews(connection: sqlite3.Connection, review_ids: Iterable[str]) -> None:
    """Rewrite the rows of ``review_ids`` from their first chunks (gone if none is left)."""
    for batch in _batches(sorted(review_ids)):
        marks = _marks(batch)
        connection.execute(f"DELETE FROM reviews WHERE review_id IN ({marks})", batch)
        connection.execute(
            "INSERT INTO reviews SELECT c.review_id, c.work_id, c.metadata FROM chunks AS c"
            f" WHERE c.review_id IN ({marks}) AND c.chunk_index ="
            " (SELECT MIN(chunk_index) FROM chunks WHERE review_id = c.review_id)",
            batch,
        )


def _keyword_index(connection: sqlite3.Connection) -> KeywordIndex:
    chunk_ids: list[str] = []
    tokens: list[list[str]] = []
    languages: set[str] = set()
    for chunk_id, language, stems in connection.execute(
        "SELECT chunk_id, language, tokens FROM chunks ORDER BY position"
    ):
        chunk_ids.append(chunk_id)
        tokens.append(stems.split())
        languages.add(language)
    return KeywordIndex.from_tokens(chunk_ids, tokens, sorted(languages))


class _WorkVocabulary(Mapping[str, Counter[str]]):
    """The vocabulary table as index.search.work_vocabulary's dict, read a work at a time.

    Its keys are the works that have chunks ("" for chunks of no work), as there.
    """

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self._works: frozenset[str] | None = None

    def _keys(self) -> frozenset[str]:
        if self._works is None:
            rows = self._connection.execute("SELECT DISTINCT work_id FROM chunks").fetchall()
            self._works = frozenset(str(r[0] or "") for r in rows)
        return self._works

    def __getitem__(self, work_id: str) -> Counter[str]:
        if work_id not in self._keys():
            raise KeyError(work_id)
        rows = self._connection.execute(
            "SELECT term, count FROM vocabulary"
            " WHERE work = (SELECT work FROM works WHERE work_id = ?)",
            (work_id,),
        ).fetchall()
        return Counter({str(t): int(n) for t, n in rows})

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._keys()))

    def __len__(self) -> int:
        return len(self._keys())


def _catalog(connection: sqlite3.Connection, lexicon: Translator | None) -> Catalog:
    from index.catalog import Catalog

    reviews = [
        review_from_metadata(json.loads(m))
        for (m,) in connection.execute("SELECT metadata FROM reviews ORDER BY review_id")
    ]
    totals = Counter(
        {str(t): int(n) for t, n in connection.execute("SELECT term, total FROM term_totals")}
    )
    return Catalog.build(
        reviews, vocabulary=_WorkVocabulary(connection), term_totals=totals, lexicon=lexicon
    )


def _sync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
        else:
            _sync_directory(path)
    _sync_directory(folder)


def _sync_directory(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove_old(root: Path, *, keep: Path) -> None:
    """Remove folders a crash left half-written and all but the newest two generations."""
    published = []
    for entry in root.iterdir():
        if not entry.is_dir() or entry == keep:
            continue
        if entry.name.endswith(PARTIAL):
            shutil.rmtree(entry, ignore_errors=True)
        else:
            published.append(entry)
    published.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in published[KEEP - 1 :]:
        shutil.rmtree(old, ignore_errors=True)
