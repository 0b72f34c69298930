"""The Telegram bot: thin handlers over ReviewService, wired by one function.

Questions are answered by the same ``ReviewService.ask`` the CLI uses; the handlers only check
access, keep each chat's conversation, run the blocking work off the event loop and format
the result as escaped HTML, split below Telegram's 4096-character limit. With an LLM
configured, the answer streams: a first message as soon as the model wrote something, edited
with the growing text (throttled), then edited into the checked answer with its sources.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import html
import logging
import os
import re
import tempfile
import threading
import time
import unicodedata
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from telegram import (
    BotCommand,
    BotCommandScopeChat,
    Chat,
    Message,
    MessageEntity,
    Update,
    User,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import (
    BadRequest,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackContext,
    CommandHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.answers import Answer, Source
from bot.conversation import Conversation
from bot.question_input import EmptyQuestionError, QuestionTooLongError, clean_question
from bot.redaction import Redactor
from bot.service import ReviewService
from index.errors import (
    ConfigurationError,
    EmptySourceError,
    IndexEmptyError,
    IndexLockedError,
    ReviewbotError,
)
from index.files import SUPPORTED_SUFFIXES, scan_review_files
from index.indexing import IndexReport
from index.loading import load_file

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 4000
"""Below Telegram's 4096 (UTF-16 code units), measured on the HTML source, which is longer."""
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
TYPING_INTERVAL_SECONDS = 4.0
"""A chat action shows for about 5 s; repeat it before it fades."""
STREAM_EDIT_SECONDS = 1.5
"""While an answer streams, its message is edited at most this often (Telegram's flood limits)."""
SHORT_QUOTE_CHARS = 220
MAX_CHATS = 1000
CONCURRENT_UPDATES = 32
POLL_TIMEOUT_SECONDS = 30
WEBHOOK_LISTEN = "0.0.0.0"  # behind a TLS reverse proxy, which Telegram requires
WEBHOOK_PORT = 8443
SEND_ATTEMPTS = 4
LISTED_IDS = 10
ALLOW_EMPTY = "allow-empty"
"""The argument that confirms /reindex may remove every review of an emptied folder."""

# --------------------------------------------------------------------------------------------
# Fixed phrases, in the user's language (Telegram's language_code)

PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "start": "Hello! Ask me anything about the film reviews I know — I answer with numbered, "
        "quoted sources. /help shows what else I can do.",
        "help": "Ask a question in plain words (in groups: mention me, reply to me or use /ask).\n"
        "/ask QUESTION — ask in a group\n"
        "/sources — the full sources of my last answer\n"
        "/works — the films with review counts and ratings\n"
        "/stats — what is indexed\n"
        "/reset — forget our conversation",
        "help_admin": "Admins: /reindex re-reads the reviews folder; send a review file "
        "(txt, md, json, jsonl, csv, html; up to 5 MB) to add it. If the folder is empty, "
        "/reindex removes nothing unless you confirm it with /reindex allow-empty.",
        "refused": "Sorry, this bot is private.",
        "admins_only": "Sorry, only admins may do that.",
        "ask_usage": "Please write your question after /ask, e.g. /ask Who directed Ballerina?",
        "too_long": "That question is too long ({length} characters). Please ask in at most "
        "{limit} characters.",
        "sources": "Sources",
        "sources_for": "Sources for",
        "no_sources": "That answer has no sources.",
        "no_answer_yet": "There is no answer to show sources for yet — ask me something first.",
        "no_works": "No reviews are indexed yet.",
        "works_line": "{count} review(s)",
        "average": "average rating {rating}",
        "reset": "Done — I have forgotten our conversation.",
        "rate_limited": "Easy, one thing at a time! Please wait {seconds} s before the next "
        "question.",
        "error": "Sorry, something went wrong with that. Please try again later.",
        "index_locked": "The reviews are being re-indexed right now. Please try again in a moment.",
        "index_empty": "No reviews are indexed yet.",
        "reindexing": "Re-indexing the reviews…",
        "reindex_usage": "/reindex re-reads the reviews folder; /reindex allow-empty also "
        "removes every review when the folder is empty.",
        "reindex_locked": "Another index run is going on right now (another /reindex or "
        "`reviewbot index`), so I did not start one. Please try again when it has finished.",
        "source_empty": "The reviews folder holds no review files any more (is a drive not "
        "mounted?), so I changed nothing and kept every review. If they really should all "
        "go, send /reindex allow-empty.",
        "report": "Indexed: {added} added, {updated} updated, {removed} removed, "
        "{unchanged} unchanged, {failed} failed.",
        "more": "… and {count} more",
        "upload_private": "Please send review files to me in a private chat.",
        "upload_type": "I can only add review files of these types: {types}.",
        "upload_size": "That file is too large: the limit is {limit} MB.",
        "upload_unreadable": "I did not add {name}: it has no review I can read.",
        "upload_same": "{name} is already in the reviews folder; nothing changed.",
        "upload_saved": "Saved as {name}.",
        "upload_not_indexed": "Saved as {name}, but not indexed yet: another index run is "
        "going on. Send /reindex when it has finished.",
        "upload_source_empty": "I did not save {name}: the reviews folder holds no review "
        "files any more (is a drive not mounted?), and adding one would remove every other "
        "review. If they really should all go, send /reindex allow-empty first.",
        "stats_reviews": "Reviews",
        "stats_works": "Works",
        "stats_chunks": "Passages",
        "stats_languages": "Languages",
        "stats_embedder": "Embedder",
        "stats_last_index": "Last indexed",
    },
    "de": {
        "start": "Hallo! Frag mich alles zu den Filmkritiken, die ich kenne — ich antworte mit "
        "nummerierten, zitierten Quellen. /help zeigt, was ich sonst kann.",
        "help": "Stell deine Frage einfach so (in Gruppen: erwähne mich, antworte auf mich "
        "oder nutze /ask).\n"
        "/ask FRAGE — in Gruppen fragen\n"
        "/sources — die vollständigen Quellen meiner letzten Antwort\n"
        "/works — die Filme mit Zahl der Kritiken und Bewertungen\n"
        "/stats — was indexiert ist\n"
        "/reset — unser Gespräch vergessen",
        "help_admin": "Admins: /reindex liest den Kritiken-Ordner neu ein; schick mir eine "
        "Kritik als Datei (txt, md, json, jsonl, csv, html; bis 5 MB), um sie hinzuzufügen. "
        "Ist der Ordner leer, entfernt /reindex nichts, außer du bestätigst es mit "
        "/reindex allow-empty.",
        "refused": "Entschuldigung, dieser Bot ist nicht öffentlich.",
        "admins_only": "Entschuldigung, das dürfen nur Admins.",
        "ask_usage": "Bitte schreib deine Frage hinter /ask, z. B. /ask Wer hat bei Ballerina "
        "Regie geführt?",
        "too_long": "Die Frage ist zu lang ({length} Zeichen). Bitte frag in höchstens {limit} "
        "Zeichen.",
        "sources": "Quellen",
        "sources_for": "Quellen zu",
        "no_sources": "Diese Antwort hat keine Quellen.",
        "no_answer_yet": "Es gibt noch keine Antwort, zu der ich Quellen zeigen könnte — frag "
        "mich zuerst etwas.",
        "no_works": "Es sind noch keine Kritiken indexiert.",
        "works_line": "{count} Kritik(en)",
        "average": "Bewertung im Schnitt {rating}",
        "reset": "Erledigt — ich habe unser Gespräch vergessen.",
        "rate_limited": "Langsam, eins nach dem anderen! Bitte warte {seconds} s bis zur "
        "nächsten Frage.",
        "error": "Entschuldigung, dabei ist etwas schiefgegangen. Bitte versuch es später noch "
        "einmal.",
        "index_locked": "Die Kritiken werden gerade neu indexiert. Bitte versuch es gleich noch "
        "einmal.",
        "index_empty": "Es sind noch keine Kritiken indexiert.",
        "reindexing": "Ich indexiere die Kritiken neu…",
        "reindex_usage": "/reindex liest den Kritiken-Ordner neu ein; /reindex allow-empty "
        "entfernt auch alle Kritiken, wenn der Ordner leer ist.",
        "reindex_locked": "Gerade läuft schon eine Indexierung (ein anderes /reindex oder "
        "`reviewbot index`), darum habe ich keine gestartet. Bitte versuch es noch einmal, "
        "wenn sie fertig ist.",
        "source_empty": "Im Kritiken-Ordner liegen keine Kritik-Dateien mehr (ist ein Laufwerk "
        "nicht eingebunden?), darum habe ich nichts geändert und alle Kritiken behalten. "
        "Wenn sie wirklich alle weg sollen, schick /reindex allow-empty.",
        "report": "Indexiert: {added} neu, {updated} geändert, {removed} entfernt, "
        "{unchanged} unverändert, {failed} fehlgeschlagen.",
        "more": "… und {count} weitere",
        "upload_private": "Bitte schick mir Kritiken als Datei im privaten Chat.",
        "upload_type": "Ich kann nur Kritiken in diesen Formaten hinzufügen: {types}.",
        "upload_size": "Die Datei ist zu groß: erlaubt sind {limit} MB.",
        "upload_unreadable": "Ich habe {name} nicht hinzugefügt: Sie enthält keine Kritik, die "
        "ich lesen kann.",
        "upload_same": "{name} liegt schon im Kritiken-Ordner; nichts geändert.",
        "upload_saved": "Gespeichert als {name}.",
        "upload_not_indexed": "Gespeichert als {name}, aber noch nicht indexiert: gerade läuft "
        "eine andere Indexierung. Schick /reindex, wenn sie fertig ist.",
        "upload_source_empty": "Ich habe {name} nicht gespeichert: Im Kritiken-Ordner liegen "
        "keine Kritik-Dateien mehr (ist ein Laufwerk nicht eingebunden?), und eine neue "
        "würde alle anderen Kritiken entfernen. Wenn sie wirklich alle weg sollen, schick "
        "zuerst /reindex allow-empty.",
        "stats_reviews": "Kritiken",
        "stats_works": "Werke",
        "stats_chunks": "Abschnitte",
        "stats_languages": "Sprachen",
        "stats_embedder": "Embedder",
        "stats_last_index": "Zuletzt indexiert",
    },
}

