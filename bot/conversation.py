"""Bounded, expiring memory of a chat, so follow-ups keep their subject."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from bot.answers import Answer

DEFAULT_TURNS = 6
DEFAULT_TTL_SECONDS = 30 * 60


@dataclass(frozen=True)
class Turn:
    question: str
    answer: Answer
    at: float


class Conversation:
    """The last few questions and answers of one chat; older or stale turns are forgotten."""

    def __init__(
        self, *, max_turns: int = DEFAULT_TURNS, ttl_seconds: float = DEFAULT_TTL_SECONDS
    ) -> None:
        self._turns: deque[Turn] = deque(maxlen=max_turns)
        self._ttl = ttl_seconds

    def add(self, question: str, answer: Answer) -> None:
        self._turns.append(Turn(question, answer, time.monotonic()))

    def turns(self) -> list[Turn]:
        now = time.monotonic()
        while self._turns and now - self._turns[0].at > self._ttl:
            self._turns.popleft()
        return list(self._turns)

    def subject_work_ids(self) -> list[str]:
        """The works the latest answer that had any was about."""
        for turn in reversed(self.turns()):
            if turn.answer.work_ids:
                return list(turn.answer.work_ids)
        return []

    def reset(self) -> None:
        self._turns.clear()
