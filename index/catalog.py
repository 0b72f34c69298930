"""Facts about the indexed reviews as a whole: works, people, titles, counts, ratings.

A :class:`Catalog` is built once per index generation; reading a question looks its words
up in it, at a cost that grows with the question, not with the number of reviews.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from math import fsum
from statistics import mean
from typing import Any, NamedTuple, Protocol

from index.opinion_figures import OpinionFigures
from index.records import Review, Work
from index.titles import TitleIndex, Translator
from index.works import normalize

# A name of two words or more is also found by its last word when that word has at least
# this many letters ("Wiseman" names Len Wiseman; "Lee" names no one).
MIN_SURNAME_CHARS = 5

# How many reviews with the best (or worst) rating the corpus figures keep by id.
EXTREME_IDS_KEPT = 100


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


class ReviewSource(Protocol):
    """Where a catalogue reads reviews and word counts that it does not hold itself."""

    def reviews(self) -> list[Review]:
        """Every review, ordered by review id as the store lists them (a scan: rare)."""
        ...

    def reviews_of(self, work_ids: Sequence[str]) -> list[Review]:
        """The reviews of these works, in the order of :meth:`reviews`."""
        ...

    def reviews_with_ids(self, review_ids: Sequence[str]) -> list[Review]:
        """The reviews of these ids (unknown ids are left out), in the order of :meth:`reviews`."""
        ...

    def vocabulary(self, work_ids: Sequence[str], terms: Sequence[str]) -> dict[str, Counter[str]]:
        """Per work id, how many of the work's chunks hold each of ``terms`` (stems)."""
        ...


class ReviewsInMemory:
    """A review source over a list of reviews and, optionally, their works' word counts."""

    def __init__(
        self, reviews: Sequence[Review], vocabulary: Mapping[str, Counter[str]] | None = None
    ) -> None:
        self._reviews = list(reviews)
        self._vocabulary = vocabulary or {}
        self._by_work: dict[str, list[int]] = {}
        self._by_id: dict[str, int] = {}
        for position, review in enumerate(self._reviews):
            self._by_id.setdefault(review.review_id, position)
            if review.work:
                self._by_work.setdefault(review.work.work_id, []).append(position)

    def reviews(self) -> list[Review]:
        return list(self._reviews)

    def reviews_of(self, work_ids: Sequence[str]) -> list[Review]:
        positions = sorted({p for w in set(work_ids) for p in self._by_work.get(w, ())})
        return [self._reviews[p] for p in positions]

    def reviews_with_ids(self, review_ids: Sequence[str]) -> list[Review]:
        positions = sorted({self._by_id[r] for r in review_ids if r in self._by_id})
        return [self._reviews[p] for p in positions]

    def vocabulary(self, work_ids: Sequence[str], terms: Sequence[str]) -> dict[str, Counter[str]]:
        found: dict[str, Counter[str]] = {}
        for work_id in work_ids:
            counts = self._vocabulary.get(work_id) or Counter()
            found[work_id] = Counter({t: counts[t] for t in terms if counts[t]})
        return found


class RatingExtreme(NamedTuple):
    """The best (or worst) normalised rating and the reviews that give it."""

    rating: float
    review_ids: tuple[str, ...]  # the first EXTREME_IDS_KEPT, in the order of the reviews
    total: int  # how many reviews give it in all


class CorpusFigures(NamedTuple):
    """What questions about all reviews need, counted once when the catalogue is built."""

    reviews_per_work: dict[str, int]  # work id -> its number of reviews
    reviews_without_work: int
    rated: int  # reviews that give a rating
    rating_sum: float  # of their normalised ratings
    best: RatingExtreme | None  # None when no review gives a rating
    worst: RatingExtreme | None

    @property
    def average_rating(self) -> float | None:
        return self.rating_sum / self.rated if self.rated else None

    @classmethod
    def of(cls, reviews: Sequence[Review]) -> CorpusFigures:
        per_work: Counter[str] = Counter()
        without_work = 0
        ratings: list[tuple[float, str]] = []
        for review in reviews:
            if review.work:
                per_work[review.work.work_id] += 1
            else:
                without_work += 1
            if review.rating:
                ratings.append((review.rating.normalized, review.review_id))
        values = [value for value, _ in ratings]
        return cls(
            reviews_per_work=dict(per_work),
            reviews_without_work=without_work,
            rated=len(ratings),
            rating_sum=fsum(values),
            best=_extreme(ratings, max(values)) if values else None,
            worst=_extreme(ratings, min(values)) if values else None,
        )