COMMANDS: dict[str, list[tuple[str, str]]] = {
    "en": [
        ("ask", "Ask a question about the reviews"),
        ("sources", "Full sources of the last answer"),
        ("works", "Films with review counts and ratings"),
        ("stats", "What is indexed"),
        ("reset", "Forget our conversation"),
        ("help", "What this bot can do"),
    ],
    "de": [
        ("ask", "Eine Frage zu den Kritiken stellen"),
        ("sources", "Vollständige Quellen der letzten Antwort"),
        ("works", "Filme mit Zahl der Kritiken und Bewertungen"),
        ("stats", "Was indexiert ist"),
        ("reset", "Unser Gespräch vergessen"),
        ("help", "Was dieser Bot kann"),
    ],
}
ADMIN_COMMANDS: dict[str, list[tuple[str, str]]] = {
    "en": [("reindex", "Re-read the reviews folder (allow-empty: even if it is empty)")],
    "de": [("reindex", "Den Kritiken-Ordner neu einlesen (allow-empty: auch wenn er leer ist)")],
}


def language_of(user: User | None) -> str:
    """ "de" for users whose Telegram speaks German, else "en"."""
    code = (user.language_code or "") if user else ""
    return "de" if code.lower().startswith("de") else "en"


def phrase(language: str, key: str, **values: object) -> str:
    """A fixed phrase in ``language`` (English if unknown), with ``values`` filled in."""
    return PHRASES.get(language, PHRASES["en"])[key].format(**values)


# --------------------------------------------------------------------------------------------
# HTML replies, split below the limit without breaking tags


@dataclass(frozen=True)
class Span:
    """Plain text, shown inside one HTML tag (or none); escaped only when rendered."""

    text: str
    tag: str | None = None

    def render(self) -> str:
        escaped = html.escape(self.text, quote=False)
        return f"<{self.tag}>{escaped}</{self.tag}>" if self.tag else escaped


Paragraph = Sequence[Span]
PARAGRAPH_BREAK = "\n\n"
# Where plain text may be cut, best first: paragraphs, lines, sentences, words.
_CUTS = (
    re.compile(r"\n\s*\n"),
    re.compile(r"\n"),
    re.compile(r"(?<=[.!?…:;])[\"'»«“”„)\]]*\s+"),
    re.compile(r"\s+"),
)


