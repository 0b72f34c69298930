"""Helpers for the bot's end-to-end tests: users with a language, a running bot, a service."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, TypeVar

import pytest
from pydantic import SecretStr
from telegram.ext import Application

from bot.service import ReviewService
from bot.settings import Settings
from bot.telegram import RateLimit, build_application
from index.embedding import ReviewEmbedder
from tests.conftest import SEEDS
from tests.telegram_harness import (
    JSON,
    BotMessage,
    TelegramTestClient,
    TelegramTestServer,
    TgUser,
)

TestFunction = TypeVar("TestFunction", bound=Callable[..., Any])


def e2e(test: TestFunction) -> TestFunction:
    """Marks an async test of the bot against the Bot API test server (the telegram tier)."""
    marked: TestFunction = pytest.mark.telegram(pytest.mark.anyio(test))
    return marked


@dataclass(frozen=True)
class LocalizedUser(TgUser):
    """A test user whose Telegram app speaks ``language_code``."""

    language_code: str | None = None

    def as_json(self) -> JSON:
        user = super().as_json()
        if self.language_code:
            user["language_code"] = self.language_code
        return user


def indexed_service(
    folder: Path,
    embedder: ReviewEmbedder,
    *,
    seeds: bool = True,
    extra: dict[str, str] | None = None,
    **settings: Any,
) -> ReviewService:
    """A service over a copy of the seed reviews (unless not wanted) and ``extra`` files
    (name: text), indexed."""
    reviews = folder / "reviews"
    if seeds:
        shutil.copytree(SEEDS, reviews)
    reviews.mkdir(parents=True, exist_ok=True)
    for name, text in (extra or {}).items():
        (reviews / name).write_text(text, encoding="utf-8")
    service = ReviewService(
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=folder / "data",
            reviews_dir=reviews,
            **settings,
        ),
        embedder=embedder,
    )
    service.index()
    return service


@asynccontextmanager
async def running_bot(
    server: TelegramTestServer,
    service: ReviewService,
    *,
    admins: tuple[int, ...] = (),
    allowed_users: tuple[int, ...] = (),
    rate_limit: RateLimit | None = None,
    state_file: Path | None = None,
) -> AsyncIterator[TelegramTestClient]:
    """A bot with a fresh token polling ``server`` (started as run_polling would), and the
    users' client for it. The bot's access settings are the given ones; its chats are kept
    in ``state_file`` (if given) when it stops."""
    token = server.new_bot_token()
    service.settings = service.settings.model_copy(
        update={
            "telegram_token": SecretStr(token),
            "telegram_admins": list(admins),
            "telegram_allowed_users": list(allowed_users),
        }
    )
    application: Application[Any, Any, Any, Any, Any, Any] = build_application(
        service,
        base_url=server.api_base_url,
        base_file_url=server.file_base_url,
        rate_limit=rate_limit,
        state_file=state_file,
    )
    async with application, server.client(token) as client:
        assert application.post_init is not None and application.updater is not None
        await application.post_init(application)
        await application.start()
        await application.updater.start_polling(poll_interval=0, timeout=1)
        try:
            yield client
        finally:
            await application.updater.stop()
            await application.stop()


def buttons(message: BotMessage) -> list[list[str]]:
    """The labels of the inline keyboard under ``message``, row by row."""
    rows = (message.reply_markup or {}).get("inline_keyboard", [])
    return [[button["text"] for button in row] for row in rows]


def button_data(message: BotMessage, label: str) -> str:
    """The callback data of the button labelled ``label`` under ``message``."""
    for row in (message.reply_markup or {}).get("inline_keyboard", []):
        for button in row:
            if button["text"] == label:
                return str(button["callback_data"])
    raise AssertionError(f"no button {label!r} under {buttons(message)}")


def answer_and_sources(message: BotMessage, heading: str) -> tuple[str, list[int], list[int]]:
    """The answer text, the source numbers it cites and the numbers of the listed sources."""
    assert message.plain_text is not None
    answer, _, sources = message.plain_text.partition(f"\n\n{heading}\n")
    cited = sorted({int(n) for n in re.findall(r"\[(\d+)\]", answer)})
    listed = [int(n) for n in re.findall(r"^\[(\d+)\] ", sources, flags=re.MULTILINE)]
    return answer, cited, listed


class _TagChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open.pop() == tag, f"</{tag}> closes nothing"

    def handle_data(self, data: str) -> None:
        self.text += data


def html_plain_text(part: str) -> str:
    """The text of an HTML message part, asserting that its tags nest and all close."""
    checker = _TagChecker()
    checker.feed(part)
    checker.close()
    assert checker.open == [], f"unclosed {checker.open}"
    return checker.text
