"""The bot's handlers: each checks what it must, runs blocking work off the event loop, and
replies with what ``bot.telegram.rendering`` makes of the service's result."""

from __future__ import annotations

import asyncio
import functools
import logging
import tempfile
from contextlib import suppress
from pathlib import Path

from telegram import CallbackQuery, Chat, InlineKeyboardMarkup, Message, Update
from telegram.error import NetworkError, TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.answers import Answer
from bot.engine.opinions import summary_line
from bot.feedback import Rating
from bot.question_input import EmptyQuestionError, QuestionTooLongError, clean_question
from bot.telegram.phrases import language_of, phrase
from bot.telegram.rendering import (
    LIKED,
    Paragraph,
    Span,
    answer_keyboard,
    format_added,
    format_report,
    format_sources,
    format_stats,
    format_works,
    parse_button,
)
from bot.telegram.replies import addressed_question, reply, say, typing
from bot.telegram.state import ReviewContext
from bot.telegram.streaming import stream_answer
from bot.uploads import MAX_UPLOAD_BYTES, Added, AddResult, add_review_file, safe_file_name
from index.errors import EmptySourceError, IndexEmptyError, IndexLockedError, ReviewbotError

log = logging.getLogger(__name__)

ALLOW_EMPTY = "allow-empty"
"""The argument that confirms /reindex may remove every review of an emptied folder."""


async def check_access(update: Update, context: ReviewContext) -> None:
    """Let allowed users through; refuse everyone else once, briefly, and stop the update."""
    user = update.effective_user
    if user is not None and context.bot_data.may_ask(user):
        return
    refused = phrase(language_of(user), "refused")
    if update.callback_query is not None:
        await update.callback_query.answer(refused)
    elif update.effective_message and user and _speaks_to_bot(update.effective_message, context):
        await say(update.effective_message, refused)
    raise ApplicationHandlerStop


def _speaks_to_bot(message: Message, context: ReviewContext) -> bool:
    if message.chat.type == Chat.PRIVATE:
        return True
    command = (message.text or "").split(maxsplit=1)[0] if message.text else ""
    if command.startswith("/"):  # "/works" or "/works@ThisBot", not "/works@OtherBot"
        _, _, addressee = command.partition("@")
        return not addressee or addressee.casefold() == context.bot.username.casefold()
    return addressed_question(message, context.bot.username, context.bot.id) is not None


async def start(update: Update, context: ReviewContext) -> None:
    """Greet the user."""
    assert update.effective_message is not None
    await say(update.effective_message, phrase(language_of(update.effective_user), "start"))


async def show_help(update: Update, context: ReviewContext) -> None:
    """List what the bot can do (admin commands for admins)."""
    assert update.effective_message is not None
    language = language_of(update.effective_user)
    paragraphs: list[Paragraph] = [[Span(phrase(language, "help"))]]
    if context.bot_data.is_admin(update.effective_user):
        paragraphs.append([Span(phrase(language, "help_admin"))])
    await reply(update.effective_message, paragraphs)


async def answer_private(update: Update, context: ReviewContext) -> None:
    """Answer any text in a private chat as a question."""
    assert update.effective_message is not None
    await answer(update, context, update.effective_message.text or "")


async def answer_group(update: Update, context: ReviewContext) -> None:
    """Answer a group message that mentions the bot or replies to it; ignore the rest."""
    message = update.effective_message
    assert message is not None
    question = addressed_question(message, context.bot.username, context.bot.id)
    if question is not None:
        await answer(update, context, question)


async def ask(update: Update, context: ReviewContext) -> None:
    """Answer the question after /ask."""
    message = update.effective_message
    assert message is not None
    question = " ".join(context.args or [])
    if not question:
        await say(message, phrase(language_of(update.effective_user), "ask_usage"))
        return
    await answer(update, context, question)


