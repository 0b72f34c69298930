"""Hybrid search: dense (Chroma) and BM25 results fused by reciprocal rank."""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from index.embedding import ReviewEmbedder
from index.errors import IndexEmptyError
from index.store import EMBEDDED, ReviewStore, StoredChunk, rank_by_similarity

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from index.snapshot import Snapshot
    from index.titles import Translator

log = logging.getLogger(__name__)

RRF_K = 60
# BM25 is the stronger signal when question and text share a language and the weaker
# one across languages (measured: DESIGN.md, "Hybrid retrieval").
KEYWORD_WEIGHT_SAME_LANGUAGE = 1.0
KEYWORD_WEIGHT_OTHER_LANGUAGE = 0.4
# Up to this many chunks, a search of every work in an embedded store scores each chunk
# exactly from the snapshot's vectors (read once per generation: 1.5 KB a chunk) instead of
# asking Chroma's approximate index, whose graph, and so its misses, differ from one build
# to the next; nor is the vector index loaded for the first question of a process. A bot set
# to a Chroma server searches the server.
EXACT_SEARCH_CHUNKS = 5_000


@dataclass(frozen=True)
class Hit:
    """A chunk found for a question, with the scores that ranked it."""

    chunk: StoredChunk
    score: float
    similarity: float
    keyword_score: float

    @property
    def review_id(self) -> str:
        return self.chunk.review_id


class HybridSearch:
    """Searches one store through the snapshot its indexer published for each generation.

    Each search works on the latest :class:`Snapshot`, opened when the store's generation
    changes (any process may have re-indexed); :meth:`pinned` gives a search that keeps to
    one snapshot, for a question that searches more than once.
    """

    def __init__(
        self,
        store: ReviewStore | Callable[[], ReviewStore],
        embedder: ReviewEmbedder,
        *,
        snapshots: Path,
        snapshot: Snapshot | None = None,
        lexicon: Translator | None = None,
        location: str = EMBEDDED,
    ) -> None:
        # A callable opens the store when a search first needs it: a question about named
        # works is answered from the snapshot alone.
        self._store_of = store if callable(store) else lambda: store
        self._embedder = embedder
        self._root = snapshots
        # The store's name (index.store.store_location): the generation named beside the
        # snapshots counts only when it was published into this store.
        self._location = location
        self._snapshot = snapshot
        self._pinned = snapshot is not None
        # The title translations a snapshot written here gives its catalogue, as the
        # indexer's do.
        self._lexicon = lexicon
        self._lock = threading.Lock()
        # The generation, chunk ids and vectors of a small index, for exact searches.
        self._vectors: tuple[str, list[str], npt.NDArray[np.float32]] | None = None

    @property
    def generation(self) -> str | None:
        snapshot = self._snapshot
        return snapshot.generation if snapshot else None

    @property
    def _store(self) -> ReviewStore:
        return self._store_of()

    def latest_generation(self) -> str:
        """The generation the store holds now ("" before the first index run): as the
        indexer named it beside the snapshots, or else as the store says."""
        from index.snapshot import is_published, published_generation

        named = published_generation(self._root, self._location, self._embedder.name)
        if named is not None and is_published(self._root, named):
            return named
        return str(self._store.fresh_state().get("generation") or "")

    def snapshot(self, generation: str | None = None) -> Snapshot:
        """The latest published generation of the store (or ``generation``, when the
        caller just read it), opened when it changed."""
        current = self._snapshot
        if self._pinned and current is not None:
            return current
        if generation is None:
            generation = self.latest_generation()
        if current is not None and current.generation == generation:
            return current
        from index.snapshot import Snapshot

        with self._lock:
            current = self._snapshot
            if current is not None and current.generation == generation:
                return current
            # The replaced generation goes before the next one loads, unless a question
            # still reads it: two catalogues at once would set the process's peak memory.
            kept = weakref.ref(current) if current is not None else None
            last = current.generation if current is not None else ""
            self._snapshot = current = None
            opened = Snapshot.open(self._root, generation) if generation else None
            if opened is None and last:
                # Not published here yet: keep the last one.
                previous = (kept() if kept is not None else None) or Snapshot.open(self._root, last)
                if previous is not None:
                    self._snapshot = previous
                    return previous
            if opened is None:
                opened = self._write_missing(generation)
            log.info("opened the snapshot of generation %s", generation)
            self._snapshot = opened
            return opened

    def _write_missing(self, generation: str) -> Snapshot:
        """The snapshot of an index made before indexers wrote one (written once, here)."""
        from index.snapshot import Snapshot, write_snapshot

        if not generation:
            raise IndexEmptyError("nothing is indexed yet: run `reviewbot index` first")
        log.warning(
            "the index has no snapshot of generation %s; writing it now "
            "(`reviewbot index` writes it at index time)",
            generation,
        )
        write_snapshot(self._store, self._root, generation, lexicon=self._lexicon)
        opened = Snapshot.open(self._root, generation)
        if opened is None:
            raise IndexEmptyError(f"the snapshot of generation {generation} cannot be read")
        return opened

    def pinned(self, snapshot: Snapshot | None = None) -> HybridSearch:
        """A search that answers from ``snapshot`` (default: the latest) only."""
        pinned = snapshot or self.snapshot()
        return HybridSearch(
            self._store_of,
            self._embedder,
            snapshots=self._root,
            snapshot=pinned,
            lexicon=self._lexicon,
            location=self._location,
        )

    def refresh(self) -> bool:
        """Open the latest snapshot if the store changed since; True when it did."""
        before = self._snapshot
        return self.snapshot() is not before

    def chunks(self) -> Mapping[str, StoredChunk]:
        return self.snapshot().chunks

    def search(
        self,
        question: str,
        *,
        language: str,
        k: int = 5,
        work_ids: Sequence[str] | None = None,
        keywords: str | None = None,
        candidates: int = 40,
        vector: Sequence[float] | None = None,
    ) -> list[Hit]:
        """The ``k`` best chunks for ``question``, optionally only from ``work_ids``.

        ``keywords`` replaces the question for BM25 (e.g. with synonyms added). Every
        hit is a chunk of one snapshot, as that snapshot holds it. ``vector`` is the
        question's embedding when the caller has it already.
        """
        snapshot = self.snapshot()
        if vector is None:
            vector = self._embedder.embed_query(question)
        if work_ids:
            # The works' few chunks are scored exactly from the snapshot's copy of their
            # vectors; a filtered search of the whole store costs a hundred times more at
            # 100k chunks, and reading them from an embedded store loads its vector index.
            ids = [c.chunk_id for c in snapshot.chunks_of_works(work_ids)]
            found = snapshot.similarity(vector, ids)[:candidates]
        elif self._location == EMBEDDED and len(snapshot.chunks) <= EXACT_SEARCH_CHUNKS:
            ids, matrix = self._all_vectors(snapshot)
            found = rank_by_similarity(ids, matrix, vector)[:candidates] if ids else []
        else:
            store = self._store
            store.fresh_state()  # reopened if another process re-indexed since it loaded
            found = store.nearest(vector, k=candidates)
        known = snapshot.chunks.many(chunk_id for chunk_id, _ in found)
        dense = [replace(known[i], score=score) for i, score in found if i in known]
        mask = snapshot.keyword_mask(work_ids) if work_ids else None
        keyword = snapshot.keyword.search(keywords or question, k=candidates, mask=mask)
        known.update(snapshot.chunks.many(c for c, _ in keyword if c not in known))
        return _fuse(dense, keyword, known, language=language)[:k]

    def _all_vectors(self, snapshot: Snapshot) -> tuple[list[str], npt.NDArray[np.float32]]:
        """The snapshot's chunk ids and vectors, read once per generation."""
        kept = self._vectors
        if kept is None or kept[0] != snapshot.generation:
            ids, matrix = snapshot.all_vectors()
            kept = self._vectors = (snapshot.generation, ids, matrix)
        return kept[1], kept[2]


