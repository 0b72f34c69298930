"""Questions about all reviews of a large corpus are answered from figures counted when the
catalogue is built: exact numbers, short lists, and only the named reviews are read."""

from __future__ import annotations

import pickle
import re
import shutil
from collections import Counter
from itertools import product

import pytest

from bot.answers import Answer
from bot.engine.metadata_answers import LISTED_WORKS, NAMED_EXTREMES, answer_from_metadata
from bot.engine.reading import read_question
from index.catalog import Catalog, ReviewsInMemory
from index.indexing import index_reviews
from index.records import Rating, Review, Work
from index.snapshot import Snapshot, snapshot_root, write_snapshot
from index.store import ReviewStore, connect
from tests.conftest import EXAMPLES, RememberingEmbedder
from tests.test_catalog import NoScans

# Below the synthetic corpus's size, so that it counts as large.
SMALL = 100
WORK_COUNT = 60

COUNT = "Wie viele Rezensionen gibt es?"
LIST = "Welche Filme gibt es?"
AVERAGE = "Wie ist die Durchschnittsbewertung aller Rezensionen?"
BEST = "Welcher Film hat die besten Bewertungen?"
WORST = "Welcher Film hat die schlechtesten Bewertungen?"


def _titles() -> list[str]:
    syllables = ["ka", "lo", "mi", "ru", "te", "vo"]
    return ["".join(p).capitalize() for p in product(syllables, repeat=3)][:WORK_COUNT]


def _reviews() -> list[Review]:
    """330 reviews of 60 works (13 with 13 or 14, the others with 3) and 10 of none; every 7th
    review gives no rating, 24 give 10/10 and 13 give 1/10."""
    works = [
        Work(work_id=f"w{n:02d}", title=title, year=1990 + n % 30)
        for n, title in enumerate(_titles())
    ]
    reviews = []
    for n in range(330):
        work = works[n % WORK_COUNT if n < 180 else n % 13] if n < 320 else None
        if n % 7 == 0:
            rating = None
        elif n % 11 == 1:
            rating = Rating(raw="10/10", normalized=1.0, scale=10)
        elif n % 23 == 2:
            rating = Rating(raw="1/10", normalized=0.1, scale=10)
        else:
            points = 2 + n % 8
            rating = Rating(raw=f"{points}/10", normalized=points / 10, scale=10)
        reviews.append(
            Review(
                review_id=f"r{n:03d}",
                source_path=f"r{n:03d}.txt",
                record_key=None,
                format="txt",
                text=f"Rezension {n}. {rating.raw if rating else ''}",
                content_hash=str(n),
                title=work.title if work else f"Notiz {n}",
                year=work.year if work else None,
                author=f"Pia Quendt{n % 5}",
                rating=rating,
                work=work,
            )
        )
    return reviews


@pytest.fixture(scope="module")
def reviews() -> list[Review]:
    return _reviews()


@pytest.fixture(scope="module")
def large(reviews: list[Review]) -> Catalog:
    return Catalog.build(reviews, source=NoScans(reviews))


@pytest.fixture(scope="module")
def full(reviews: list[Review]) -> Catalog:
    return Catalog.build(reviews)


def _ask(question: str, catalog: Catalog, *, small_corpus: int = SMALL) -> Answer:
    read = read_question(question, catalog)
    assert not read.works and read.author is None
    answer = answer_from_metadata(read, catalog, small_corpus=small_corpus)
    assert answer is not None
    return answer


def _full(question: str, catalog: Catalog) -> Answer:
    return _ask(question, catalog, small_corpus=10_000)


def test_the_figures_give_the_counts_and_average_of_reading_every_review(
    large: Catalog, full: Catalog, reviews: list[Review]
) -> None:
    count = _ask(COUNT, large)
    assert count.answer.splitlines()[0] == _full(COUNT, full).answer.splitlines()[0]
    assert count.answer.startswith(f"Alle Rezensionen: {len(reviews)} Rezensionen.")

    average = _ask(AVERAGE, large)
    pattern = r"Durchschnittsbewertung .*?(\d+%)\W+(\d+) bewertete Rezensionen"
    figures_found = re.search(pattern, average.answer)
    full_found = re.search(pattern, _full(AVERAGE, full).answer)
    assert figures_found and full_found
    assert figures_found.groups() == full_found.groups()
    assert int(figures_found[2]) == sum(1 for r in reviews if r.rating)


@pytest.mark.parametrize(
    ("question", "rating", "raw"), [(BEST, "100%", "10/10"), (WORST, "10%", "1/10")]
)
def test_best_and_worst_name_a_few_reviews_and_say_how_many_give_that_rating(
    large: Catalog, full: Catalog, reviews: list[Review], question: str, rating: str, raw: str
) -> None:
    winners = _full(question, full).sources
    assert len(winners) > NAMED_EXTREMES
    answer = _ask(question, large)
    assert [s.review_id for s in answer.sources] == [s.review_id for s in winners[:NAMED_EXTREMES]]
    given = {r.review_id: r.rating.raw for r in reviews if r.rating}
    assert {given[s.review_id] for s in answer.sources} == {raw}
    assert f"{len(winners)} Rezensionen geben {rating}" in answer.answer
    assert answer.answer.count(f"({rating})") == NAMED_EXTREMES


