"""The store works the same against a real `chroma run` server as embedded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.service import ReviewService
from bot.settings import Settings
from index.errors import StoreError
from tests.chroma_server import chroma_server
from tests.conftest import SEEDS, RememberingEmbedder
from tests.ports import free_port


@pytest.fixture
def chroma_url(tmp_path: Path) -> Iterator[str]:
    """A real Chroma server on a free loopback port, stopped after the test."""
    with chroma_server(tmp_path / "server") as url:
        yield url


def test_index_and_reindex_through_a_chroma_server(
    chroma_url: str, tmp_path: Path, embedder: RememberingEmbedder
) -> None:
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        chroma_url=chroma_url,  # type: ignore[call-arg]
    )
    indexer = ReviewService(settings, embedder=embedder)
    first = indexer.index([SEEDS])
    assert len(first.added) == 3

    # Another process (here: another client) sees the same index.
    reader = ReviewService(settings, embedder=embedder)
    works = {(w.work.year, len(w.reviews)) for w in reader.works()}
    assert works == {(2023, 2), (2025, 1)}
    assert reader.stats()["store"] == chroma_url

    assert indexer.index([SEEDS]).changed is False
    assert not (tmp_path / "data" / "chroma").exists(), "nothing was stored locally"


def test_unreachable_server_is_one_clear_error(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        chroma_url=f"http://127.0.0.1:{free_port()}",
    )
    with pytest.raises(StoreError, match="cannot open the Chroma store"):
        ReviewService(settings).reviews()
