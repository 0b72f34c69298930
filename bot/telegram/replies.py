"""Sending: HTML replies split below the limit, "typing…" while the bot works, and what a
group message asks the bot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress

from telegram import Chat, InlineKeyboardMarkup, Message, MessageEntity
from telegram.constants import ChatAction
from telegram.error import TelegramError

from bot.telegram.rendering import Paragraph, Span, split_message

TYPING_INTERVAL_SECONDS = 4.0
"""A chat action shows for about 5 s; repeat it before it fades."""


async def reply(
    message: Message,
    paragraphs: Sequence[Paragraph],
    *,
    keyboard: InlineKeyboardMarkup | None = None,
) -> list[Message]:
    """Send ``paragraphs`` as HTML replies to ``message`` (quoting it in groups), split below
    the limit; ``keyboard`` goes under the last part."""
    parts = split_message(paragraphs)
    sent: list[Message] = []
    for number, part in enumerate(parts, start=1):
        markup = keyboard if number == len(parts) else None
        sent.append(await message.reply_html(part, reply_markup=markup))
    return sent


async def say(message: Message, text: str) -> None:
    """Reply with one plain sentence (escaped like everything else)."""
    await reply(message, [[Span(text)]])


@asynccontextmanager
async def typing(chat: Chat) -> AsyncIterator[None]:
    """Show "typing…" in ``chat`` until the block ends, renewed before it fades."""

    async def renew() -> None:
        while True:
            await asyncio.sleep(TYPING_INTERVAL_SECONDS)
            with suppress(TelegramError):
                await chat.send_action(ChatAction.TYPING)

    with suppress(TelegramError):
        await chat.send_action(ChatAction.TYPING)
    task = asyncio.create_task(renew())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


def addressed_question(message: Message, bot_username: str, bot_id: int) -> str | None:
    """The question in a group message if it mentions or replies to the bot, else None."""
    text = message.text or ""
    mention = f"@{bot_username}".casefold()
    mentions = [
        entity
        for entity, value in message.parse_entities([MessageEntity.MENTION]).items()
        if value.casefold() == mention
    ]
    replied = message.reply_to_message
    to_bot = bool(replied and replied.from_user and replied.from_user.id == bot_id)
    if not mentions and not to_bot:
        return None
    for entity in sorted(mentions, key=lambda e: e.offset, reverse=True):
        # Offsets count UTF-16 units, so cut in that encoding.
        units = text.encode("utf-16-le")
        text = (units[: 2 * entity.offset] + units[2 * (entity.offset + entity.length) :]).decode(
            "utf-16-le"
        )
    return " ".join(text.split())
