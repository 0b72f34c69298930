"""Hybrid search: dense (Chroma) and BM25 results fused by reciprocal rank."""

from __future__ import annotations

import logging
import shutil
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

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


class HybridSearch:
    """Searches one store; notices when another process re-indexed it and reloads."""

    def __init__(
        self, store: ReviewStore, embedder: ReviewEmbedder, *, cache_dir: Path | None = None
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._cache_dir = cache_dir
        self._keyword: KeywordIndex | None = None
        self._chunks: dict[str, StoredChunk] = {}
        self._generation: str | None = None
        self._lock = threading.Lock()

    @property
    def generation(self) -> str | None:
        return self._generation

    def refresh(self) -> bool:
        """Reload the keyword index if the store changed since; True when it did."""
        with self._lock:
            generation = str(self._store.fresh_state().get("generation") or "")
            if self._keyword is not None and generation == self._generation:
                return False
            self._load(generation)
            return True

    def _load(self, generation: str) -> None:
        chunks = self._store.chunks()
        self._chunks = {c.chunk_id: c for c in chunks}
        cached = self._cache_dir / generation if self._cache_dir and generation else None
        keyword = KeywordIndex.load(cached) if cached and cached.exists() else None
        if keyword is None or set(keyword.chunk_ids) != set(self._chunks):
            keyword = KeywordIndex.build(chunks)
            if cached is not None:
                self._save(keyword, cached)
        self._keyword = keyword
        self._generation = generation
        log.info("keyword index loaded: %d chunks, generation %s", len(chunks), generation)

    def _save(self, keyword: KeywordIndex, folder: Path) -> None:
        try:
            for old in folder.parent.glob("*"):
                if old.name != folder.name:
                    shutil.rmtree(old, ignore_errors=True)
            keyword.save(folder)
        except OSError as error:
            log.warning("could not cache the keyword index in %s: %s", folder, error)

    def chunks(self) -> dict[str, StoredChunk]:
        self.refresh()
        return self._chunks

    def search(
        self,
        question: str,
        *,
        language: str,
        k: int = 5,
        work_ids: Sequence[str] | None = None,
        keywords: str | None = None,
        candidates: int = 40,
    ) -> list[Hit]:
        """The ``k`` best chunks for ``question``, optionally only from ``work_ids``.

        ``keywords`` replaces the question for BM25 (e.g. with synonyms added).
        """
        self.refresh()
        assert self._keyword is not None
        where = {"work_id": {"$in": list(work_ids)}} if work_ids else None
        vector = self._embedder.embed_query(question)
        dense = self._store.query(vector, k=candidates, where=where)
        mask = None
        if work_ids:
            import numpy as np

            wanted = set(work_ids)
            mask = np.array(
                [
                    float(self._chunks[c].metadata.get("work_id") in wanted)
                    if c in self._chunks
                    else 0.0
                    for c in self._keyword.chunk_ids
                ],
                dtype=np.float32,
            )
        keyword = self._keyword.search(keywords or question, k=candidates, mask=mask)
        return _fuse(dense, keyword, self._chunks, language=language)[:k]


def _fuse(
    dense: Sequence[StoredChunk],
    keyword: Sequence[tuple[str, float]],
    chunks: dict[str, StoredChunk],
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
