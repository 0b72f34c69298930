"""Works named as people write them: part of a title, without its article, with a small
typo, by the title of another language, and two works of one title told apart; in a small
catalogue and in one of thousands of works."""

from __future__ import annotations

from collections import Counter

import pytest

from bot.engine.reading import read_question
from index.catalog import Catalog
from index.records import Review, Work
from index.titles import TitleIndex

# title, year, director, the title a review gives in another language
WORKS: list[tuple[str, int, str | None, str | None]] = [
    ("Der letzte Sommer am See", 2022, "Felix Oberhauser", "The Last Summer at the Lake"),
    ("Die Vermessung des Schweigens", 2021, "Miriam Sattler", None),
    ("The Lighthouse Keeper's Daughter", 2018, "Maeve Donnelly", None),
    ("Tremors - Im Land der Raketenwürmer", 1990, "Ron Underwood", None),
    ("Ballerina", 2023, "Lee Chung-hyun", None),
    ("Ballerina", 2025, "Len Wiseman", None),
    ("Leben", 2019, "Jo Vogt", None),
]


def _work(title: str, year: int, director: str | None = None) -> Work:
    return Work(work_id=f"{title.lower()}-{year}", title=title, year=year, director=director)


def _review(
    key: str,
    title: str,
    year: int,
    *,
    text: str = "Ein Film.",
    director: str | None = None,
    other: str | None = None,
) -> Review:
    return Review(
        review_id=key,
        source_path=f"{key}.txt",
        record_key=None,
        format="txt",
        text=text,
        content_hash=key,
        title=other or title,
        year=year,
        director=director,
        work=_work(title, year, director),
    )


def _reviews(extra_works: int = 0) -> list[Review]:
    rows: list[tuple[str, int, str | None, str | None]] = list(WORKS)
    rows += [(f"Opus{n:05d}", 2000, None, None) for n in range(extra_works)]
    return [
        _review(f"r{n}", title, year, director=director, other=other)
        for n, (title, year, director, other) in enumerate(rows)
    ]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.build(_reviews(), vocabulary={}, term_totals=Counter())


def _named(question: str, catalog: Catalog) -> list[tuple[str, int | None]]:
    return [(w.title, w.year) for w in read_question(question, catalog).works]


SOMMER = [("Der letzte Sommer am See", 2022)]
BALLERINAS = [("Ballerina", 2023), ("Ballerina", 2025)]


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("Worum geht es in Der letzte Sommer am See?", SOMMER),
        ("Worum geht es in Letzte Sommer am See?", SOMMER),  # without the article
        ("Worum geht es in Sommer am See?", SOMMER),  # part of the title
        ("Wer spielt in Der lezte Sommer am See?", SOMMER),  # a typo
        ("Is The Last Summer at the Lake worth it?", SOMMER),  # the English title
        ("Is Last Summer at the Lake worth it?", SOMMER),
        ("Wie ist Vermessung des Schweigens?", [("Die Vermessung des Schweigens", 2021)]),
        ("Wie ist die Vermesung des Schweigens?", [("Die Vermessung des Schweigens", 2021)]),
        (
            "Who directed Lighthouse Keepers Daughter?",
            [("The Lighthouse Keeper's Daughter", 2018)],
        ),
        ("Wie endet Tremors?", [("Tremors - Im Land der Raketenwürmer", 1990)]),
        ("Wie ist Im Land der Raketenwürmer?", [("Tremors - Im Land der Raketenwürmer", 1990)]),
        ("Wer hat bei Ballerina Regie geführt?", BALLERINAS),  # one title, two works
        ("Wer hat bei Balerina Regie geführt?", BALLERINAS),
        ("Who directed the 2025 Ballerina?", [("Ballerina", 2025)]),
        ("Who directed Ballerina by Len Wiseman?", [("Ballerina", 2025)]),
        ("Wer spielt in Casablanca?", []),
    ],
)
def test_a_work_is_named_as_people_write_it(
    question: str, named: list[tuple[str, int]], catalog: Catalog
) -> None:
    assert _named(question, catalog) == named


