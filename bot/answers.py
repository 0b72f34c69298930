"""The records an answer is made of, shared by every answerer and every edge."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

Status = Literal["answered", "not_found"]
Polarity = Literal["positive", "negative", "mixed"]

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
    # For opinion answers: what the quoted sentence (or its review) says, and on what basis.
    polarity: Polarity | None = None


@dataclass(frozen=True)
class WorkOpinion:
    """How the reviews of one work come out, counted exactly.

    A review with a rating counts by its rating; one without counts by the polarity of its
    text (``from_text``). ``average_rating`` is on a 0..1 scale over the ``rated`` reviews.
    """

    work_id: str
    work: str
    positive: int
    negative: int
    mixed: int
    from_rating: int
    from_text: int
    rated: int
    average_rating: float | None

    @property
    def reviews(self) -> int:
        return self.positive + self.negative + self.mixed

    @property
    def majority(self) -> Polarity | None:
        """The polarity most reviews have; ``mixed`` on a tie between positive and negative."""
        if not self.reviews:
            return None
        counts: dict[Polarity, int] = {
            "positive": self.positive,
            "negative": self.negative,
            "mixed": self.mixed,
        }
        top = max(counts.values())
        leaders = [p for p, n in counts.items() if n == top]
        return leaders[0] if len(leaders) == 1 else "mixed"


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
    # Opinion answers (kind "verdict", "aspect", "comparison", "extreme"): per work, ordered
    # best liked first for comparisons; the aspect asked about, as the answer names it.
    opinions: list[WorkOpinion] = field(default_factory=list)
    aspect: str | None = None

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("work_ids")
        return data
