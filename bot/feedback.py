"""👍 / 👎 on answers, kept with the question, the answer and its sources in a small SQLite
file beside the index, and read back for ``reviewbot feedback``."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from bot.answers import Answer

FEEDBACK_FILE = "feedback.sqlite3"
Rating = Literal["up", "down"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    chat_id INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    at TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    language TEXT NOT NULL,
    sources TEXT NOT NULL,
    PRIMARY KEY (chat_id, message_id, user_id)
)
"""


@dataclass(frozen=True)
class Feedback:
    """One person's rating of one answer (their latest press counts)."""

    at: str
    """When it was pressed: ISO 8601, UTC."""
    rating: Rating
    question: str
    answer: str
    language: str
    sources: list[dict[str, Any]] = field(default_factory=list)
    """The answer's numbered sources: n, work, review_id, author, source, quote."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def feedback_path(data_dir: Path) -> Path:
    """Where the feedback of the index in ``data_dir`` is kept."""
    return data_dir / FEEDBACK_FILE


class FeedbackStore:
    """The ratings in one SQLite file (created on the first rating). Blocking."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # closing() closes the file; the connection's own context commits (or rolls back).
        with closing(sqlite3.connect(self.path, timeout=10)) as connection, connection:
            connection.execute(_SCHEMA)
            yield connection

    def record(
        self, answer: Answer, rating: Rating, *, chat_id: int, message_id: int, user_id: int
    ) -> None:
        """Keep ``user_id``'s ``rating`` of ``answer`` (the message ``message_id`` in
        ``chat_id``); a later press by the same user replaces it."""
        sources = [
            {
                "n": s.n,
                "work": s.work,
                "review_id": s.review_id,
                "author": s.author,
                "source": s.source,
                "quote": s.quote,
            }
            for s in answer.sources
        ]
        with self._connect() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO feedback VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    chat_id,
                    message_id,
                    user_id,
                    datetime.now(UTC).isoformat(timespec="seconds"),
                    rating,
                    answer.question,
                    answer.answer,
                    answer.language,
                    json.dumps(sources, ensure_ascii=False),
                ),
            )

    def rows(self) -> list[Feedback]:
        """Every rating, oldest first (none if nothing was rated yet)."""
        if not self.path.exists():
            return []
        with self._connect() as connection:
            found = connection.execute(
                "SELECT at, rating, question, answer, language, sources FROM feedback "
                "ORDER BY at, rowid"
            ).fetchall()
        return [
            Feedback(at, rating, question, answer, language, json.loads(sources))
            for at, rating, question, answer, language, sources in found
        ]


def export_feedback(data_dir: Path) -> list[Feedback]:
    """The ratings given to answers from the index in ``data_dir``, oldest first."""
    return FeedbackStore(feedback_path(data_dir)).rows()


def feedback_json(rows: list[Feedback]) -> str:
    """``rows`` as a JSON array of objects (at, rating, question, answer, language, sources)."""
    return json.dumps([row.as_dict() for row in rows], ensure_ascii=False, indent=2)
