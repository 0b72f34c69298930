"""Hybrid search: dense (Chroma) and BM25 results fused by reciprocal rank."""

from __future__ import annotations

import logging
import shutil
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType

from index.embedding import ReviewEmbedder
from index.keyword import KeywordIndex, tokenize
from index.store import ReviewStore, StoredChunk

log = logging.getLogger(__name__)

RRF_K = 60
# BM25 is the stronger signal when question and text share a language and the weaker
# one across languages (measured: DESIGN.md, "Hybrid retrieval").
KEYWORD_WEIGHT_SAME_LANGUAGE = 1.0
KEYWORD_WEIGHT_OTHER_LANGUAGE = 0.4


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


@dataclass(frozen=True)
class SearchSnapshot:
    """One generation of the store as questions see it; never changed once made.

    A question that works on one snapshot cannot mix the chunks, keyword index and
    generation of two index runs, however many questions run at once.
    """

    generation: str
    chunks: Mapping[str, StoredChunk]
    keyword: KeywordIndex


class HybridSearch:
    """Searches one store; notices when another process re-indexed it and reloads.

    Each search works on the latest :class:`SearchSnapshot`; :meth:`pinned` gives a
    search that keeps to one snapshot, for a question that searches more than once.
    """

    def __init__(
        self,
        store: ReviewStore,
        embedder: ReviewEmbedder,
        *,
        cache_dir: Path | None = None,
        snapshot: SearchSnapshot | None = None,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._cache_dir = cache_dir
        self._snapshot = snapshot
        self._pinned = snapshot is not None
        self._lock = threading.Lock()

    @property
    def generation(self) -> str | None:
        snapshot = self._snapshot
        return snapshot.generation if snapshot else None

    def snapshot(self) -> SearchSnapshot:
        """The latest complete generation of the store, reloaded when it changed."""
        current = self._snapshot
        if self._pinned and current is not None:
            return current
        generation = _generation(self._store.fresh_state())
        if current is not None and current.generation == generation:
            return current
        with self._lock:
            current = self._snapshot
            if current is not None and current.generation == generation:
                return current
            if current is not None and self._store.being_indexed():
                # An index run is writing: keep answering from the last finished one.
                return current
            self._snapshot = self._load(generation, previous=current)
            return self._snapshot

    def pinned(self, snapshot: SearchSnapshot | None = None) -> HybridSearch:
        """A search that answers from ``snapshot`` (default: the latest) only."""
        return HybridSearch(
            self._store,
            self._embedder,
            cache_dir=self._cache_dir,
            snapshot=snapshot or self.snapshot(),
        )

    def refresh(self) -> bool:
        """Reload the keyword index if the store changed since; True when it did."""
        before = self._snapshot
        return self.snapshot() is not before

    def _load(self, generation: str, *, previous: SearchSnapshot | None) -> SearchSnapshot:
        chunks = self._store.chunks()
        after = _generation(self._store.fresh_state())
        if previous is not None and (after != generation or self._store.being_indexed()):
            # An index run started or ended while the chunks were read: they may mix
            # two generations, so the previous snapshot stays until the next question.
            return previous
        by_id = {c.chunk_id: c for c in chunks}
        cached = self._cache_dir / generation if self._cache_dir and generation else None
        keyword = KeywordIndex.load(cached) if cached and cached.exists() else None
        if keyword is None or set(keyword.chunk_ids) != set(by_id):
            keyword = KeywordIndex.build(chunks)
            if cached is not None:
                self._save(keyword, cached)
        log.info("keyword index loaded: %d chunks, generation %s", len(chunks), generation)
        return SearchSnapshot(generation, MappingProxyType(by_id), keyword)

    def _save(self, keyword: KeywordIndex, folder: Path) -> None:
        try:
            for old in folder.parent.glob("*"):
                if old.name != folder.name:
                    shutil.rmtree(old, ignore_errors=True)
            keyword.save(folder)
        except OSError as error:
            log.warning("could not cache the keyword index in %s: %s", folder, error)

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
        where = {"work_id": {"$in": list(work_ids)}} if work_ids else None
        if vector is None:
            vector = self._embedder.embed_query(question)
        dense = [
            replace(snapshot.chunks[c.chunk_id], score=c.score)
            for c in self._store.query(vector, k=candidates, where=where)
            if c.chunk_id in snapshot.chunks
        ]
        mask = None
        if work_ids:
            import numpy as np

            wanted = set(work_ids)
            mask = np.array(
                [
                    float(snapshot.chunks[c].metadata.get("work_id") in wanted)
                    if c in snapshot.chunks
                    else 0.0
                    for c in snapshot.keyword.chunk_ids
                ],
                dtype=np.float32,
            )
        keyword = snapshot.keyword.search(keywords or question, k=candidates, mask=mask)
        return _fuse(dense, keyword, snapshot.chunks, language=language)[:k]


def _generation(state: Mapping[str, object]) -> str:
    return str(state.get("generation") or "")


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


def work_vocabulary(chunks: Iterable[StoredChunk]) -> dict[str, Counter[str]]:
    """Stemmed word counts of each work's passages (German and English stems alike)."""
    vocabulary: dict[str, Counter[str]] = {}
    for chunk in chunks:
        counts = vocabulary.setdefault(str(chunk.metadata.get("work_id", "")), Counter())
        for language in ("de", "en"):
            counts.update(set(tokenize(chunk.text, language=language)))
    return vocabulary