def _fuse(
    dense: Sequence[StoredChunk],
    keyword: Sequence[tuple[str, float]],
    chunks: Mapping[str, StoredChunk],
    *,
    language: str,
) -> list[Hit]:
    scores: dict[str, float] = {}
    similarity: dict[str, float] = {}
    keyword_scores: dict[str, float] = {}
    found: dict[str, StoredChunk] = {}
    for rank, chunk in enumerate(dense):
        scores[chunk.chunk_id] = 1.0 / (RRF_K + rank + 1)
        similarity[chunk.chunk_id] = chunk.score
        found[chunk.chunk_id] = chunk
    for rank, (chunk_id, score) in enumerate(keyword):
        known = found.get(chunk_id) or chunks.get(chunk_id)
        if known is None:
            continue
        chunk = known
        same = chunk.metadata.get("language") == language
        weight = KEYWORD_WEIGHT_SAME_LANGUAGE if same else KEYWORD_WEIGHT_OTHER_LANGUAGE
        scores[chunk_id] = scores.get(chunk_id, 0.0) + weight / (RRF_K + rank + 1)
        keyword_scores[chunk_id] = score
        found[chunk_id] = chunk
    ranked = sorted(scores, key=lambda c: scores[c], reverse=True)
    return [
        Hit(found[c], scores[c], similarity.get(c, 0.0), keyword_scores.get(c, 0.0)) for c in ranked
    ]
