"""The catalogue of works, people and titles: a question is read by looking up its words,
not by going through every review; it survives pickling without the reviews."""

from __future__ import annotations

import pickle
from collections import Counter

import pytest

from bot.engine.metadata_answers import answer_from_metadata
from bot.engine.reading import read_question
from index.catalog import Catalog, ReviewsInMemory
from index.records import Rating, Review, Work

WORKS = [
    # title, year, director, cast, author, text
    ("Crank", 2006, "Mark Neveldine", ["Jason Statham", "Amy Smart"], "Anna Berger", "Chev rennt."),
    ("Crank", 2006, "Mark Neveldine", ["Jason Statham"], "Tom Lee", "Adrenalin pur."),
    ("Underworld", 2003, "Len Wiseman", ["Kate Beckinsale"], "Anna Berger", "Vampire."),
    ("Stargate", 1994, "Roland Emmerich", ["Kurt Russell"], "Jo Vogt", "Das Tor öffnet sich."),
    ("Ballerina", 2023, "Lee Chung-hyun", ["Jeon Jong-seo"], "Tom Lee", "Okju sucht Rache."),
    ("Ballerina", 2025, "Len Wiseman", ["Ana de Armas"], "Jo Vogt", "Eve kämpft."),
]


def _reviews() -> list[Review]:
    reviews = []
    for n, (title, year, director, cast, author, text) in enumerate(WORKS):
        work = Work(work_id=f"{title.lower()}-{year}", title=title, year=year, director=director)
        reviews.append(
            Review(
                review_id=f"r{n}",
                source_path=f"r{n}.txt",
                record_key=None,
                format="txt",
                text=text,
                content_hash=str(n),
                title=title,
                year=year,
                director=director,
                cast=list(cast),
                author=author,
                rating=Rating(raw=f"{n + 1}/10", normalized=(n + 1) / 10, scale=10),
                work=work,
            )
        )
    return reviews


class NoScans(ReviewsInMemory):
    """A review source that refuses to hand out every review."""

    def reviews(self) -> list[Review]:
        raise AssertionError("a question read every review")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    reviews = _reviews()
    return Catalog.build(reviews, source=NoScans(reviews))


@pytest.mark.parametrize(
    ("question", "titles", "author"),
    [
        ("Wer spielt in Crank mit?", ["Crank"], None),
        ("Was schreibt Anna Berger über Underworld?", ["Underworld"], "Anna Berger"),
        ("Welche Filme hat Roland Emmerich gedreht?", ["Stargate"], None),
        ("Worum geht es im Film von Emmerich?", ["Stargate"], None),
        ("Who directed the Wiseman Ballerina?", ["Ballerina"], None),
        ("Was sagt Tom Lee?", [], "Tom Lee"),
        ("Wie endet Casablanca?", [], None),
    ],
)
def test_questions_are_read_without_reading_every_review(
    catalog: Catalog, question: str, titles: list[str], author: str | None
) -> None:
    read = read_question(question, catalog)
    assert [w.title for w in read.works] == titles
    assert read.author == author


def test_a_count_of_one_work_or_one_author_reads_only_their_reviews(catalog: Catalog) -> None:
    crank = answer_from_metadata(
        read_question("Wie viele Rezensionen gibt es zu Crank?", catalog), catalog
    )
    assert crank is not None and "2 Rezensionen" in crank.answer
    berger = answer_from_metadata(
        read_question("Wie viele Rezensionen hat Anna Berger geschrieben?", catalog), catalog
    )
    assert berger is not None
    assert berger.answer.startswith("Anna Berger hat 2 Rezensionen geschrieben")


def test_a_count_of_all_reviews_reads_them_all() -> None:
    reviews = _reviews()
    catalog = Catalog.build(reviews)
    answer = answer_from_metadata(read_question("Wie viele Rezensionen gibt es?", catalog), catalog)
    assert answer is not None and "6 Rezensionen" in answer.answer


