"""👍 / 👎 kept with the question, answer and sources, and exported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.answers import Answer, Source
from bot.feedback import FeedbackStore, export_feedback, feedback_json, feedback_path
from bot.service import ReviewService
from bot.settings import Settings
from tests.conftest import RememberingEmbedder, run_cli

SOURCE = Source(
    1,
    "seeds/002.txt",
    "Ballerina (2025, Len Wiseman)",
    "Ballerina",
    2025,
    "Len Wiseman",
    "Nils Bothmann",
    "Filmstarts",
    "Ana de Armas spielt die Hauptrolle.",
    0.9,
)
ANSWER = Answer(
    "Wer spielt die Hauptrolle?", "Ana de Armas [1]", "answered", "de", sources=[SOURCE]
)


def test_nothing_rated_exports_nothing(tmp_path: Path) -> None:
    assert export_feedback(tmp_path) == []
    assert feedback_json([]) == "[]"
    assert not feedback_path(tmp_path).exists()  # reading creates no file


def test_a_rating_is_kept_with_its_answer_and_a_second_press_replaces_it(
    tmp_path: Path,
) -> None:
    store = FeedbackStore(feedback_path(tmp_path))
    store.record(ANSWER, "down", chat_id=5, message_id=10, user_id=7)
    store.record(ANSWER, "up", chat_id=5, message_id=10, user_id=7)  # changed their mind
    store.record(ANSWER, "down", chat_id=5, message_id=10, user_id=8)
    rows = export_feedback(tmp_path)
    assert [(r.rating, r.question, r.answer) for r in rows] == [
        ("up", "Wer spielt die Hauptrolle?", "Ana de Armas [1]"),
        ("down", "Wer spielt die Hauptrolle?", "Ana de Armas [1]"),
    ]
    [first, _] = json.loads(feedback_json(rows))
    assert first["sources"] == [
        {
            "n": 1,
            "work": "Ballerina (2025, Len Wiseman)",
            "review_id": "seeds/002.txt",
            "author": "Nils Bothmann",
            "source": "Filmstarts",
            "quote": "Ana de Armas spielt die Hauptrolle.",
        }
    ]
    assert set(first) == {"at", "rating", "question", "answer", "language", "sources"}


def test_reviewbot_feedback_lists_and_exports_the_ratings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], embedder: RememberingEmbedder
) -> None:
    service = ReviewService(
        Settings(_env_file=None, data_dir=tmp_path, reviews_dir=tmp_path),  # type: ignore[call-arg]
        embedder=embedder,
    )
    assert run_cli(["feedback"], service, capsys).out == "no answer has been rated yet\n"
    FeedbackStore(feedback_path(tmp_path)).record(
        ANSWER, "down", chat_id=5, message_id=10, user_id=7
    )
    listed = run_cli(["feedback"], service, capsys)
    assert listed.exit_code == 0
    assert "down: Wer spielt die Hauptrolle?" in listed.out and "→ Ana de Armas [1]" in listed.out
    exported = run_cli(["feedback", "--json"], service, capsys).json()
    assert isinstance(exported, list) and len(exported) == 1
    assert exported[0]["rating"] == "down" and exported[0]["answer"] == "Ana de Armas [1]"
    assert exported[0]["sources"][0]["review_id"] == "seeds/002.txt"
