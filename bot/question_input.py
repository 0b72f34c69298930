"""A question as typed (any terminal, any chat) made into text every later step can take."""

from __future__ import annotations

import re
import unicodedata

from index.errors import ReviewbotError

# Bytes a terminal sent that were not UTF-8: Python keeps them as U+DC80–U+DCFF
# ("surrogateescape"), which nothing downstream can encode.
_ESCAPED_BYTES = re.compile("[\udc80-\udcff]+")
_FALLBACK_ENCODING = "cp1252"
"""What a non-UTF-8 terminal most likely sent (a superset of latin-1's letters)."""


class QuestionError(ReviewbotError):
    """A question reviewbot cannot take."""


class EmptyQuestionError(QuestionError):
    """Nothing is left of the question once it is cleaned."""

    def __init__(self) -> None:
        super().__init__("the question is empty")


class QuestionTooLongError(QuestionError):
    """The question is longer than REVIEWBOT_MAX_QUESTION_CHARS."""

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(
            f"the question is too long ({length} characters); please ask in at most {limit}"
        )
        self.length = length
        self.limit = limit


def clean_question(text: str, *, max_chars: int) -> str:
    """``text`` repaired and tidied: bytes from a non-UTF-8 terminal decoded as cp1252,
    surrogate pairs joined, lone surrogates and control characters replaced, runs of white
    space made one space, NFC. Raises EmptyQuestionError or QuestionTooLongError."""
    text = _ESCAPED_BYTES.sub(_decode_escaped_bytes, text)
    # Joins "\ud83d\ude00" into one emoji; what stays unpaired becomes U+FFFD.
    text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    text = " ".join(unicodedata.normalize("NFC", text).split())
    if not text:
        raise EmptyQuestionError
    if len(text) > max_chars:
        raise QuestionTooLongError(len(text), max_chars)
    return text


def _decode_escaped_bytes(match: re.Match[str]) -> str:
    raw = match.group().encode("utf-8", "surrogateescape")
    return raw.decode(_FALLBACK_ENCODING, "replace")
