"""Per-work opinion figures from the reviews' metadata, computed once per index generation.

A question about all works ("Which film do the critics like most?", "the most negative
review") ranks the works from these figures and reads the reviews of the few it names only.
The figures hold the raw inputs of the ranking (ratings, and the stored text polarity of the
reviews without one), not labels: labels depend on the polarity head of the embedder, which
the question's side knows.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import mean
from typing import NamedTuple

from index.records import Review

# (normalised rating, text polarity or 0.5): how the most positive or negative review of a
# work is chosen among its rated reviews.
RatedKey = tuple[float, float]


class WorkFigures(NamedTuple):
    """What a work's reviews say in numbers: the inputs of counting and ranking it."""

    ratings: tuple[float, ...]  # normalised ratings, ascending
    average_rating: float | None  # their mean, rounded to 4 places
    lowest_rated: RatedKey | None  # the least positive rated review's key
    highest_rated: RatedKey | None
    texts: tuple[float, ...]  # stored polarities of reviews without a rating, ascending
    unscored: int  # reviews with neither a rating nor a stored polarity


# A work's figures as a plain tuple: they unpickle far faster than named ones.
_Row = tuple[
    tuple[float, ...], float | None, RatedKey | None, RatedKey | None, tuple[float, ...], int
]


class OpinionFigures:
    """Each work's :class:`WorkFigures`, and how many reviews there are in all."""

    def __init__(self, rows: dict[str, _Row], review_count: int) -> None:
        self._rows = rows
        self.review_count = review_count

    @classmethod
    def build(cls, reviews: Sequence[Review]) -> OpinionFigures:
        by_work: dict[str, list[Review]] = {}
        for review in reviews:
            if review.work is not None:
                by_work.setdefault(review.work.work_id, []).append(review)
        return cls({w: _row(rs) for w, rs in by_work.items()}, len(reviews))

    def of(self, work_id: str) -> WorkFigures | None:
        row = self._rows.get(work_id)
        return WorkFigures(*row) if row is not None else None

    def __len__(self) -> int:
        return len(self._rows)


def _row(reviews: Sequence[Review]) -> _Row:
    rated = [r for r in reviews if r.rating is not None]
    ratings = sorted(r.rating.normalized for r in rated if r.rating is not None)
    keys = [
        (r.rating.normalized, r.polarity if r.polarity is not None else 0.5)
        for r in rated
        if r.rating is not None
    ]
    texts = sorted(r.polarity for r in reviews if r.rating is None and r.polarity is not None)
    unscored = sum(r.rating is None and r.polarity is None for r in reviews)
    return (
        tuple(ratings),
        round(mean(ratings), 4) if ratings else None,
        min(keys) if keys else None,
        max(keys) if keys else None,
        tuple(texts),
        unscored,
    )