def _extreme(ratings: Sequence[tuple[float, str]], rating: float) -> RatingExtreme:
    review_ids = [review_id for value, review_id in ratings if value == rating]
    return RatingExtreme(rating, tuple(review_ids[:EXTREME_IDS_KEPT]), len(review_ids))


class NameEntry(NamedTuple):
    """A person or title of the metadata, as a question's words may name it."""

    name: str  # as the metadata writes it
    kind: str  # "author", "director", "cast", "title" or "original_title"
    work_ids: tuple[str, ...]
    by_surname: bool  # found by the name's last word alone


class Catalog:
    """Works, people and titles of the indexed reviews; lookups that do not grow with the
    corpus.

    Built once (in the indexer, or from a review list for a small corpus), pickled without
    its review source and attached to one after loading. Reviews themselves are read from
    the source only for the works a question names, or for questions about all of them.
    """

    def __init__(
        self,
        *,
        works: dict[str, Work],
        titles: TitleIndex,
        names: dict[str, list[_Entry]],
        known_words: frozenset[str],
        authors: dict[str, tuple[str, ...]],
        review_count: int,
        source: ReviewSource | None,
        figures: CorpusFigures | None = None,
        opinion_figures: OpinionFigures | None = None,
    ) -> None:
        self.works = works
        self.titles = titles
        self.review_count = review_count
        # None only in a catalogue pickled before the figures were counted.
        self.figures = figures
        # Per-work ratings and stored polarities (None in a catalogue pickled before them).
        self.opinion_figures = opinion_figures
        # Entries as plain tuples: they unpickle far faster than named ones.
        self._names = names
        self._longest_name = max((k.count(" ") + 1 for k in names), default=1)
        self._known_words = known_words
        # Author -> the works they reviewed; "" among them when a review has no work.
        self._authors = authors
        self._by_title: dict[str, list[str]] = {}
        for work in works.values():
            self._by_title.setdefault(normalize(work.title), []).append(work.work_id)
        self._source = source

    @classmethod
    def build(
        cls,
        reviews: Sequence[Review],
        *,
        vocabulary: Mapping[str, Counter[str]] | None = None,
        term_totals: Counter[str] | None = None,
        lexicon: Translator | None = None,
        source: ReviewSource | None = None,
        titles: TitleIndex | None = None,
    ) -> Catalog:
        """The catalogue of ``reviews`` (their metadata; texts only without ``vocabulary``).

        ``vocabulary`` (stemmed word counts per work id) and ``term_totals`` (their sums)
        shape the title index; ``source`` is where reviews are read later, by default the
        given list (with ``vocabulary``). ``titles`` is an index built already.
        """
        works: dict[str, Work] = {}
        for review in reviews:
            if review.work:
                works.setdefault(review.work.work_id, review.work)
        if titles is None:
            titles = TitleIndex.from_reviews(
                reviews, vocabulary=vocabulary, term_totals=term_totals, lexicon=lexicon
            )
        return cls(
            works=works,
            titles=titles,
            names=_name_table(reviews),
            known_words=_known_words(reviews),
            authors=_authors(reviews),
            review_count=len(reviews),
            figures=CorpusFigures.of(reviews),
            opinion_figures=OpinionFigures.build(reviews),
            source=source if source is not None else ReviewsInMemory(reviews, vocabulary),
        )

    # -- the review source --------------------------------------------------------------

    def attach(self, source: ReviewSource) -> None:
        """Read reviews from ``source`` from now on (after unpickling)."""
        self._source = source

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_source"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.figures = None
        self.opinion_figures = None
        self.__dict__.update(state)

    @property
    def source(self) -> ReviewSource:
        if self._source is None:
            raise RuntimeError("the catalogue has no review source: attach() one first")
        return self._source

    def reviews(self) -> list[Review]:
        """Every review: for questions about all of them only."""
        return self.source.reviews()

    def reviews_of(self, work_ids: Sequence[str]) -> list[Review]:
        """The reviews of these works, in review id order."""
        return self.source.reviews_of(work_ids) if work_ids else []

    def reviews_by(self, author: str) -> list[Review]:
        """The reviews ``author`` wrote."""
        work_ids = self._authors.get(author, ())
        if "" in work_ids:  # a review without a work is found only by reading them all
            return [r for r in self.reviews() if r.author == author]
        return [r for r in self.reviews_of(work_ids) if r.author == author]

    def reviews_with_ids(self, review_ids: Sequence[str]) -> list[Review]:
        """The reviews of these ids, in the order of :meth:`reviews`."""
        return self.source.reviews_with_ids(review_ids) if review_ids else []

    def vocabulary(self, work_ids: Sequence[str], terms: Sequence[str]) -> dict[str, Counter[str]]:
        """Per work, how many of its chunks hold each of ``terms`` (stems)."""
        return self.source.vocabulary(work_ids, terms)

    # -- lookups ------------------------------------------------------------------------

    def author_in(self, text: str) -> str | None:
        """The author of some review whom ``text`` names in full (the longest such name)."""
        named = {
            e.name for e in self._entries(_words(text)) if e.kind == "author" and not e.by_surname
        }
        return max(sorted(named), key=len, default=None)

    def works_by_person(self, text: str) -> list[Work]:
        """Works whose director or cast ``text`` names, in full or by a long surname."""
        # "Netflix-Ballerina" names "Ballerina": compounds are read as separate words too.
        words = _words(text) + _words(text.replace("-", " "))
        work_ids = {
            w for e in self._entries(words) if e.kind in ("director", "cast") for w in e.work_ids
        }
        return sorted((self.works[w] for w in work_ids), key=lambda w: (w.year or 0, w.work_id))

    def names_in(self, text: str) -> list[str]:
        """People and titles of the catalogue that ``text`` names, sorted."""
        return sorted({e.name for e in self._entries(_words(text)) if not e.name.startswith("(")})

    def works_titled(self, title: str) -> list[Work]:
        """The works whose title normalises as ``title`` does."""
        return [self.works[w] for w in self._by_title.get(normalize(title), ())]

    def known_word(self, word: str) -> bool:
        """Whether ``word`` (normalised) is a word of some title, person or author."""
        return word in self._known_words

    def _entries(self, words: Sequence[str]) -> Iterable[NameEntry]:
        longest = min(self._longest_name, len(words))
        for size in range(1, longest + 1):
            for start in range(len(words) - size + 1):
                for entry in self._names.get(" ".join(words[start : start + size]), ()):
                    yield NameEntry(*entry)


