"""Splits a review into sentences and packs them into passages of about 800 characters."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from index.metadata import find_header_fields, iter_segments
from index.records import Chunk, Review

if TYPE_CHECKING:
    from somajo import SoMaJo

DEFAULT_CHUNK_CHARS = 800


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


def split_sentences(text: str, *, language: str) -> list[Sentence]:
    """Sentences of ``text`` in order; line breaks and header separators always end one."""
    header_spans = {(f.start, f.end) for f in find_header_fields(text)}
    segments = [(s, e) for s, e in iter_segments(text) if text[s:e].strip()]
    prose = [(s, e) for s, e in segments if (s, e) not in header_spans]
    sentences = [Sentence(s, e, is_header=True) for s, e in header_spans]
    if prose:
        paragraphs = [text[s:e] for s, e in prose]
        splitter = _splitter(language)
        tokenized = splitter.tokenize_text(paragraphs)
        sentences.extend(_sentences_in(prose, paragraphs, tokenized))
    return sorted(sentences, key=lambda s: s.start)


def _sentences_in(
    prose: list[tuple[int, int]], paragraphs: list[str], tokenized: object
) -> list[Sentence]:
    """Map SoMaJo's per-paragraph token offsets back onto the review text."""
    found: list[Sentence] = []
    index, previous_end = 0, -1
    for tokens in tokenized:  # type: ignore[attr-defined]
        first, last = tokens[0].character_offset, tokens[-1].character_offset
        # SoMaJo restarts offsets at 0 for each paragraph.
        if first[0] < previous_end:
            index += 1
        while first[0] >= len(paragraphs[index]) and index + 1 < len(paragraphs):
            index += 1
        base = prose[index][0]
        found.append(Sentence(base + first[0], base + last[1]))
        previous_end = last[1]
    return found


def chunk_review(review: Review, *, max_chars: int = DEFAULT_CHUNK_CHARS) -> list[Chunk]:
    """Verbatim passages of the review, each within ``max_chars`` where sentences allow.

    Header lines and prose never share a passage, so "Regie: Len Wiseman" stays a
    self-contained fact.
    """
    text = review.text
    pieces = _bounded(split_sentences(text, language=review.language), max_chars)
    chunks: list[Chunk] = []
    group: list[Sentence] = []
    for sentence in pieces:
        if group and (
            sentence.end - group[0].start > max_chars or sentence.is_header != group[0].is_header
        ):
            chunks.append(_make_chunk(review, group, len(chunks)))
            group = []
        group.append(sentence)
    if group:
        chunks.append(_make_chunk(review, group, len(chunks)))
    return _unique_ids(chunks)


def _bounded(sentences: list[Sentence], max_chars: int) -> list[Sentence]:
    """Cut sentences longer than ``max_chars`` at whitespace."""
    result: list[Sentence] = []
    for sentence in sentences:
        start = sentence.start
        while sentence.end - start > max_chars:
            result.append(Sentence(start, start + max_chars, sentence.is_header))
            start += max_chars
        result.append(Sentence(start, sentence.end, sentence.is_header))
    return result


def _make_chunk(review: Review, group: list[Sentence], index: int) -> Chunk:
    start, end = group[0].start, group[-1].end
    text = review.text[start:end]
    digest = hashlib.sha256(f"{review.review_id}\x00{text}".encode()).hexdigest()[:24]
    return Chunk(
        chunk_id=digest, review_id=review.review_id, index=index, text=text, start=start, end=end
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
            )
        unique.append(chunk)
    return unique