@pytest.mark.parametrize(
    ("question", "names"),
    [
        # Full names of directors, cast and authors, and titles.
        ("Was hält Anna Berger von Jason Statham?", ["Anna Berger", "Jason Statham"]),
        ("Spielt Kate Beckinsale in Underworld?", ["Kate Beckinsale", "Underworld"]),
        # A surname of five letters or more names the person alone ...
        ("Hat Statham gut gespielt?", ["Jason Statham"]),
        ("Mag Wiseman Vampire?", ["Len Wiseman"]),
        ("Was schreibt Berger?", ["Anna Berger"]),
        ("Is it smart?", ["Amy Smart"]),
        # ... a shorter one does not ("Lee", "Vogt").
        ("Hat Lee recht?", []),
        ("Was meint Vogt?", []),
        ("Was meint Jo Vogt?", ["Jo Vogt"]),
        # Hyphens and accents are written either way.
        ("Wie spielt Jeon Jongseo?", ["Jeon Jong-seo"]),
    ],
)
def test_names_are_found_in_full_or_by_a_long_surname(
    catalog: Catalog, question: str, names: list[str]
) -> None:
    assert catalog.names_in(question) == names


@pytest.mark.parametrize(
    ("question", "author"),
    [
        ("Wie viele Kritiken hat Anna Berger geschrieben?", "Anna Berger"),
        ("Was schreibt Berger?", None),  # an author is named in full
        ("Was sagt Tom Lee zu Crank?", "Tom Lee"),
        ("Was sagt Jason Statham?", None),
    ],
)
def test_an_author_is_named_in_full(catalog: Catalog, question: str, author: str | None) -> None:
    assert catalog.author_in(question) == author


@pytest.mark.parametrize(
    ("question", "works"),
    [
        ("Filme von Len Wiseman?", ["ballerina-2025", "underworld-2003"]),
        ("Filme von Wiseman?", ["ballerina-2025", "underworld-2003"]),
        ("Was spielt Amy Smart?", ["crank-2006"]),
        ("Filme mit Russell?", ["stargate-1994"]),
        ("Filme von Lee?", []),
        ("Der Film von Lee Chung-hyun?", ["ballerina-2023"]),
        # A compound is read as separate words too.
        ("Der Wiseman-Film?", ["ballerina-2025", "underworld-2003"]),
    ],
)
def test_works_are_found_by_director_or_cast(
    catalog: Catalog, question: str, works: list[str]
) -> None:
    assert sorted(w.work_id for w in catalog.works_by_person(question)) == works


def test_a_pickled_catalogue_carries_no_reviews_and_reads_them_once_attached() -> None:
    reviews = _reviews()
    vocabulary = {r.work.work_id: Counter({"adrenalin": 1}) for r in reviews if r.work}
    catalog = Catalog.build(reviews, vocabulary=vocabulary)
    data = pickle.dumps(catalog)
    assert b"Adrenalin pur" not in data
    loaded: Catalog = pickle.loads(data)
    with pytest.raises(RuntimeError):
        loaded.reviews()
    assert [w.title for w in read_question("Wer spielt in Stargate mit?", loaded).works] == [
        "Stargate"
    ]
    loaded.attach(ReviewsInMemory(reviews, vocabulary))
    assert [r.review_id for r in loaded.reviews_of(["crank-2006"])] == ["r0", "r1"]
    assert loaded.review_count == 6


def test_titles_weigh_words_by_the_term_totals_without_every_works_counts() -> None:
    reviews = _reviews()
    # Other works' reviews use "crank" as a word: only the quoted title names the film.
    catalog = Catalog.build(reviews, vocabulary={}, term_totals=Counter({"crank": 10}))
    assert read_question("Wie endet Crank?", catalog).works == []
    assert [w.title for w in read_question("Wie endet „Crank“?", catalog).works] == ["Crank"]
    # Reviews of the film itself (and of films of the same title) do not make it a word.
    own = {"crank-2006": Counter({"crank": 9})}
    catalog = Catalog.build(reviews, vocabulary=own, term_totals=Counter({"crank": 10}))
    assert [w.title for w in read_question("Wie endet Crank?", catalog).works] == ["Crank"]