def telegram_length(text: str) -> int:
    """The length Telegram counts: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def render(paragraphs: Sequence[Paragraph]) -> str:
    """The HTML of ``paragraphs``, separated by blank lines."""
    return PARAGRAPH_BREAK.join("".join(span.render() for span in p) for p in paragraphs)


def split_message(paragraphs: Sequence[Paragraph], *, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """HTML messages of at most ``limit`` UTF-16 units each, cut between paragraphs where
    possible, else on line, sentence or word boundaries of the plain text; every tag is
    closed in the message it opens in."""
    messages: list[str] = []
    current = ""
    for paragraph in paragraphs:
        for piece in _fit_paragraph(paragraph, limit):
            joined = f"{current}{PARAGRAPH_BREAK}{piece}" if current else piece
            if telegram_length(joined) <= limit:
                current = joined
            else:
                messages.append(current)
                current = piece
    if current:
        messages.append(current)
    # Whitespace outside the first and last tag only: stripping it never touches markup.
    return [m.strip() for m in messages if m.strip()]


def _fit_paragraph(paragraph: Paragraph, limit: int) -> list[str]:
    """The paragraph as one HTML string, or as several that each fit ``limit``."""
    whole = "".join(span.render() for span in paragraph)
    if telegram_length(whole) <= limit:
        return [whole]
    pieces: list[str] = []
    current = ""
    for span in paragraph:
        for part in _fit_span(span, limit):
            if current and telegram_length(current + part) > limit:
                pieces.append(current)
                current = part.lstrip()
            else:
                current += part
    if current:
        pieces.append(current)
    return pieces


def _fit_span(span: Span, limit: int) -> list[str]:
    """The span rendered, split into plain-text parts that fit ``limit`` once wrapped."""
    if telegram_length(span.render()) <= limit:
        return [span.render()]
    return [
        Span(text, span.tag).render()
        for text in _split_plain(
            span.text, lambda t: telegram_length(Span(t, span.tag).render()), limit
        )
    ]


def _split_plain(text: str, size: Callable[[str], int], limit: int, level: int = 0) -> list[str]:
    """Cut ``text`` into parts with ``size(part) <= limit``, at the best boundaries."""
    if size(text) <= limit:
        return [text]
    if level >= len(_CUTS):
        return _hard_cut(text, size, limit)
    parts: list[str] = []
    current = ""
    for piece in _pieces(text, _CUTS[level]):
        if size(current + piece) <= limit:
            current += piece
            continue
        if current.strip():
            parts.append(current.rstrip())
        if size(piece) <= limit:
            current = piece.lstrip()
        else:
            parts.extend(_split_plain(piece.strip(), size, limit, level + 1))
            current = ""
    if current.strip():
        parts.append(current.rstrip())
    return parts


def _pieces(text: str, cut: re.Pattern[str]) -> list[str]:
    """``text`` in pieces that each end just after a ``cut`` (the last one may not)."""
    pieces: list[str] = []
    start = 0
    for match in cut.finditer(text):
        if match.end() > start:
            pieces.append(text[start : match.end()])
            start = match.end()
    if start < len(text):
        pieces.append(text[start:])
    return pieces


def _hard_cut(text: str, size: Callable[[str], int], limit: int) -> list[str]:
    parts: list[str] = []
    while text:
        end = len(text)
        while end > 1 and size(text[:end]) > limit:
            end = max(1, min(end - 1, end * limit // max(size(text[:end]), 1)))
        parts.append(text[:end])
        text = text[end:]
    return parts


def _source_heading(source: Source) -> list[Span]:
    by = ", ".join(x for x in (source.author, source.source) if x)
    spans = [Span(f"[{source.n}] "), Span(source.work, "b")]
    if by:
        spans.append(Span(f" — {by}"))
    return spans


def _short(quote: str, chars: int) -> str:
    quote = " ".join(quote.split())
    return quote if len(quote) <= chars else quote[: chars - 1].rstrip() + "…"


def format_answer(answer: Answer, language: str) -> list[Paragraph]:
    """The answer, then its numbered sources with short quotes."""
    paragraphs: list[Paragraph] = []
    if answer.status == "not_found":
        paragraphs.append([Span(answer.question, "i")])  # so the asker sees what was not found
    paragraphs.append([Span(answer.answer)])
    if answer.sources:
        paragraphs.append([Span(phrase(language, "sources"), "b")])
        for source in answer.sources:
            quote = _short(source.quote, SHORT_QUOTE_CHARS)
            paragraphs.append([*_source_heading(source), Span("\n"), Span(f"„{quote}“", "i")])
    return paragraphs


def format_sources(answer: Answer, language: str) -> list[Paragraph]:
    """Every source of ``answer`` with its full quote and the review it comes from."""
    paragraphs: list[Paragraph] = [
        [Span(f"{phrase(language, 'sources_for')}: ", "b"), Span(answer.question, "i")]
    ]
    if not answer.sources:
        paragraphs.append([Span(phrase(language, "no_sources"))])
    for source in answer.sources:
        paragraphs.append(
            [
                *_source_heading(source),
                Span("\n"),
                Span(source.review_id, "code"),
                Span("\n"),
                Span(source.quote, "blockquote"),
            ]
        )
    return paragraphs


def format_report(report: IndexReport, language: str) -> list[Paragraph]:
    """What an index run changed, with the first few review ids of each kind."""
    paragraphs: list[Paragraph] = [
        [
            Span(
                phrase(
                    language,
                    "report",
                    added=len(report.added),
                    updated=len(report.updated),
                    removed=len(report.removed),
                    unchanged=len(report.unchanged),
                    failed=len(report.failed),
                )
            )
        ]
    ]
    for sign, ids in (("+", report.added), ("~", report.updated), ("-", report.removed)):
        if ids:
            lines = [f"{sign} {review_id}" for review_id in ids[:LISTED_IDS]]
            if len(ids) > LISTED_IDS:
                lines.append(phrase(language, "more", count=len(ids) - LISTED_IDS))
            paragraphs.append([Span("\n".join(lines), "code")])
    # Only file names: the admin knows the folder; a full path says more than needed.
    for sign, items in (
        ("✗", [(f.path, f.record_key, f.reason) for f in report.failed]),
        ("ℹ", [(n.path, n.record_key, n.note) for n in report.notes]),  # what was repaired
    ):
        for path, record_key, text in items[:LISTED_IDS]:
            record = f" #{record_key}" if record_key else ""
            paragraphs.append([Span(f"{sign} {Path(path).name}{record}: {text}")])
        if len(items) > LISTED_IDS:
            paragraphs.append([Span(phrase(language, "more", count=len(items) - LISTED_IDS))])
    return paragraphs


# --------------------------------------------------------------------------------------------
# Shared state


class ChatMemory:
    """A Conversation per chat, for at most ``max_chats`` chats (least recently used go)."""

    def __init__(self, *, max_chats: int = MAX_CHATS) -> None:
        self._max_chats = max_chats
        self._chats: OrderedDict[int, tuple[Conversation, asyncio.Lock]] = OrderedDict()

    def get(self, chat_id: int) -> tuple[Conversation, asyncio.Lock]:
        """The chat's conversation and the lock that keeps its questions in order."""
        entry = self._chats.pop(chat_id, None) or (Conversation(), asyncio.Lock())
        self._chats[chat_id] = entry
        while len(self._chats) > self._max_chats:
            self._chats.popitem(last=False)
        return entry

    def last_answer(self, chat_id: int) -> Answer | None:
        entry = self._chats.get(chat_id)
        turns = entry[0].turns() if entry else []
        return turns[-1].answer if turns else None

    def reset(self, chat_id: int) -> None:
        entry = self._chats.get(chat_id)
        if entry:
            entry[0].reset()


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
    """What every handler shares; build_application fills it in."""

    service: ReviewService | None = None
    chats: ChatMemory = field(default_factory=ChatMemory)
    rate_limit: RateLimit = field(default_factory=RateLimit)
    index_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    allowed_users: frozenset[int] = frozenset()
    admins: frozenset[int] = frozenset()

    def may_ask(self, user: User) -> bool:
        return not self.allowed_users or user.id in self.allowed_users or self.is_admin(user)

    def is_admin(self, user: User | None) -> bool:
        return user is not None and user.id in self.admins


class ReviewContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    """The handlers' context: ``bot_data`` is the typed BotData."""

    @property
    def service(self) -> ReviewService:
        service = self.bot_data.service
        if service is None:
            raise RuntimeError("the Application was not made by build_application")
        return service


# --------------------------------------------------------------------------------------------
# Talking to Telegram

T = TypeVar("T")


def _transient(error: TelegramError) -> bool:
    # BadRequest and Forbidden are NetworkErrors too, but retrying them cannot help.
    return isinstance(error, RetryAfter | TimedOut) or type(error) is NetworkError


async def with_retries(call: Callable[[], Awaitable[T]], *, attempts: int = SEND_ATTEMPTS) -> T:
    """``call()``, again after 1, 2, 4 … s (or as long as Telegram asks) on network errors."""
    for attempt in range(attempts):
        try:
            return await call()
        except TelegramError as error:
            if not _transient(error) or attempt == attempts - 1:
                raise
            delay = float(2**attempt)
            if isinstance(error, RetryAfter):
                retry_after = error.retry_after
                delay = retry_after if isinstance(retry_after, int) else retry_after.total_seconds()
            log.warning("Telegram: %s; retrying in %.0f s", error, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


async def reply(message: Message, paragraphs: Sequence[Paragraph]) -> list[Message]:
    """Send ``paragraphs`` as HTML replies to ``message``, split below the limit."""
    sent: list[Message] = []
    for part in split_message(paragraphs):
        sent.append(await with_retries(functools.partial(message.reply_html, part)))
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


def _addressed_question(message: Message, bot_username: str, bot_id: int) -> str | None:
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


# --------------------------------------------------------------------------------------------
# Streamed answers


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

    def postpone(self, seconds: float) -> None:
        """Show nothing new for ``seconds`` (Telegram asked the bot to slow down)."""
        self._shown_at = max(self._shown_at, self.clock() + seconds - self.interval)


def preview_html(text: str) -> str:
    """The streamed text so far as a message: plain, escaped, cut below the limit."""
    parts = split_message([[Span(text.strip())]])
    return parts[0] if parts else ""


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
    throttle: EditThrottle | None = None,
) -> None:
    """Answer ``message`` from ``stream`` (text deltas, then the final Answer), run in a
    worker thread: a first reply as soon as there is text, edits with the growing text as
    ``throttle`` allows, and finally the formatted answer with its sources (edited into the
    first reply; the rest of a long answer follows as further messages).

    If the stream fails, the partial reply is deleted and the error raised (the error handler
    apologises). Returns only once the worker is done, so the chat's lock covers it.
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
                await _show_final(message, sent, item, language, throttle)
                return
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
        sent = await with_retries(functools.partial(message.reply_html, preview))
        throttle.mark(preview)
        return sent
    try:
        await sent.edit_text(preview, parse_mode=ParseMode.HTML)
    except RetryAfter as error:
        retry_after = error.retry_after
        throttle.postpone(
            retry_after if isinstance(retry_after, int) else retry_after.total_seconds()
        )
        return sent
    except TelegramError as error:
        log.info("could not edit a streamed answer: %s", error)
    throttle.mark(preview)
    return sent


async def _show_final(
    message: Message, sent: Message | None, answer: Answer, language: str, throttle: EditThrottle
) -> None:
    """The formatted answer: edited into ``sent`` (if a preview was sent), the rest replied."""
    if sent is None:
        await reply(message, format_answer(answer, language))
        return
    first, *rest = split_message(format_answer(answer, language)) or [""]
    if first and first != throttle.shown:
        try:
            await with_retries(functools.partial(sent.edit_text, first, parse_mode=ParseMode.HTML))
        except BadRequest as error:
            if "not modified" not in str(error).lower():
                raise
        throttle.mark(first)
    for part in rest:
        await with_retries(functools.partial(message.reply_html, part))


# --------------------------------------------------------------------------------------------
# Handlers


async def check_access(update: Update, context: ReviewContext) -> None:
    """Let allowed users through; refuse everyone else once, briefly, and stop the update."""
    user = update.effective_user
    if user is not None and context.bot_data.may_ask(user):
        return
    message = update.effective_message
    if message is not None and user is not None and _speaks_to_bot(message, context):
        await say(message, phrase(language_of(user), "refused"))
    raise ApplicationHandlerStop


def _speaks_to_bot(message: Message, context: ReviewContext) -> bool:
    if message.chat.type == Chat.PRIVATE:
        return True
    command = (message.text or "").split(maxsplit=1)[0] if message.text else ""
    if command.startswith("/"):  # "/works" or "/works@ThisBot", not "/works@OtherBot"
        _, _, addressee = command.partition("@")
        return not addressee or addressee.casefold() == context.bot.username.casefold()
    return _addressed_question(message, context.bot.username, context.bot.id) is not None


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
    question = _addressed_question(message, context.bot.username, context.bot.id)
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
    """Answer ``question`` in the chat's conversation, with sources; rate-limited per user."""
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
    conversation, in_order = context.bot_data.chats.get(message.chat_id)
    # The first look at .llm may import the LLM client: off the event loop too.
    if await asyncio.to_thread(lambda: service.llm) is not None:
        async with in_order, typing(message.chat):
            stream = functools.partial(service.ask_stream, question, conversation=conversation)
            await stream_answer(message, stream, language)
        return
    async with in_order, typing(message.chat):
        result = await asyncio.to_thread(service.ask, question, conversation=conversation)
    await reply(message, format_answer(result, language))