def _words(text: str) -> list[str]:
    return normalize(text).split()


_Entry = tuple[str, str, tuple[str, ...], bool]  # the fields of a NameEntry


def _name_table(reviews: Sequence[Review]) -> dict[str, list[_Entry]]:
    """Normalised name (and long surname) -> the people and titles it names."""
    found: dict[tuple[str, str], set[str]] = {}
    for review in reviews:
        work_ids = {review.work.work_id} if review.work else set()
        named: list[tuple[str | None, str]] = [
            (review.director, "director"),
            (review.author, "author"),
            *((member, "cast") for member in review.cast),
            (review.work.title if review.work else None, "title"),
            (review.original_title, "original_title"),
        ]
        for name, kind in named:
            if name:
                found.setdefault((name, kind), set()).update(work_ids)
    table: dict[str, list[_Entry]] = {}
    for (name, kind), work_ids in found.items():
        key = normalize(name)
        if not key:
            continue
        ids = tuple(sorted(work_ids))
        table.setdefault(key, []).append((name, kind, ids, False))
        parts = key.split()
        if len(parts) > 1 and len(parts[-1]) >= MIN_SURNAME_CHARS:
            table.setdefault(parts[-1], []).append((name, kind, ids, True))
    return table


def _known_words(reviews: Sequence[Review]) -> frozenset[str]:
    """The words of every title, person and author of the reviews of a work."""
    words: set[str] = set()
    for review in reviews:
        if review.work is None:
            continue
        for name in (
            review.work.title,
            review.work.original_title,
            review.title,
            review.director,
            review.author,
            *review.cast,
        ):
            if name:
                words.update(normalize(name).split())
    return frozenset(words)


def _authors(reviews: Sequence[Review]) -> dict[str, tuple[str, ...]]:
    works: dict[str, set[str]] = {}
    for review in reviews:
        if review.author:
            works.setdefault(review.author, set()).add(review.work.work_id if review.work else "")
    return {author: tuple(sorted(ids)) for author, ids in works.items()}
