"""The records an answer is made of, shared by every answerer and every edge."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

Status = Literal["answered", "not_found"]

NOT_FOUND = {
    "de": "In den Rezensionen steht dazu nichts.",
    "en": "The reviews don't cover that.",
}

# For a question in another language that word matching cannot read: which ones it can.
LANGUAGES_UNDERSTOOD = (
    "I can only read questions in German and English; please ask again in one of them. "
    "Ich verstehe Fragen nur auf Deutsch und Englisch; bitte frag noch einmal in einer davon."
)


@dataclass(frozen=True)
class Source:
    """A numbered source of an answer: the review and the verbatim sentence quoted from it.

    ``fact`` is a field as the answer states it: ``Regie: Lee Chung-hyun`` for the
    header line ``RegieLee Chung-hyun`` (then ``quote`` holds the line as written), or a
    metadata field the review's text does not contain, such as a director from a JSON
    column (then ``quote`` is empty).
    """

    n: int
    review_id: str
    work: str
    title: str | None
    year: int | None
    director: str | None
    author: str | None
    source: str | None
    quote: str
    score: float
    fact: str | None = None


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk as answerers see it, numbered and labelled with its work."""

    n: int
    chunk_id: str
    review_id: str
    work_id: str
    work: str
    text: str
    language: str
    author: str | None
    source: str | None
    title: str | None
    year: int | None
    director: str | None
    score: float


@dataclass
class Retrieval:
    """What the search found for a question, before anything is written."""

    question: str
    language: str
    works: list[str]
    ambiguous: bool
    passages: list[Passage]
    relevant: bool


@dataclass
class Answer:
    """An answer with its status, language and numbered sources."""

    question: str
    answer: str
    status: Status
    language: str
    works: list[str] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    kind: str = "passages"
    note: str | None = None
    work_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("work_ids")
        return data
