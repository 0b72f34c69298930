"""👍 / 👎 kept with the question, answer and sources, and exported."""

from __future__ import annotations

import json
from pathlib import Path

from bot.answers import Answer, Source
from bot.feedback import FeedbackStore, export_feedback, feedback_json, feedback_path

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