def test_a_one_word_title_stays_a_title_in_a_corpus_of_thousands_of_works() -> None:
    """At 110k chunks (9,797 works) other films' reviews used "ballerina" in 29 chunks, and
    neither Ballerina was named any more, nor "Der letzte Sommer am See" by "Sommer am See"
    ("sommer": 24 chunks); "Leben", in 382 chunks, is a word there."""
    reviews = _reviews(extra_works=9_800)
    # The counts of that corpus.
    totals = Counter(
        {"ballerina": 29, "leb": 382, "leben": 382, "letzt": 482, "somm": 24, "see": 40_603}
    )
    big = Catalog.build(reviews, vocabulary={}, term_totals=totals)

    assert _named("Wer hat bei Ballerina Regie geführt?", big) == BALLERINAS
    assert _named("Who directed the 2025 Ballerina?", big) == [("Ballerina", 2025)]
    assert _named("Was lernt man über das Leben?", big) == []
    assert _named("Wie endet „Leben“?", big) == [("Leben", 2019)]
    # A part of several words names its film as in a small corpus; one word alone does not.
    assert _named("Worum geht es in Sommer am See?", big) == SOMMER
    assert _named("Wie war euer Sommer?", big) == []


def test_in_a_small_corpus_a_title_other_reviews_use_a_few_times_is_a_word() -> None:
    totals = Counter({"ballerina": 3, "leb": 3, "leben": 3})
    small = Catalog.build(_reviews(), vocabulary={}, term_totals=totals)

    assert _named("Was lernt man über das Leben?", small) == []
    assert _named("Wer hat bei „Ballerina“ Regie geführt?", small) == BALLERINAS


def test_the_title_index_finds_the_typo_and_keeps_the_alias_it_matched() -> None:
    index = TitleIndex([_work("Die Vermessung des Schweigens", 2021)])
    [match] = index.find("Wie ist die Vermesung des Schweigens?")
    assert match.how == "fuzzy"
    assert match.work.title == "Die Vermessung des Schweigens"


@pytest.mark.parametrize(
    "other",
    [
        "Arielle, die Meerjungfrau - Wie alles begann",  # the same words as a part
        "Arielle, die Meerjungfrau 2: Sehnsucht nach dem Meer",  # one character more
    ],
)
def test_a_whole_title_wins_over_another_title_that_begins_with_it(other: str) -> None:
    index = TitleIndex([_work("Arielle, die Meerjungfrau", 1989), _work(other, 2000)])

    found = index.find("Wie viele Sterne bekommt Arielle, die Meerjungfrau?")

    assert [m.work.title for m in found] == ["Arielle, die Meerjungfrau"]


def test_in_a_large_corpus_a_part_without_the_titles_rarest_word_names_nothing() -> None:
    """ "Premium Edition" ends "Dieses obskure Objekt der Begierde - Arthaus Premium Edition";
    at 110k chunks other films' reviews use "premium" 52 times, "begierde" 8."""
    works = [_work("Dieses obskure Objekt der Begierde - Arthaus Premium Edition", 1977)]
    works += [_work(f"Opus{n:05d}", 2000) for n in range(9_800)]
    totals = Counter(
        {"premium": 52, "edition": 301, "arthaus": 16, "obskur": 11, "objekt": 35, "begierd": 8}
    )
    index = TitleIndex(works, term_totals=totals)

    assert index.find("Wie lang ist das Making of der Premium Edition von Das Parfum?") == []
    [match] = index.find("Wie ist Objekt der Begierde?")
    assert match.work.year == 1977


def _short_title_catalog() -> Catalog:
    reviews = [
        _review(f"s{n}", title, 2009, text=text)
        for n, (title, text) in enumerate(
            [
                ("Knowing", "Nicolas Cage entziffert eine Zahlenreihe aus einer Zeitkapsel."),
                ("Crank", "Jason Statham rennt gegen ein Gift an; Frank hilft ihm kaum."),
                ("Lucy", "Scarlett Johansson nutzt ihr ganzes Gehirn."),
            ]
        )
    ]
    return Catalog.build(reviews)


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("Worum geht es in Knowning?", [("Knowing", 2009)]),  # a letter too many
        ("Worum geht es in Knowign?", [("Knowing", 2009)]),  # two letters swapped
        ("Wie schnell ist Cranc?", [("Crank", 2009)]),
        ("Was tut Frank?", []),  # a word of the reviews, not a typo of "Crank"
        ("Wer spielt in Lucky?", []),  # four letters are too few to guess from
        ("Wie ist Knowing?", [("Knowing", 2009)]),
    ],
)
def test_a_short_title_is_found_with_one_typo_by_a_word_no_review_uses(
    question: str, named: list[tuple[str, int]]
) -> None:
    assert _named(question, _short_title_catalog()) == named
