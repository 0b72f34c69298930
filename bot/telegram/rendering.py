"""Replies as Telegram HTML: answers, sources, reports and lists, split below 4096 (UTF-16),
and the inline keyboard under an answer."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.answers import Answer, Source
from bot.telegram.phrases import phrase
from bot.uploads import MAX_UPLOAD_BYTES, SUPPORTED_TYPES, Added, AddResult
from index.catalog import WorkSummary
from index.indexing import IndexReport

MAX_MESSAGE_CHARS = 4000
"""Below Telegram's 4096 (UTF-16 code units), measured on the HTML source, which is longer."""
SHORT_QUOTE_CHARS = 220
LISTED_IDS = 10
MAX_BUTTON_LABEL = 60


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


def format_works(works: Sequence[tuple[WorkSummary, str]], language: str) -> list[Paragraph]:
    """Per work: its label, review count and average rating, then its opinion line."""
    if not works:
        return [[Span(phrase(language, "no_works"))]]
    paragraphs: list[Paragraph] = []
    for summary, opinion in works:
        details = [phrase(language, "works_line", count=len(summary.reviews))]
        if summary.average_rating is not None:
            rating = f"{summary.average_rating:.0%}"
            details.append(phrase(language, "average", rating=rating))
        line = [Span(summary.work.label(), "b"), Span(f" — {', '.join(details)}")]
        if opinion:
            line += [Span("\n"), Span(opinion, "i")]
        paragraphs.append(line)
    return paragraphs


def format_stats(figures: dict[str, Any], language: str) -> list[Paragraph]:
    """What is indexed, one labelled line per figure (no paths or store addresses)."""
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
    return [lines]


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


def preview_html(text: str) -> str:
    """The streamed text so far as a message: plain, escaped, cut below the limit."""
    parts = split_message([[Span(text.strip())]])
    return parts[0] if parts else ""


# Callback data of the buttons under an answer: "<action>:<answer id>[:<argument>]", well
# below Telegram's 64 bytes.
SOURCES = "sources"
FEEDBACK = "feedback"
NARROW = "narrow"
LIKED, DISLIKED = "up", "down"


def answer_keyboard(answer_id: int, answer: Answer, language: str) -> InlineKeyboardMarkup:
    """Sources and 👍 / 👎 under an answer; one button per work when it spoke of several."""
    rows = [
        [
            InlineKeyboardButton(
                phrase(language, "sources_button"), callback_data=f"{SOURCES}:{answer_id}"
            ),
            InlineKeyboardButton("👍", callback_data=f"{FEEDBACK}:{answer_id}:{LIKED}"),
            InlineKeyboardButton("👎", callback_data=f"{FEEDBACK}:{answer_id}:{DISLIKED}"),
        ]
    ]
    if len(answer.work_ids) > 1:
        rows += [
            [InlineKeyboardButton(_short(label, MAX_BUTTON_LABEL), callback_data=data)]
            for label, data in zip(
                answer.works,
                (f"{NARROW}:{answer_id}:{i}" for i in range(len(answer.work_ids))),
                strict=False,
            )
        ]
    return InlineKeyboardMarkup(rows)


@dataclass(frozen=True)
class ButtonPress:
    """What a pressed button under an answer asks for."""

    action: str
    answer_id: int
    argument: str = ""


def parse_button(data: str) -> ButtonPress | None:
    """The press encoded in a button's callback data, or None if it is not ours."""
    action, _, rest = data.partition(":")
    answer_id, _, argument = rest.partition(":")
    if action not in (SOURCES, FEEDBACK, NARROW) or not answer_id.isdigit():
        return None
    return ButtonPress(action, int(answer_id), argument)


def format_added(result: AddResult, language: str) -> list[Paragraph]:
    """What became of a review file an admin sent."""
    name = result.name
    match result.outcome:
        case Added.SAVED:
            assert result.report is not None
            saved: Paragraph = [Span(phrase(language, "upload_saved", name=name))]
            return [saved, *format_report(result.report, language)]
        case Added.UNREADABLE:
            reasons = "; ".join(result.reasons)
            text = [Span(phrase(language, "upload_unreadable", name=name))]
            return [text, [Span(reasons, "i")]] if reasons else [text]
        case Added.UNSUPPORTED:
            return [[Span(phrase(language, "upload_type", types=SUPPORTED_TYPES))]]
        case Added.TOO_LARGE:
            return [[Span(phrase(language, "upload_size", limit=MAX_UPLOAD_BYTES // 2**20))]]
    key = {
        Added.SAME: "upload_same",
        Added.NOT_INDEXED: "upload_not_indexed",
        Added.SOURCE_EMPTY: "upload_source_empty",
        Added.LOCKED: "index_locked",
    }[result.outcome]
    return [[Span(phrase(language, key, name=name))]]
