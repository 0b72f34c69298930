"""The hybrid search of every work: in a small index, the same reviews give the same hits
whichever way the vector index was built."""

from __future__ import annotations

from pathlib import Path

from bot.service import ReviewService
from bot.settings import Settings
from index.search import HybridSearch
from index.store import ReviewStore
from tests.conftest import SEEDS, RememberingEmbedder

QUESTIONS = [
    "Wie ist die Musik?",
    "Which film has the better action?",
    "What is the capital of France?",
]


def _indexed(folder: Path, embedder: RememberingEmbedder) -> ReviewService:
    settings = Settings(_env_file=None, data_dir=folder / "data")  # type: ignore[call-arg]
    service = ReviewService(settings, embedder=embedder)
    assert service.index([SEEDS]).added
    return service


def _no_store() -> ReviewStore:
    raise AssertionError("the search opened the vector store")


def test_a_search_of_every_work_in_a_small_index_scores_every_chunk_exactly(
    tmp_path: Path, embedder: RememberingEmbedder
) -> None:
    service = _indexed(tmp_path, embedder)
    search = HybridSearch(_no_store, embedder, snapshots=service.snapshots)
    snapshot = search.snapshot()
    ids = list(snapshot.chunks)

    for question in QUESTIONS:
        best = [c for c, _ in snapshot.similarity(embedder.embed_query(question), ids)]
        # A keyword no chunk has: the hits are in the order of the dense scores alone.
        hits = search.search(question, language="de", k=len(ids), keywords="zzzz")
        assert [h.chunk.chunk_id for h in hits] == best, question


def test_the_same_reviews_indexed_twice_give_the_same_hits(
    tmp_path: Path, embedder: RememberingEmbedder
) -> None:
    first = _indexed(tmp_path / "first", embedder)
    second = _indexed(tmp_path / "second", embedder)

    for question in QUESTIONS:
        found = [
            [(h.chunk.chunk_id, h.score) for h in service.search.search(question, language="de")]
            for service in (first, second)
        ]
        assert found[0] == found[1], question