def test_a_list_of_all_works_shows_the_most_reviewed_and_how_many_more(
    large: Catalog, reviews: list[Review]
) -> None:
    answer = _ask(LIST, large)
    lines = answer.answer.splitlines()
    assert lines[0] == f"{WORK_COUNT} Werke:"
    listed = [line for line in lines if line.startswith("• ")]
    assert len(listed) == LISTED_WORKS
    assert lines[-1] == f"… und {WORK_COUNT - LISTED_WORKS} weitere Werke"
    counts = [int(line.rsplit(" ", 1)[1]) for line in listed]
    assert counts == sorted(counts, reverse=True)
    # Works reviewed as often as each other are listed by title.
    tied = [line for line, n in zip(listed, counts, strict=True) if n == 3]
    assert len(tied) > 10 and tied == sorted(tied)
    per_work = Counter(r.work for r in reviews if r.work)
    ranked = sorted(per_work, key=lambda w: (-per_work[w], w.title))
    assert listed == [f"• {w.label()} – {per_work[w]}" for w in ranked[:LISTED_WORKS]]
    assert answer.sources == []
    # The count of all reviews lists the works the same way.
    count = _ask(COUNT, large).answer.splitlines()
    assert len([line for line in count if line.startswith("• ")]) == LISTED_WORKS
    assert count[-1] == f"… und {WORK_COUNT - LISTED_WORKS} weitere Werke"


def test_english_questions_get_english_figures(large: Catalog) -> None:
    answer = _ask("Which films are there?", large)
    assert answer.answer.splitlines()[-1] == f"… and {WORK_COUNT - LISTED_WORKS} more works"
    best = _ask("Which film has the best ratings?", large)
    assert best.answer.startswith("Best rated: ") and "reviews give 100%" in best.answer


def test_a_small_corpus_is_answered_by_reading_every_review(reviews: list[Review]) -> None:
    catalog = Catalog.build(reviews)
    answer = _ask(LIST, catalog, small_corpus=len(reviews))
    assert len([line for line in answer.answer.splitlines() if line.startswith("• ")]) == (
        WORK_COUNT
    )
    assert len(answer.sources) == len(reviews)  # every review is cited
    with pytest.raises(AssertionError, match="read every review"):
        _ask(LIST, Catalog.build(reviews, source=NoScans(reviews)), small_corpus=len(reviews))


def test_the_figures_survive_pickling(large: Catalog, reviews: list[Review]) -> None:
    loaded: Catalog = pickle.loads(pickle.dumps(large))
    assert loaded.figures == large.figures
    loaded.attach(NoScans(reviews))
    assert _ask(BEST, loaded).sources == _ask(BEST, large).sources


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory, embedder: RememberingEmbedder) -> Snapshot:
    base = tmp_path_factory.mktemp("figures")
    folder = base / "reviews"
    folder.mkdir()
    for name in sorted(EXAMPLES.iterdir())[:5]:
        shutil.copy(name, folder / name.name)
    data = base / "data"
    store = ReviewStore(connect(data_dir=data), collection="reviews", embedder_name=embedder.name)
    index_reviews([folder], store=store, embedder=embedder)
    root = snapshot_root(data, "reviews")
    write_snapshot(store, root, "one")
    opened = Snapshot.open(root, "one")
    assert opened is not None
    return opened


def test_a_snapshot_reads_reviews_by_id(snapshot: Snapshot) -> None:
    every = snapshot.reviews()
    assert len(every) >= 3
    wanted = [every[2].review_id, every[0].review_id, "no-such-review", every[2].review_id]
    assert snapshot.reviews_with_ids(wanted) == [every[0], every[2]]
    assert snapshot.catalog.reviews_with_ids(wanted) == [every[0], every[2]]
    assert snapshot.reviews_with_ids([]) == []
    assert snapshot.catalog.figures == Catalog.build(every).figures


def test_snapshot_reviews_by_id_come_in_batches(snapshot: Snapshot) -> None:
    every = snapshot.reviews()
    many = [f"missing-{n}" for n in range(1200)] + [r.review_id for r in reversed(every)]
    assert snapshot.reviews_with_ids(many) == every


def test_a_catalogue_pickled_without_figures_reads_every_review(
    large: Catalog, reviews: list[Review]
) -> None:
    state = large.__getstate__()
    del state["figures"]
    older = Catalog.__new__(Catalog)
    older.__setstate__(state)
    older.attach(ReviewsInMemory(reviews))
    answer = _ask(LIST, older)
    assert len([line for line in answer.answer.splitlines() if line.startswith("• ")]) == (
        WORK_COUNT
    )
