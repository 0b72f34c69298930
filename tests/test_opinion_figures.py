"""Opinion questions about all works of a large corpus: the works are ranked from figures
counted at index time, with the same answer as reading every review, and only the reviews
of the works the answer names are read."""

from __future__ import annotations

import pickle
import random
from collections.abc import Sequence

import pytest

from bot.answers import Answer
from bot.engine.opinions import OpinionReader, answer_opinion
from bot.engine.reading import Question
from index.catalog import Catalog
from index.polarity import PolarityHead
from index.records import Rating, Review, Work

QUESTIONS = [
    ("Which film do the critics like most?", "comparison", None),
    ("Which film do the critics like least?", "comparison", "negative"),
    ("Which review is the most negative?", "extreme", "negative"),
    ("Which review is the most positive?", "extreme", "positive"),
]


def _reviews(seed: int, *, works: int = 60, unscored: bool = False) -> list[Review]:
    """Works with a few reviews each: rated on a five-star scale (ties are common), unrated
    with a stored text polarity (some inside the head's mixed band), and with ``unscored``
    some with neither."""
    rng = random.Random(seed)
    head = PolarityHead.load()
    low, high = head.mixed_band
    reviews = []
    for w in range(works):
        work = Work(f"w{w:03d}", f"Film {w}", 2000 + w % 20)
        for r in range(rng.randint(1, 5)):
            review_id = f"{work.work_id}/{r}"
            stars = rng.choice([None, 1, 2, 3, 4, 5])
            rating = Rating(f"{stars}/5", stars / 5, 5) if stars else None
            polarity: float | None = rng.choice(
                [round(rng.random(), 2), round(rng.uniform(low, high), 2), None]
            )
            if polarity is None and not unscored:
                polarity = 0.5
            reviews.append(
                Review(
                    review_id,
                    review_id,
                    None,
                    "txt",
                    "",
                    review_id,
                    rating=rating,
                    work=work,
                    polarity=polarity,
                )
            )
    return reviews


class Recorder:
    """The catalogue's reviews, remembering which works were asked for."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.asked: set[str] = set()

    def reviews_of(self, work_ids: Sequence[str]) -> list[Review]:
        self.asked.update(work_ids)
        return self.catalog.reviews_of(work_ids)


def _ask(
    catalog: Catalog, text: str, opinion: str, extreme: str | None, *, small_corpus: int
) -> tuple[Answer, set[str]]:
    recorder = Recorder(catalog)
    reader = OpinionReader(
        reviews_of=recorder.reviews_of,
        chunks_of=lambda work_ids: [],
        sentences=lambda chunk_ids: {},
        head=PolarityHead.load(),
    )
    question = Question(text=text, language="en")
    question.opinion, question.extreme = opinion, extreme
    answer = answer_opinion(
        question,
        reader,
        list(catalog.works.values()),
        figures=catalog.opinion_figures,
        small_corpus=small_corpus,
    )
    return answer, recorder.asked


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(("text", "opinion", "extreme"), QUESTIONS)
def test_a_large_corpus_is_ranked_from_the_figures_as_from_every_review(
    seed: int, text: str, opinion: str, extreme: str | None
) -> None:
    catalog = pickle.loads(pickle.dumps(Catalog.build(_reviews(seed))))
    catalog.attach(Catalog.build(_reviews(seed)).source)
    everything, read_all = _ask(catalog, text, opinion, extreme, small_corpus=10_000)
    ranked, read = _ask(catalog, text, opinion, extreme, small_corpus=10)
    assert read_all == set(catalog.works)
    assert ranked.answer == everything.answer
    assert ranked.work_ids == everything.work_ids and ranked.work_ids
    assert ranked.opinions == everything.opinions
    # Only the works the answer names are read: five of a ranking, one for a review.
    assert read == set(ranked.work_ids)
    assert len(read) == (5 if opinion == "comparison" else 1)


@pytest.mark.parametrize(("text", "opinion", "extreme"), QUESTIONS)
def test_reviews_without_a_stored_polarity_are_read_with_their_works_only(
    text: str, opinion: str, extreme: str | None
) -> None:
    reviews = _reviews(4, unscored=True)
    catalog = Catalog.build(reviews)
    unscored = {
        r.work.work_id for r in reviews if r.work and r.rating is None and r.polarity is None
    }
    everything, _ = _ask(catalog, text, opinion, extreme, small_corpus=10_000)
    ranked, read = _ask(catalog, text, opinion, extreme, small_corpus=10)
    assert ranked.answer == everything.answer
    assert ranked.opinions == everything.opinions
    assert read == unscored | set(ranked.work_ids)
    assert len(read) < len(catalog.works)


def test_a_small_corpus_reads_every_review_as_before() -> None:
    catalog = Catalog.build(_reviews(5, works=20))
    assert catalog.opinion_figures is not None
    assert catalog.opinion_figures.review_count == catalog.review_count
    _, read = _ask(catalog, *QUESTIONS[0], small_corpus=catalog.review_count)
    assert read == set(catalog.works)
