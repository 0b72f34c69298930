"""Per-chat state and the streaming throttle, without a server."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from bot.answers import Answer
from bot.service import ReviewService
from bot.settings import Settings
from bot.telegram import build_application
from bot.telegram.state import KEPT_ANSWERS, ChatState
from bot.telegram.streaming import EditThrottle
from index.errors import ConfigurationError

BOTH = ["Ballerina (2023, Lee Chung-hyun)", "Ballerina (2025, Len Wiseman)"]
BOTH_IDS = ["ballerina-2023-lee-chunghyun", "ballerina-2025-len-wiseman"]


def _answer(question: str = "Wer hat bei Ballerina Regie geführt?") -> Answer:
    return Answer(
        question,
        "Lee Chung-hyun [1], Len Wiseman [2]",
        "answered",
        "de",
        BOTH,
        [],
        work_ids=BOTH_IDS,
    )


def test_a_chat_keeps_its_latest_answers_for_their_buttons() -> None:
    chat = ChatState()
    ids = [chat.remember(_answer(f"Frage {n}")) for n in range(KEPT_ANSWERS + 5)]
    assert ids == list(range(1, KEPT_ANSWERS + 6))
    assert sorted(chat.answers) == ids[5:]  # the oldest buttons ask to ask again
    last = chat.last_answer()
    assert last is not None and last.question == f"Frage {KEPT_ANSWERS + 4}"
    chat.reset()
    assert chat.last_answer() is None and chat.conversation.turns() == []


def test_narrowing_makes_one_work_the_subject_of_follow_ups() -> None:
    chat = ChatState()
    answer_id = chat.remember(_answer())
    assert chat.narrow(answer_id, 1) == "Ballerina (2025, Len Wiseman)"
    assert chat.conversation.subject_work_ids() == ["ballerina-2025-len-wiseman"]
    assert chat.narrow(answer_id, 2) is None  # no such work
    assert chat.narrow(answer_id + 1, 0) is None  # no such answer
    assert chat.conversation.subject_work_ids() == ["ballerina-2025-len-wiseman"]


def test_a_chats_state_survives_pickling() -> None:
    chat = ChatState()
    chat.narrow(chat.remember(_answer()), 0)
    restored: ChatState = pickle.loads(pickle.dumps(chat))
    assert restored.conversation.subject_work_ids() == ["ballerina-2023-lee-chunghyun"]
    assert restored.answers == chat.answers and restored.next_answer_id == 2


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_throttle_allows_one_changed_text_per_interval() -> None:
    clock = FakeClock()
    throttle = EditThrottle(interval=1.5, clock=clock)
    assert throttle.wait("") is None  # nothing to show yet
    assert throttle.wait("Der") == 0  # the first text at once
    throttle.mark("Der")
    assert throttle.wait("Der") is None  # unchanged: never ("message is not modified")
    clock.now += 0.5
    assert throttle.wait("Der Film") == pytest.approx(1.0)
    clock.now += 1.0
    assert throttle.wait("Der Film") == 0


def test_the_bot_needs_a_token(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", telegram_token=None)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="REVIEWBOT_TELEGRAM_TOKEN"):
        build_application(ReviewService(settings))
