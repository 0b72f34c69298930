"""Small typed records that flow between the indexing and answering steps."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SourceRecord:
    """One review as read from a file, before its metadata is parsed.

    ``text`` is the review as written (header lines included, for plain text);
    ``fields`` holds structured values found beside it (front matter, JSON keys,
    CSV columns, HTML meta), keyed by lower-case field name.
    """

    review_id: str
    source_path: str
    record_key: str | None
    text: str
    fields: dict[str, str] = field(default_factory=dict)
    format: str = "txt"


@dataclass(frozen=True)
class LoadFailure:
    """A file, or one record of it, that could not be read."""

    path: str
    reason: str
    record_key: str | None = None


@dataclass(frozen=True)
class LoadNote:
    """Something repaired while reading a file (it was still read), e.g. invalid UTF-8 bytes."""

    path: str
    note: str
    record_key: str | None = None


@dataclass(frozen=True)
class FileLoad:
    """What reading one file (or listing one folder) gave: its reviews and what failed.

    ``complete`` is False when anything in the file failed; the indexer then keeps
    the reviews it indexed before from ``source_path`` (a file, or every file below a
    folder that could not be listed) rather than deleting them.
    """

    path: str
    records: list[SourceRecord]
    failures: list[LoadFailure]
    notes: list[LoadNote] = field(default_factory=list)
    source_path: str = ""

    @property
    def complete(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class Rating:
    """A rating as written, and normalised to 0..1 on its scale (``5``, ``10``, ``100``)."""

    raw: str
    normalized: float
    scale: int

    def on_own_scale(self) -> float:
        return round(self.normalized * self.scale, 2)

    def display(self) -> str:
        """``3.5 von 5`` as written; a bare ``4`` from a column becomes ``4/5``."""
        value = self.on_own_scale()
        shown = f"{value:g}/{self.scale}"
        return (
            shown if self.raw.replace(",", ".").strip() in {f"{value:g}", str(value)} else self.raw
        )


@dataclass(frozen=True)
class Attachment:
    """Why a review without a header was attached to a work."""

    confidence: float
    evidence: list[str]


@dataclass(frozen=True)
class Work:
    """A film (or other work) that one or more reviews are about."""

    work_id: str
    title: str
    year: int | None = None
    director: str | None = None
    original_title: str | None = None

    def label(self) -> str:
        details = [str(self.year) if self.year else None, self.director]
        shown = ", ".join(d for d in details if d)
        return f"{self.title} ({shown})" if shown else self.title


@dataclass
class Review:
    """A review with its parsed metadata and the work it belongs to."""

    review_id: str
    source_path: str
    record_key: str | None
    format: str
    text: str
    content_hash: str
    title: str | None = None
    original_title: str | None = None
    year: int | None = None
    director: str | None = None
    cast: list[str] = field(default_factory=list)
    genre: str | None = None
    age_rating: str | None = None
    rating: Rating | None = None
    source: str | None = None
    author: str | None = None
    date: str | None = None
    url: str | None = None
    language: str = "unknown"
    has_header: bool = False
    work: Work | None = None
    attached_by: Attachment | None = None
    # The probability that the review's text is positive, from the polarity model at index
    # time; None for a review indexed before polarities were stored.
    polarity: float | None = None


@dataclass(frozen=True)
class Chunk:
    """A passage of a review, a verbatim slice of its text, ready to embed."""

    chunk_id: str
    review_id: str
    index: int
    text: str
    start: int
    end: int
    # Where each sentence of ``text`` starts and ends (offsets into ``text``); empty when
    # the chunk was not split here (a stored chunk carried over without its text).
    sentences: tuple[tuple[int, int], ...] = ()