async def answer(update: Update, context: ReviewContext, question: str) -> None:
    """Stream the answer to ``question`` in the chat's conversation, with its sources and
    buttons under it; rate-limited per user."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    language = language_of(user)
    service = context.service
    try:
        question = clean_question(question, max_chars=service.settings.max_question_chars)
    except EmptyQuestionError:
        await say(message, phrase(language, "ask_usage"))
        return
    except QuestionTooLongError as error:
        await say(message, phrase(language, "too_long", limit=error.limit, length=error.length))
        return
    wait = context.bot_data.rate_limit.wait_seconds(user.id)
    if wait > 0:
        await say(message, phrase(language, "rate_limited", seconds=max(1, round(wait))))
        return
    chat = context.chat

    def buttons(final: Answer) -> InlineKeyboardMarkup:
        return answer_keyboard(chat.remember(final), final, language)

    stream = functools.partial(service.ask_stream, question, conversation=chat.conversation)
    async with context.bot_data.chat_lock(message.chat_id), typing(message.chat):
        await stream_answer(message, stream, language, keyboard=buttons)


async def show_sources(update: Update, context: ReviewContext) -> None:
    """Show the full sources of the chat's last answer."""
    message = update.effective_message
    assert message is not None
    language = language_of(update.effective_user)
    last = context.chat.last_answer()
    if last is None:
        await say(message, phrase(language, "no_answer_yet"))
        return
    await reply(message, format_sources(last, language))


async def show_answer_sources(update: Update, context: ReviewContext) -> None:
    """Show the full sources of the answer whose Sources button was pressed."""
    query, answer = _pressed(update, context)
    language = language_of(update.effective_user)
    if answer is None:
        await query.answer(phrase(language, "answer_gone"))
        return
    await query.answer()
    await reply(_message_of(update), format_sources(answer, language))


async def rate_answer(update: Update, context: ReviewContext) -> None:
    """Keep a 👍 or 👎 with the answer it was pressed under, and thank the user."""
    query, answer = _pressed(update, context)
    language = language_of(update.effective_user)
    press = parse_button(query.data or "")
    if answer is None or press is None:
        await query.answer(phrase(language, "answer_gone"))
        return
    rating: Rating = "up" if press.argument == LIKED else "down"
    record = functools.partial(
        context.feedback.record,
        answer,
        rating,
        chat_id=_message_of(update).chat_id,
        message_id=_message_of(update).message_id,
        user_id=query.from_user.id,
    )
    await asyncio.to_thread(record)
    await query.answer(phrase(language, "liked" if rating == "up" else "disliked"))


async def narrow_to_work(update: Update, context: ReviewContext) -> None:
    """Make the work whose button was pressed the subject of the chat's follow-ups."""
    query, _ = _pressed(update, context)
    language = language_of(update.effective_user)
    press = parse_button(query.data or "")
    message = _message_of(update)
    label = None
    if press is not None and press.argument.isdigit():
        async with context.bot_data.chat_lock(message.chat_id):
            label = context.chat.narrow(press.answer_id, int(press.argument))
    if label is None:
        await query.answer(phrase(language, "answer_gone"))
        return
    await query.answer()
    await say(message, phrase(language, "narrowed", work=label))


def _pressed(update: Update, context: ReviewContext) -> tuple[CallbackQuery, Answer | None]:
    """The pressed button's query, and the answer it was under if the chat still has it."""
    query = update.callback_query
    assert query is not None
    press = parse_button(query.data or "")
    return query, context.chat.answers.get(press.answer_id) if press else None


def _message_of(update: Update) -> Message:
    """The bot's message a button was pressed under."""
    assert update.callback_query is not None
    message = update.callback_query.message
    if not isinstance(message, Message):  # too old for Telegram to send it along
        raise ReviewbotError("the message under that button is no longer available")
    return message


