"""What the handlers share: per-chat state in PTB's ``chat_data``, the bot-wide state in
``bot_data``, and the typed context that hands both out."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import weakref
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from telegram import User
from telegram.ext import CallbackContext, ExtBot

from bot.answers import Answer
from bot.conversation import Conversation
from bot.feedback import FeedbackStore
from bot.service import ReviewService

KEPT_ANSWERS = 20
"""Answers whose buttons still work, per chat; older ones ask to ask again."""


@dataclass
class ChatState:
    """One chat's memory (its ``chat_data``): the conversation, so follow-ups keep their
    subject, and the latest answers by the id their buttons carry. Picklable, so it can
    outlive a restart."""

    conversation: Conversation = field(default_factory=Conversation)
    answers: dict[int, Answer] = field(default_factory=dict)
    next_answer_id: int = 1

    def remember(self, answer: Answer) -> int:
        """Keep ``answer`` for its buttons; returns the id they carry."""
        answer_id = self.next_answer_id
        self.next_answer_id += 1
        self.answers[answer_id] = answer
        while len(self.answers) > KEPT_ANSWERS:
            del self.answers[min(self.answers)]
        return answer_id

    def last_answer(self) -> Answer | None:
        return self.answers[max(self.answers)] if self.answers else None

    def narrow(self, answer_id: int, choice: int) -> str | None:
        """Make work number ``choice`` of an answer the subject of follow-ups; returns its
        label, or None if the answer or the work is no longer known."""
        answer = self.answers.get(answer_id)
        if answer is None or not 0 <= choice < len(answer.work_ids):
            return None
        work_id, label = answer.work_ids[choice], answer.works[choice]
        narrowed = dataclasses.replace(answer, work_ids=[work_id], works=[label])
        self.conversation.add(answer.question, narrowed)
        return label

    def reset(self) -> None:
        self.conversation.reset()
        self.answers.clear()


@dataclass
class RateLimit:
    """At most ``questions`` per user within ``seconds``."""

    questions: int = 8
    seconds: float = 60.0
    _asked: dict[int, deque[float]] = field(default_factory=dict, repr=False)

    def wait_seconds(self, user_id: int) -> float:
        """0 and the question counted if the user may ask now, else how long to wait."""
        now = time.monotonic()
        asked = self._asked.setdefault(user_id, deque())
        while asked and now - asked[0] >= self.seconds:
            asked.popleft()
        if len(asked) >= self.questions:
            return self.seconds - (now - asked[0])
        asked.append(now)
        return 0.0


@dataclass
class BotData:
    """What every handler shares (its ``bot_data``); build_application fills it in."""

    service: ReviewService | None = None
    feedback: FeedbackStore | None = None
    rate_limit: RateLimit = field(default_factory=RateLimit)
    index_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    allowed_users: frozenset[int] = frozenset()
    admins: frozenset[int] = frozenset()
    _chat_locks: weakref.WeakValueDictionary[int, asyncio.Lock] = field(
        default_factory=weakref.WeakValueDictionary, repr=False
    )

    def may_ask(self, user: User) -> bool:
        return not self.allowed_users or user.id in self.allowed_users or self.is_admin(user)

    def is_admin(self, user: User | None) -> bool:
        return user is not None and user.id in self.admins

    def chat_lock(self, chat_id: int) -> asyncio.Lock:
        """The lock that keeps one chat's questions in order (gone once nobody holds it)."""
        lock = self._chat_locks.get(chat_id)
        if lock is None:
            lock = self._chat_locks[chat_id] = asyncio.Lock()
        return lock


class ReviewContext(CallbackContext[ExtBot[Any], dict[Any, Any], ChatState, BotData]):
    """The handlers' context: ``chat_data`` is a ChatState, ``bot_data`` the BotData."""

    @property
    def service(self) -> ReviewService:
        service = self.bot_data.service
        if service is None:
            raise RuntimeError("the Application was not made by build_application")
        return service

    @property
    def chat(self) -> ChatState:
        """The chat's state (every handler here runs in a chat)."""
        if self.chat_data is None:
            raise RuntimeError("this update belongs to no chat")
        return self.chat_data

    @property
    def feedback(self) -> FeedbackStore:
        if self.bot_data.feedback is None:
            raise RuntimeError("the Application was not made by build_application")
        return self.bot_data.feedback
