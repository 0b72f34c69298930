"""Facts about the indexed reviews as a whole: works, counts, ratings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import mean

from index.records import Review, Work


@dataclass
class WorkSummary:
    """A work with its reviews and what their ratings say."""

    work: Work
    reviews: list[Review] = field(default_factory=list)

    @property
    def ratings(self) -> list[float]:
        return [r.rating.normalized for r in self.reviews if r.rating]

    @property
    def average_rating(self) -> float | None:
        return round(mean(self.ratings), 4) if self.ratings else None

    def as_dict(self) -> dict[str, object]:
        return {
            "work_id": self.work.work_id,
            "title": self.work.title,
            "year": self.work.year,
            "director": self.work.director,
            "original_title": self.work.original_title,
            "reviews": len(self.reviews),
            "review_ids": [r.review_id for r in self.reviews],
            "rated_reviews": len(self.ratings),
            "average_rating": self.average_rating,
            "best_rating": max(self.ratings) if self.ratings else None,
            "worst_rating": min(self.ratings) if self.ratings else None,
        }


def summarize_works(reviews: Sequence[Review]) -> list[WorkSummary]:
    """One summary per work, by title then year."""
    summaries: dict[str, WorkSummary] = {}
    for review in reviews:
        if review.work is None:
            continue
        summary = summaries.setdefault(review.work.work_id, WorkSummary(review.work))
        summary.reviews.append(review)
    return sorted(
        summaries.values(),
        key=lambda s: (s.work.title.casefold(), s.work.year or 0, s.work.work_id),
    )


def review_as_dict(review: Review) -> dict[str, object]:
    """A review's metadata as the CLI's ``--json`` and the bot show it."""
    data: dict[str, object] = {
        "review_id": review.review_id,
        "title": review.title,
        "original_title": review.original_title,
        "year": review.year,
        "director": review.director,
        "cast": review.cast,
        "genre": review.genre,
        "age_rating": review.age_rating,
        "rating": (
            {
                "raw": review.rating.raw,
                "normalized": review.rating.normalized,
                "scale": review.rating.scale,
            }
            if review.rating
            else None
        ),
        "author": review.author,
        "source": review.source,
        "date": review.date,
        "url": review.url,
        "language": review.language,
        "format": review.format,
        "path": review.source_path,
        "work_id": review.work.work_id if review.work else None,
        "work": (
            {"title": review.work.title, "year": review.work.year, "director": review.work.director}
            if review.work
            else None
        ),
    }
    if review.attached_by:
        data["attached_by"] = {
            "confidence": review.attached_by.confidence,
            "evidence": review.attached_by.evidence,
        }
    return data