async def show_works(update: Update, context: ReviewContext) -> None:
    """List the works with their review counts, average ratings and opinion lines."""
    message = update.effective_message
    assert message is not None
    language = language_of(update.effective_user)
    works = await asyncio.to_thread(context.service.work_opinions)
    lines = [(summary, summary_line(opinion, language)) for summary, opinion in works]
    await reply(message, format_works(lines, language))


async def show_stats(update: Update, context: ReviewContext) -> None:
    """Show what is indexed (no paths or store addresses)."""
    message = update.effective_message
    assert message is not None
    figures = await asyncio.to_thread(context.service.stats)
    await reply(message, format_stats(figures, language_of(update.effective_user)))


async def reset(update: Update, context: ReviewContext) -> None:
    """Forget the chat's conversation."""
    message = update.effective_message
    assert message is not None
    async with context.bot_data.chat_lock(message.chat_id):
        context.chat.reset()
    await say(message, phrase(language_of(update.effective_user), "reset"))


async def reindex(update: Update, context: ReviewContext) -> None:
    """Re-index the reviews folder and report what changed (admins only)."""
    message = update.effective_message
    assert message is not None
    language = language_of(update.effective_user)
    if not context.bot_data.is_admin(update.effective_user):
        await say(message, phrase(language, "admins_only"))
        return
    arguments = [a.casefold().lstrip("-") for a in context.args or []]
    if arguments not in ([], [ALLOW_EMPTY]):
        await say(message, phrase(language, "reindex_usage"))
        return
    index = functools.partial(context.service.index, allow_empty=bool(arguments))
    try:
        async with context.bot_data.index_lock, typing(message.chat):
            report = await asyncio.to_thread(index)
    except IndexLockedError as error:
        log.info("/reindex refused: %s", error)
        await say(message, phrase(language, "reindex_locked"))
        return
    except EmptySourceError as error:
        log.warning("/reindex refused: %s", error)
        await say(message, phrase(language, "source_empty"))
        return
    await reply(message, format_report(report, language))


async def receive_upload(update: Update, context: ReviewContext) -> None:
    """Add a review file an admin sent to the reviews folder and index it."""
    message = update.effective_message
    assert message is not None and message.document is not None
    language = language_of(update.effective_user)
    if not context.bot_data.is_admin(update.effective_user):
        await say(message, phrase(language, "admins_only"))
        return
    document = message.document
    name = safe_file_name(document.file_name or "")
    if name is None or (document.file_size or 0) > MAX_UPLOAD_BYTES:
        # Refused before downloading it.
        outcome = Added.UNSUPPORTED if name is None else Added.TOO_LARGE
        await reply(message, format_added(AddResult(outcome, name or ""), language))
        return
    async with typing(message.chat):
        with tempfile.TemporaryDirectory(prefix="reviewbot-upload-") as folder:
            path = Path(folder) / name
            file = await document.get_file()
            await file.download_to_drive(path)
            async with context.bot_data.index_lock:
                added = await asyncio.to_thread(add_review_file, context.service, path)
    log.info("upload %s: %s", added.name, added.outcome)
    await reply(message, format_added(added, language))


async def report_error(update: object, context: ReviewContext) -> None:
    """Log the error (with its traceback if unexpected); tell the user briefly and politely."""
    error = context.error
    if update is None and isinstance(error, NetworkError):
        log.warning("Telegram network error (PTB retries): %s", error)
        return
    if isinstance(error, ReviewbotError):
        log.warning("could not handle an update: %s", error)
    else:
        log.error("an update failed", exc_info=error)
    if not isinstance(update, Update) or update.effective_message is None:
        return
    language = language_of(update.effective_user)
    key = (
        "index_locked"
        if isinstance(error, IndexLockedError)
        else "index_empty"
        if isinstance(error, IndexEmptyError)
        else "source_empty"
        if isinstance(error, EmptySourceError)
        else "error"
    )
    with suppress(TelegramError):
        await say(update.effective_message, phrase(language, key))
