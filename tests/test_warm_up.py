"""A long-running bot loads the index before its first user asks, and starts without one."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.service import ReviewService
from bot.settings import Settings
from tests.conftest import RememberingEmbedder

LOADING = "opened the snapshot"


def _service(data: Path, embedder: RememberingEmbedder) -> ReviewService:
    settings = Settings(_env_file=None, data_dir=data)  # type: ignore[call-arg]
    return ReviewService(settings, embedder=embedder)


def test_a_bot_started_before_anything_is_indexed_says_so_and_goes_on(
    service: ReviewService, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        service.warm_up()
    assert "reviewbot index" in caplog.text


def test_after_warming_up_the_first_question_waits_for_no_loading(
    indexed_data: Path, embedder: RememberingEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    question = "Wer hat bei Ballerina Regie geführt?"
    cold = _service(indexed_data, embedder)
    with caplog.at_level(logging.INFO, logger="index.search"):
        cold.ask(question)
    assert LOADING in caplog.text

    warm = _service(indexed_data, embedder)
    warm.warm_up()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="index.search"):
        answer = warm.ask(question)
    assert LOADING not in caplog.text
    assert "Len Wiseman" in answer.answer