async def show_sources(update: Update, context: ReviewContext) -> None:
    """Show the full sources of the chat's last answer."""
    message = update.effective_message
    assert message is not None
    language = language_of(update.effective_user)
    last = context.bot_data.chats.last_answer(message.chat_id)
    if last is None:
        await say(message, phrase(language, "no_answer_yet"))
        return
    await reply(message, format_sources(last, language))


async def show_works(update: Update, context: ReviewContext) -> None:
    """List the works with their review counts and average ratings."""
    message = update.effective_message
    assert message is not None
    language = language_of(update.effective_user)
    summaries = await asyncio.to_thread(context.service.works)
    if not summaries:
        await say(message, phrase(language, "no_works"))
        return
    paragraphs: list[Paragraph] = []
    for summary in summaries:
        details = [phrase(language, "works_line", count=len(summary.reviews))]
        if summary.average_rating is not None:
            rating = f"{summary.average_rating:.0%}"
            details.append(phrase(language, "average", rating=rating))
        paragraphs.append([Span(summary.work.label(), "b"), Span(f" — {', '.join(details)}")])
    await reply(message, paragraphs)


async def show_stats(update: Update, context: ReviewContext) -> None:
    """Show what is indexed (no paths or store addresses)."""
    message = update.effective_message
    assert message is not None
    language = language_of(update.effective_user)
    figures = await asyncio.to_thread(context.service.stats)
    languages = figures.get("languages") or {}
    rows = [
        ("stats_reviews", figures.get("reviews")),
        ("stats_works", figures.get("works")),
        ("stats_chunks", figures.get("chunks")),
        ("stats_languages", ", ".join(f"{k} {v}" for k, v in languages.items()) or "—"),
        ("stats_embedder", figures.get("embedder")),
        ("stats_last_index", figures.get("last_index") or "—"),
    ]
    lines: list[Span] = []
    for key, value in rows:
        lines += [Span(phrase(language, key), "b"), Span(f": {value}\n")]
    await reply(message, [lines])


async def reset(update: Update, context: ReviewContext) -> None:
    """Forget the chat's conversation."""
    message = update.effective_message
    assert message is not None
    context.bot_data.chats.reset(message.chat_id)
    await say(message, phrase(language_of(update.effective_user), "reset"))


