"""Streamed answers in Telegram: the reply is sent early, edited as the text grows (throttled),
then edited into the checked answer with its sources.

End to end against the Bot API test server: once with the real local LLM server, and with
scripted streams (no LLM) for the throttling and a stream that breaks midway. Without an LLM
the stream is just the final answer, sent once.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator

import pytest

from bot.answers import Answer
from bot.conversation import Conversation
from bot.service import ReviewService
from tests.conftest import RememberingEmbedder
from tests.telegram_fixtures import (
    LocalizedUser,
    answer_and_sources,
    buttons,
    e2e,
    html_plain_text,
    indexed_service,
    running_bot,
)
from tests.telegram_harness import BotMessage, TelegramTestServer

JOHN = LocalizedUser(3102, "John", "john", language_code="en")
ANNA = LocalizedUser(3101, "Anna", "anna", language_code="de")
APOLOGY_DE = "Entschuldigung, dabei ist etwas schiefgegangen. Bitte versuch es später noch einmal."


@pytest.fixture(scope="module")
def seeded(
    tmp_path_factory: pytest.TempPathFactory, embedder: RememberingEmbedder
) -> ReviewService:
    return indexed_service(tmp_path_factory.mktemp("streaming"), embedder)


def source_headings(text: str) -> list[str]:
    """The "[n] Work — author" lines of a message's sources."""
    return re.findall(r"^\[\d+\] .+$", text, flags=re.MULTILINE)


# --------------------------------------------------------------------------------------------
# With the real LLM


@pytest.mark.llm
@e2e
async def test_an_llm_answer_streams_into_one_message_with_sources(
    telegram_server: TelegramTestServer,
    tmp_path_factory: pytest.TempPathFactory,
    embedder: RememberingEmbedder,
    llm_url: str,
) -> None:
    service = indexed_service(
        tmp_path_factory.mktemp("streaming-llm"), embedder, llm_base_url=llm_url, llm_timeout=120
    )
    async with running_bot(telegram_server, service) as telegram:
        await telegram.send_message(JOHN, "Who composed the music for the 2023 Ballerina?")
        # The buttons come with the final answer, under its last message.
        [answer] = await telegram.wait_until(
            lambda ms: bool(ms) and bool(ms[-1].reply_markup), JOHN, timeout=180
        )
        await telegram.send_message(JOHN, "/sources")
        sources = (await telegram.wait_for_bot_messages(JOHN, count=2))[1:]
        actions = await telegram.chat_actions(JOHN)
    # Shown while the model wrote: first its bare text, then edited into the checked answer.
    assert answer.edits and answer.original_text != answer.text
    assert "Sources" not in html_plain_text(answer.original_text or "")
    assert answer.parse_mode == "HTML" and answer.text is not None
    html_plain_text(answer.text)  # the tags nest and close
    _, cited, listed = answer_and_sources(answer, "Sources")
    assert listed == list(range(1, len(listed) + 1)) and set(cited) <= set(listed)
    headings = source_headings(answer.plain_text or "")
    assert headings and "Ballerina" in headings[0]
    assert source_headings("\n\n".join(m.plain_text or "" for m in sources)) == headings
    assert actions[0] == "typing"


# --------------------------------------------------------------------------------------------
# Scripted streams (no LLM)


class ScriptedService(ReviewService):
    """The real service (no LLM) whose answer stream is scripted: ``deltas`` come slowly, then
    the real answer, unless the stream breaks first."""

    def __init__(self, base: ReviewService, deltas: list[str], *, breaks: bool = False) -> None:
        super().__init__(base.settings, embedder=base.embedder)
        self.base = base
        self.deltas = deltas
        self.breaks = breaks

    def ask_stream(
        self, question: str, *, conversation: Conversation | None = None, k: int | None = None
    ) -> Iterator[str | Answer]:
        for delta in self.deltas:
            time.sleep(0.4)
            yield delta
        if self.breaks:
            raise RuntimeError("the stream broke")
        yield from self.base.ask_stream(question, conversation=conversation, k=k)


@e2e
async def test_a_stream_is_shown_early_and_edits_are_throttled(
    telegram_server: TelegramTestServer, seeded: ReviewService
) -> None:
    deltas = ["Der Film ", "ist von ", "Lee ", "Chung-hyun ", "<b>&</b> ", "mehr."]
    service = ScriptedService(seeded, deltas)
    async with running_bot(telegram_server, service) as telegram:
        await telegram.send_message(ANNA, "Wer hat bei Ballerina von 2023 Regie geführt?")
        [early] = await telegram.wait_for_bot_messages(ANNA)
        [answer] = await telegram.wait_until(lambda ms: bool(ms[-1].reply_markup), ANNA)
        await telegram.send_message(ANNA, "/sources")
        sources = (await telegram.wait_for_bot_messages(ANNA, count=2))[1:]
    assert early.original_text == "Der Film"  # sent as soon as there was text
    shown: list[str] = [answer.original_text or "", *(e or "" for e in answer.edits)]
    *streamed, final = shown
    # Six deltas over ~2.4 s: at most two throttled previews besides the first, each longer.
    assert 1 <= len(streamed) <= 3
    assert all(b.startswith(a) and a != b for a, b in itertools.pairwise(streamed))
    assert all("&lt;b&gt;&amp;" in s for s in streamed if "Chung-hyun <" in html_plain_text(s))
    assert final == answer.text and "Lee Chung-hyun" in (answer.plain_text or "")
    assert buttons(answer)[0] == ["Quellen", "👍", "👎"]
    assert source_headings("\n".join(m.plain_text or "" for m in sources)) == source_headings(
        answer.plain_text or ""
    )


@e2e
async def test_a_stream_that_breaks_midway_gets_the_apology(
    telegram_server: TelegramTestServer, seeded: ReviewService
) -> None:
    service = ScriptedService(seeded, ["Der Film ", "ist"], breaks=True)
    async with running_bot(telegram_server, service) as telegram:
        await telegram.send_message(ANNA, "Wer hat bei Ballerina von 2023 Regie geführt?")
        messages = await telegram.wait_until(
            lambda ms: any(m.plain_text == APOLOGY_DE for m in ms), ANNA
        )
        await telegram.send_message(ANNA, "/sources")
        last = await telegram.wait_until(lambda ms: len(ms) > len(messages), ANNA)
    partial: list[BotMessage] = [m for m in messages if m.plain_text != APOLOGY_DE]
    assert [m.deleted for m in partial] == [True]  # the half answer is gone
    assert last[-1].plain_text == (
        "Es gibt noch keine Antwort, zu der ich Quellen zeigen könnte — frag mich zuerst etwas."
    )
