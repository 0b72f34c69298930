"""Passages of a review: verbatim, bounded, and found with work that grows with the text only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import index.chunking
from index.chunking import chunk_review, split_sentences
from index.metadata import parse_review
from index.records import Review, SourceRecord

SENTENCE = "Der Film erzählt von einer Frau, die den Täter sucht und eine Bande findet"


def review_of(text: str) -> Review:
    return parse_review(SourceRecord("reviews/kritik.txt", "/reviews/kritik.txt", None, text))


class RecordingSplitter:
    """The real sentence splitter, remembering the longest paragraph it was given."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.longest = 0

    def tokenize_text(self, paragraphs: list[str]) -> Iterator[Any]:
        for paragraph in paragraphs:
            self.longest = max(self.longest, len(paragraph))
            yield from self._real.tokenize_text([paragraph])


@pytest.fixture
def splitter(monkeypatch: pytest.MonkeyPatch) -> RecordingSplitter:
    recording = RecordingSplitter(index.chunking._splitter("de"))
    monkeypatch.setattr(index.chunking, "_splitter", lambda language: recording)
    return recording


def test_a_huge_single_line_reaches_the_sentence_splitter_in_bounded_pieces(
    splitter: RecordingSplitter,
) -> None:
    text = (SENTENCE + ". ") * 600  # 45,000 characters, no line break

    chunks = chunk_review(review_of(text))

    assert 0 < splitter.longest <= 10_000
    assert all(len(chunk.text) <= 800 for chunk in chunks)
    # Cut at sentence ends: every passage is whole sentences.
    assert all(chunk.text.startswith("Der Film") for chunk in chunks)
    assert all(chunk.text.endswith("findet.") for chunk in chunks)


def test_an_endless_sentence_is_cut_at_spaces() -> None:
    text = (SENTENCE + " ") * 300  # no sentence end at all

    chunks = chunk_review(review_of(text))

    assert len(chunks) > 1
    assert all(len(chunk.text) <= 800 for chunk in chunks)
    words = set(SENTENCE.split())
    assert all(set(chunk.text.split()) <= words for chunk in chunks)
    assert " ".join(c.text for c in chunks).split() == text.split()


def test_a_word_longer_than_a_passage_is_cut_anywhere() -> None:
    text = "a" * 5_000

    chunks = chunk_review(review_of(text))

    assert [len(chunk.text) for chunk in chunks] == [800] * 6 + [200]
    assert "".join(chunk.text for chunk in chunks) == text


def test_many_short_lines_give_one_sentence_each_without_the_splitter(
    splitter: RecordingSplitter,
) -> None:
    text = "Gut gemacht\n" * 2_000

    sentences = split_sentences(text, language="de")

    assert [text[s.start : s.end] for s in sentences] == ["Gut gemacht"] * 2_000
    assert splitter.longest == 0


def test_a_long_review_reports_its_progress() -> None:
    text = (SENTENCE + ".\n") * 2_000
    seen: list[tuple[int, int]] = []

    chunk_review(review_of(text), progress=lambda done, total: seen.append((done, total)))

    assert len(seen) > 1
    assert seen[-1] == (len(text), len(text))
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