async def reindex(update: Update, context: ReviewContext) -> None:
    """Re-index the reviews folder and report what changed (admins only); ``allow-empty``
    confirms removing every review when the folder is empty."""
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
    """Check a review file an admin sent, save it into the reviews folder and index it."""
    message = update.effective_message
    assert message is not None and message.document is not None
    language = language_of(update.effective_user)
    if not context.bot_data.is_admin(update.effective_user):
        await say(message, phrase(language, "admins_only"))
        return
    document = message.document
    name = safe_file_name(document.file_name or "")
    if name is None:
        types = ", ".join(sorted(s.removeprefix(".") for s in SUPPORTED_SUFFIXES))
        await say(message, phrase(language, "upload_type", types=types))
        return
    if (document.file_size or 0) > MAX_UPLOAD_BYTES:
        await say(message, phrase(language, "upload_size", limit=MAX_UPLOAD_BYTES // 2**20))
        return
    settings = context.service.settings
    async with typing(message.chat):
        with tempfile.TemporaryDirectory(prefix="reviewbot-upload-") as folder:
            path = Path(folder) / name
            file = await with_retries(document.get_file)
            await with_retries(lambda: file.download_to_drive(path))
            loaded = await asyncio.to_thread(
                load_file,
                path,
                root=Path(folder),
                columns=settings.csv_columns or None,
                max_bytes=MAX_UPLOAD_BYTES,
            )
            if not loaded.records:
                reasons = "; ".join(dict.fromkeys(f.reason for f in loaded.failures))
                text = phrase(language, "upload_unreadable", name=name)
                await reply(
                    message, [[Span(text)], [Span(reasons, "i")]] if reasons else [[Span(text)]]
                )
                return
            async with context.bot_data.index_lock:
                await _add_upload(message, context.service, path, language)


async def _add_upload(message: Message, service: ReviewService, path: Path, language: str) -> None:
    """Save the checked upload into the reviews folder, index it and report."""
    folder = service.settings.reviews_dir
    try:
        if folder.is_dir() and not await asyncio.to_thread(_holds_review_files, folder):
            # Adding a file to an emptied folder (an unmounted share) would remove every
            # other review: let the indexer refuse that first, if it would.
            await asyncio.to_thread(service.index)
    except EmptySourceError as error:
        log.warning("upload refused: %s", error)
        await say(message, phrase(language, "upload_source_empty", name=path.name))
        return
    except IndexLockedError as error:  # nothing saved yet: sending it again will do
        log.info("upload refused: %s", error)
        await say(message, phrase(language, "index_locked"))
        return
    saved = await asyncio.to_thread(save_upload, path, folder)
    if saved is None:
        await say(message, phrase(language, "upload_same", name=path.name))
        return
    try:
        report = await asyncio.to_thread(service.index)
    except IndexLockedError as error:
        log.info("uploaded %s, not indexed: %s", saved.name, error)
        await say(message, phrase(language, "upload_not_indexed", name=saved.name))
        return
    saved_line = [Span(phrase(language, "upload_saved", name=saved.name))]
    await reply(message, [saved_line, *format_report(report, language)])


def _holds_review_files(folder: Path) -> bool:
    return bool(scan_review_files([folder]).files)


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


# --------------------------------------------------------------------------------------------
# Uploads


def safe_file_name(name: str) -> str | None:
    """A plain file name for an upload (no folders, no hidden files, tame characters), or
    None if its type is not a review format."""
    base = unicodedata.normalize("NFKC", name).replace("\\", "/").rsplit("/", 1)[-1]
    stem, suffix = os.path.splitext(base)
    suffix = suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        return None
    stem = re.sub(r"[^\w.-]+", "_", stem).strip("._-")[:80] or "review"
    return f"{stem}{suffix}"


def save_upload(path: Path, folder: Path) -> Path | None:
    """Copy ``path`` into ``folder`` under its name, or ``name-2`` … if another file has it;
    None if a file there has the same bytes already. Never overwrites."""
    data = path.read_bytes()
    digest = hashlib.sha256(data).digest()
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(1, 1000):
        suffix = f"-{number}" if number > 1 else ""
        target = folder / f"{path.stem}{suffix}{path.suffix}"
        if target.exists():
            if target.is_file() and hashlib.sha256(target.read_bytes()).digest() == digest:
                return None
            continue
        # Write a hidden file (indexers skip those), then link it to the name: the link fails
        # if the name was taken meanwhile, and a watcher never sees a half-written file.
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".upload-", delete=False) as temp:
            temp.write(data)
        try:
            os.link(temp.name, target)
        except FileExistsError:
            continue
        finally:
            os.unlink(temp.name)
        return target
    raise ReviewbotError(f"too many files named like {path.name}")


# --------------------------------------------------------------------------------------------
# Wiring


async def start_bot(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Once Telegram accepted the token (getMe answered): register the commands, say so."""
    await register_commands(application)
    log.info("Telegram bot @%s started", application.bot.username)


async def register_commands(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Tell Telegram the commands, so clients list them (admins also see /reindex)."""
    bot = application.bot
    admins = application.bot_data.admins
    for language in ("de", "en"):
        code = language if language != "en" else None
        public = [BotCommand(c, d) for c, d in COMMANDS[language]]
        admin = public + [BotCommand(c, d) for c, d in ADMIN_COMMANDS[language]]
        for admin_id in admins:
            try:
                await bot.set_my_commands(
                    admin, scope=BotCommandScopeChat(admin_id), language_code=code
                )
            except TelegramError as error:  # e.g. the admin never started the bot
                log.warning("could not set the admin commands for %s: %s", admin_id, error)
        await bot.set_my_commands(public, language_code=code)


def build_application(
    service: ReviewService,
    *,
    base_url: str | None = None,
    base_file_url: str | None = None,
    rate_limit: RateLimit | None = None,
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The bot for ``service``: handlers, access check, error handler, command registration."""
    settings = service.settings
    if settings.telegram_token is None or not settings.telegram_token.get_secret_value():
        raise ConfigurationError(
            "no Telegram bot token: set REVIEWBOT_TELEGRAM_TOKEN (from @BotFather) in .env"
        )
    context_types = ContextTypes(context=ReviewContext, bot_data=BotData)
    builder = (
        Application.builder()
        .token(settings.telegram_token.get_secret_value())
        .context_types(context_types)
        .concurrent_updates(CONCURRENT_UPDATES)
        .connect_timeout(10)
        .read_timeout(20)
        .write_timeout(30)
        .pool_timeout(10)
        .connection_pool_size(CONCURRENT_UPDATES)
        .get_updates_connect_timeout(10)
        .get_updates_read_timeout(POLL_TIMEOUT_SECONDS + 10)
        .post_init(start_bot)
    )
    if base_url is None and settings.telegram_api_url:
        base_url = f"{settings.telegram_api_url}/bot"
        base_file_url = base_file_url or f"{settings.telegram_api_url}/file/bot"
    if base_url is not None:
        builder = builder.base_url(base_url)
    if base_file_url is not None:
        builder = builder.base_file_url(base_file_url)
    application = builder.build()

    state: BotData = application.bot_data
    state.service = service
    state.allowed_users = frozenset(settings.telegram_allowed_users)
    state.admins = frozenset(settings.telegram_admins)
    if rate_limit is not None:
        state.rate_limit = rate_limit

    only_messages = filters.UpdateType.MESSAGE
    text = only_messages & filters.TEXT & ~filters.COMMAND
    application.add_handler(TypeHandler(Update, check_access), group=-1)
    application.add_handlers(
        [
            CommandHandler("start", start),
            CommandHandler("help", show_help),
            CommandHandler("ask", ask),
            CommandHandler("sources", show_sources),
            CommandHandler("works", show_works),
            CommandHandler("stats", show_stats),
            CommandHandler("reset", reset),
            CommandHandler("reindex", reindex),
            MessageHandler(text & filters.ChatType.PRIVATE, answer_private),
            MessageHandler(text & filters.ChatType.GROUPS, answer_group),
            MessageHandler(
                only_messages & filters.Document.ALL & filters.ChatType.PRIVATE, receive_upload
            ),
        ]
    )
    application.add_error_handler(report_error)
    return application


class _StartFailureDemoted(logging.Filter):
    """Makes python-telegram-bot's traceback for a failed start (a rejected token, Telegram
    out of reach) a debug line: run_bot reports that failure itself, in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        at_start = "(Bootstrap" in record.getMessage()  # PTB's retry loop while starting
        if isinstance(error, InvalidToken) or (isinstance(error, TelegramError) and at_start):
            record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return True


def webhook_secret(token: str) -> str:
    """What Telegram sends back with every webhook update, so forged requests are refused."""
    return hashlib.sha256(token.encode()).hexdigest()[:64]


def run_bot(service: ReviewService, *, redactor: Redactor | None = None) -> None:
    """Run the bot until interrupted: long polling, or a webhook when
    REVIEWBOT_TELEGRAM_WEBHOOK_URL is set. Secrets are masked in every log line from before
    the bot is built (``redactor``: the one already installed, if any); a token Telegram
    rejects raises a ConfigurationError."""
    if redactor is None:
        redactor = Redactor()
        redactor.install()
    redactor.add(service.settings.secrets())
    token = service.settings.telegram_token
    if token is not None:
        redactor.add([webhook_secret(token.get_secret_value())])
    logging.getLogger("telegram.ext").addFilter(_StartFailureDemoted())
    application = build_application(service)
    try:
        _run(application, service.settings.telegram_webhook_url)
    except InvalidToken:
        raise ConfigurationError(
            "Telegram rejected the bot token; check REVIEWBOT_TELEGRAM_TOKEN"
        ) from None
    except TelegramError as error:
        raise ReviewbotError(f"the Telegram bot could not start: {error}") from error


def _run(application: Application[Any, Any, Any, Any, Any, Any], webhook_url: str | None) -> None:
    if webhook_url is None:
        log.info("connecting to Telegram (long polling)")
        application.run_polling(
            allowed_updates=Update.ALL_TYPES,
            timeout=POLL_TIMEOUT_SECONDS,
            bootstrap_retries=5,
        )
        return
    try:
        import tornado  # noqa: F401 - PTB's webhook server
    except ImportError as error:
        raise ConfigurationError(
            "webhook mode needs python-telegram-bot[webhooks]; install it or unset "
            "REVIEWBOT_TELEGRAM_WEBHOOK_URL to use long polling"
        ) from error
    log.info("connecting to Telegram (webhook on port %d)", WEBHOOK_PORT)
    application.run_webhook(
        listen=WEBHOOK_LISTEN,
        port=WEBHOOK_PORT,
        url_path=urlsplit(webhook_url).path.lstrip("/"),
        webhook_url=webhook_url,
        secret_token=webhook_secret(application.bot.token),
        allowed_updates=Update.ALL_TYPES,
        bootstrap_retries=5,
    )
