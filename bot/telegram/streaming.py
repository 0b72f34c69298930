"""An answer as it is written: a first reply as soon as there is text, edited with the growing
text (throttled), then edited into the checked answer with its sources and buttons.

Every answer goes this way; the stream of an answer without an LLM is just the final answer,
which is then simply replied.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field

from telegram import InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

from bot.answers import Answer
from bot.telegram.rendering import format_answer, preview_html, split_message
from bot.telegram.replies import reply

log = logging.getLogger(__name__)

STREAM_EDIT_SECONDS = 1.5
"""While an answer streams, its message is edited at most this often (Telegram's flood limits)."""

Keyboard = Callable[[Answer], InlineKeyboardMarkup | None]
"""The buttons to put under a final answer."""


@dataclass
class EditThrottle:
    """When a message showing a growing text may be edited: only with a different text, and
    at most once per ``interval`` seconds (Telegram refuses "message is not modified" and
    limits how often a bot may edit)."""

    interval: float = STREAM_EDIT_SECONDS
    clock: Callable[[], float] = time.monotonic
    shown: str = ""
    """The text the message shows now ("" before it is sent)."""
    _shown_at: float = field(default=float("-inf"), repr=False)

    def wait(self, text: str) -> float | None:
        """Seconds until ``text`` may be shown (0: now); None if it is what is shown."""
        if not text or text == self.shown:
            return None
        return max(0.0, self._shown_at + self.interval - self.clock())

    def mark(self, text: str) -> None:
        """``text`` was shown (or tried) just now."""
        self.shown = text
        self._shown_at = self.clock()


@dataclass(frozen=True)
class _StreamFailed:
    error: BaseException


_StreamItem = str | Answer | _StreamFailed | None
"""What the worker thread queues: a text delta, the final Answer, its error, or None (done)."""


def _produce(
    stream: Callable[[], Iterator[str | Answer]],
    put: Callable[[_StreamItem], None],
    stop: threading.Event,
) -> None:
    """Run ``stream()`` (in a worker thread), handing each item to ``put``; stop early, closing
    the stream (and so the LLM request), once ``stop`` is set."""
    try:
        items = stream()
        try:
            for item in items:
                put(item)
                if stop.is_set():
                    break
        finally:
            close = getattr(items, "close", None)
            if callable(close):
                close()
    except Exception as error:
        put(_StreamFailed(error))
    else:
        put(None)


async def stream_answer(
    message: Message,
    stream: Callable[[], Iterator[str | Answer]],
    language: str,
    *,
    keyboard: Keyboard = lambda answer: None,
    throttle: EditThrottle | None = None,
) -> Answer:
    """Answer ``message`` from ``stream`` (text deltas, then the final Answer), run in a
    worker thread: a first reply as soon as there is text, edits with the growing text as
    ``throttle`` allows, and finally the formatted answer with its sources and ``keyboard``
    (edited into the first reply; the rest of a long answer follows as further messages).

    If the stream fails, the partial reply is deleted and the error raised (the error handler
    apologises). Returns the final Answer only once the worker is done.
    """
    throttle = throttle or EditThrottle()
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[_StreamItem] = asyncio.Queue()
    stop = threading.Event()

    def put(item: _StreamItem) -> None:
        with suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(queue.put_nowait, item)

    worker = asyncio.ensure_future(asyncio.to_thread(_produce, stream, put, stop))
    text = ""
    sent: Message | None = None
    try:
        while True:
            preview = preview_html(text)
            wait = throttle.wait(preview)
            if wait == 0:
                sent = await _show_preview(message, sent, preview, throttle)
                continue
            try:
                item = await asyncio.wait_for(queue.get(), timeout=wait)
            except TimeoutError:  # the pending text is due now
                continue
            if isinstance(item, _StreamFailed):
                raise item.error
            if item is None:
                raise RuntimeError("the answer stream ended without an answer")
            if isinstance(item, Answer):
                await _show_final(message, sent, item, language, keyboard(item), throttle)
                return item
            text += item
    except Exception:
        if sent is not None:
            with suppress(TelegramError):
                await sent.delete()
        raise
    finally:
        stop.set()
        await worker


async def _show_preview(
    message: Message, sent: Message | None, preview: str, throttle: EditThrottle
) -> Message:
    """Send ``preview`` as the reply, or edit the reply into it; a failed edit is skipped (the
    next one shows newer text anyway)."""
    if sent is None:
        sent = await message.reply_html(preview)
    else:
        try:
            await sent.edit_text(preview, parse_mode=ParseMode.HTML)
        except TelegramError as error:
            log.info("could not edit a streamed answer: %s", error)
    throttle.mark(preview)
    return sent


async def _show_final(
    message: Message,
    sent: Message | None,
    answer: Answer,
    language: str,
    keyboard: InlineKeyboardMarkup | None,
    throttle: EditThrottle,
) -> None:
    """The formatted answer: edited into ``sent`` (if a preview was sent), the rest replied;
    the keyboard under the last message."""
    if sent is None:
        await reply(message, format_answer(answer, language), keyboard=keyboard)
        return
    first, *rest = split_message(format_answer(answer, language)) or [""]
    try:
        await sent.edit_text(
            first, parse_mode=ParseMode.HTML, reply_markup=None if rest else keyboard
        )
    except BadRequest as error:
        if "not modified" not in str(error).lower():
            raise
    throttle.mark(first)
    for number, part in enumerate(rest, start=1):
        await message.reply_html(part, reply_markup=keyboard if number == len(rest) else None)
