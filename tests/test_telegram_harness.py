"""The Telegram test server and harness work with a real python-telegram-bot Application."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from telegram import Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.telegram_harness import TelegramTestServer, TgChat, TgUser

pytestmark = [pytest.mark.telegram, pytest.mark.anyio]

ALICE = TgUser(1001, "Alice", "alice")


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None and update.effective_message.text is not None
    await update.effective_message.reply_html(
        f"you said: {html.escape(update.effective_message.text)}"
    )


async def read_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None and message.document is not None
    file = await message.document.get_file()
    data = await file.download_as_bytearray()
    await message.reply_text(f"{message.document.file_name}: {len(data)} bytes, {bytes(data)!r}")


@asynccontextmanager
async def running_bot(server: TelegramTestServer, token: str) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(server.api_base_url)
        .base_file_url(server.file_base_url)
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    application.add_handler(MessageHandler(filters.Document.ALL, read_document))
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=5)
        try:
            yield application
        finally:
            await application.updater.stop()
            await application.stop()


async def test_the_bot_answers_with_escaped_html(telegram_server: TelegramTestServer) -> None:
    token = telegram_server.new_bot_token()
    async with running_bot(telegram_server, token), telegram_server.client(token) as telegram:
        await telegram.send_message(ALICE, "hi <b>&")
        [reply] = await telegram.wait_for_bot_messages(ALICE, count=1)
    assert reply.text == "you said: hi &lt;b&gt;&amp;"
    assert reply.parse_mode == "HTML"
    assert reply.plain_text == "you said: hi <b>&"
    assert reply.chat_id == ALICE.id


async def test_a_group_message_reaches_the_bot(telegram_server: TelegramTestServer) -> None:
    token = telegram_server.new_bot_token()
    group = TgChat.group(-2002, "Film club")
    async with running_bot(telegram_server, token), telegram_server.client(token) as telegram:
        sent = await telegram.send_message(ALICE, "@TestNameBot hello", chat=group)
        [reply] = await telegram.wait_for_bot_messages(group, count=1)
    assert sent["entities"] == [{"type": "mention", "offset": 0, "length": 12}]
    assert reply.plain_text == "you said: @TestNameBot hello"
    assert reply.reply_to_message_id == sent["message_id"]  # PTB quotes in groups


async def test_the_server_rejects_what_telegram_rejects(
    telegram_server: TelegramTestServer,
) -> None:
    token = telegram_server.new_bot_token()
    async with telegram_server.client(token) as telegram:
        await telegram.send_message(ALICE, "hello")  # the bot may write to Alice now
        too_long = await telegram.call_bot_api("sendMessage", chat_id=ALICE.id, text="x" * 5000)
        empty = await telegram.call_bot_api("sendMessage", chat_id=ALICE.id, text="")
        bad_html = await telegram.call_bot_api(
            "sendMessage", chat_id=ALICE.id, text="hi <b>&", parse_mode="HTML"
        )
        fine = await telegram.call_bot_api("sendMessage", chat_id=ALICE.id, text="x" * 4096)
    assert too_long.status_code == 400
    assert too_long.json() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: message is too long",
    }
    assert empty.json()["description"] == "Bad Request: message text is empty"
    assert bad_html.status_code == 400
    assert bad_html.json()["description"] == (
        "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\""
    )
    assert fine.status_code == 200


async def test_the_bot_downloads_a_document_a_user_sent(
    telegram_server: TelegramTestServer,
) -> None:
    token = telegram_server.new_bot_token()
    content = b"Title: Heat\n\xe2\x98\x85\xe2\x98\x85\xe2\x98\x85\x00\xff"
    async with running_bot(telegram_server, token), telegram_server.client(token) as telegram:
        sent = await telegram.send_document(ALICE, "reviews.txt", content)
        [reply] = await telegram.wait_for_bot_messages(ALICE, count=1)
    assert sent["document"]["file_name"] == "reviews.txt"
    assert sent["document"]["mime_type"] == "text/plain"
    assert reply.text == f"reviews.txt: {len(content)} bytes, {content!r}"
