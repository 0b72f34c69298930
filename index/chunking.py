"""Splits a review into sentences and packs them into passages of about 800 characters."""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from index.metadata import find_header_fields, iter_segments
from index.records import Chunk, Review

if TYPE_CHECKING:
    from somajo import SoMaJo

DEFAULT_CHUNK_CHARS = 800
# Real paragraphs stay well below this (the longest of 8,000 DVD reviews has 4,930
# characters); a longer one is cut before sentence splitting, whose cost grows with it.
MAX_PARAGRAPH_CHARS = 8_000
_PROGRESS_EVERY_CHARS = 64 * 1024
_SENTENCE_END = re.compile(r"[.!?…][\"'»«“”)\]]*(?P<gap>\s+)")
_SPACE = re.compile(r"(?P<gap>\s+)")
# Words, spaces and punctuation that never ends a sentence.
_ONE_SENTENCE = re.compile(r"[\w\s,'’\"„“”«»()\-–/&]*")

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Sentence:
    """A sentence as a slice of the review text; header lines are sentences of their own."""

    start: int
    end: int
    is_header: bool = False


@lru_cache(maxsize=2)
def _splitter(language: str) -> SoMaJo:
    from somajo import SoMaJo

    model = "de_CMC" if language == "de" else "en_PTB"
    return SoMaJo(model, split_camel_case=False, character_offsets=True)


def split_sentences(
    text: str, *, language: str, progress: Progress | None = None
) -> list[Sentence]:
    """Sentences of ``text`` in order; line breaks and header separators always end one.

    The work is linear in the length of the text: a paragraph longer than
    ``MAX_PARAGRAPH_CHARS`` is cut (at a sentence end where there is one, else at a space,
    else anywhere) before the sentence splitter sees it. ``progress`` is called with the
    characters done and the total as the splitting goes on.
    """
    header_spans = {(f.start, f.end) for f in find_header_fields(text)}
    sentences = [Sentence(s, e, is_header=True) for s, e in header_spans]
    pieces = [
        piece
        for s, e in iter_segments(text)
        if (s, e) not in header_spans and text[s:e].strip()
        for piece in _pieces(text, s, e, MAX_PARAGRAPH_CHARS)
    ]
    reported = 0
    for start, end in pieces:
        sentences.extend(_sentences_of(text, start, end, language))
        if progress is not None and end - reported >= _PROGRESS_EVERY_CHARS:
            progress(end, len(text))
            reported = end
    if progress is not None:
        progress(len(text), len(text))
    return sorted(sentences, key=lambda s: s.start)


def _pieces(text: str, start: int, end: int, limit: int) -> Iterator[tuple[int, int]]:
    """(start, end) pieces of ``text[start:end]``, none longer than ``limit``, cut at the
    last sentence end in the second half of the window, else the last space, else anywhere."""
    while end - start > limit:
        window_end = start + limit
        gap = _last_gap(_SENTENCE_END, text, start + limit // 2, window_end) or _last_gap(
            _SPACE, text, start + 1, window_end
        )
        cut, start_next = gap or (window_end, window_end)
        yield start, cut
        start = start_next
    if start < end:
        yield start, end


def _last_gap(pattern: re.Pattern[str], text: str, start: int, end: int) -> tuple[int, int] | None:
    """Where the whitespace of the last match of ``pattern`` in ``text[start:end]`` is."""
    last = deque(pattern.finditer(text, start, end), maxlen=1)
    return (last[0].start("gap"), last[0].end("gap")) if last else None


def _sentences_of(text: str, start: int, end: int, language: str) -> list[Sentence]:
    piece = text[start:end]
    stripped = piece.strip()
    if not stripped:
        return []
    if _ONE_SENTENCE.fullmatch(stripped[:-1]):
        # No punctuation inside: the splitter would return the piece whole, only slower.
        first = start + len(piece) - len(piece.lstrip())
        return [Sentence(first, first + len(stripped))]
    found: list[Sentence] = []
    for tokens in _splitter(language).tokenize_text([piece]):
        first, last = tokens[0].character_offset, tokens[-1].character_offset
        found.append(Sentence(start + first[0], start + last[1]))
    return found


def chunk_review(
    review: Review, *, max_chars: int = DEFAULT_CHUNK_CHARS, progress: Progress | None = None
) -> list[Chunk]:
    """Verbatim passages of the review, each within ``max_chars`` where sentences allow.

    Header lines and prose never share a passage, so "Regie: Len Wiseman" stays a
    self-contained fact. A sentence longer than ``max_chars`` is cut at spaces, a word
    longer than that anywhere. ``progress`` is called with the characters split so far
    and the review's length.
    """
    text = review.text
    sentences = split_sentences(text, language=review.language, progress=progress)
    chunks: list[Chunk] = []
    group: list[Sentence] = []
    for sentence in _bounded(text, sentences, max_chars):
        if group and (
            sentence.end - group[0].start > max_chars or sentence.is_header != group[0].is_header
        ):
            chunks.append(_make_chunk(review, group, len(chunks)))
            group = []
        group.append(sentence)
    if group:
        chunks.append(_make_chunk(review, group, len(chunks)))
    return _unique_ids(chunks)


def _bounded(text: str, sentences: list[Sentence], max_chars: int) -> Iterator[Sentence]:
    """The sentences, those longer than ``max_chars`` cut into pieces."""
    for sentence in sentences:
        for start, end in _pieces(text, sentence.start, sentence.end, max_chars):
            yield Sentence(start, end, sentence.is_header)


def _make_chunk(review: Review, group: list[Sentence], index: int) -> Chunk:
    start, end = group[0].start, group[-1].end
    text = review.text[start:end]
    digest = hashlib.sha256(f"{review.review_id}\x00{text}".encode()).hexdigest()[:24]
    return Chunk(
        chunk_id=digest,
        review_id=review.review_id,
        index=index,
        text=text,
        start=start,
        end=end,
        sentences=tuple((s.start - start, s.end - start) for s in group),
    )


def _unique_ids(chunks: list[Chunk]) -> list[Chunk]:
    seen: dict[str, int] = {}
    unique: list[Chunk] = []
    for chunk in chunks:
        count = seen.get(chunk.chunk_id, 0)
        seen[chunk.chunk_id] = count + 1
        if count:
            chunk = Chunk(
                f"{chunk.chunk_id}-{count}",
                chunk.review_id,
                chunk.index,
                chunk.text,
                chunk.start,
                chunk.end,
                chunk.sentences,
            )
        unique.append(chunk)
    return unique
