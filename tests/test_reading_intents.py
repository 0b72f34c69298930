"""What a question asks is read from whole words: "count" is not in "country", "best" not
in "Bestimmt", "mittel" not in "mittelmäßig", "date" not in "update"."""

from __future__ import annotations

import re

import pytest

from bot.engine.overlap import NUMERIC_QUESTION, _roles_asked, expected_answer
from bot.engine.reading import read_question
from index.catalog import Catalog
from index.records import Review, Work


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    work = Work(work_id="crank", title="Crank", year=2006)
    review = Review(
        review_id="r1",
        source_path="r1.txt",
        record_key=None,
        format="txt",
        text="Chev Chelios muss in Bewegung bleiben, sonst stirbt er.",
        content_hash="1",
        title="Crank",
        year=2006,
        work=work,
    )
    return Catalog.build([review])


# (question, the metadata intent it asks, or None)
INTENTS = [
    # counts
    ("Wie viele Rezensionen gibt es zu Crank?", "count"),
    ("How many reviews of Crank are there?", "count"),
    ("Wie viele Filmkritiken gibt es zu Crank?", "count"),
    ("Wie viele Filme gibt es?", "count"),
    ("Wie oft wurde Crank rezensiert?", "count"),
    ("Which country is Crank set in?", None),
    ("Can you count the explosions in Crank?", None),
    ("How many legs does a spider have?", None),
    ("How many workers die in Crank?", None),
    ("Wie viele Kritikpunkte nennt der Fan zu Crank?", None),
    # averages
    ("Wie viele Sterne hat Crank im Schnitt?", "average"),
    ("How many stars does Crank get on average?", "average"),
    ("What is the average rating of Crank?", "average"),
    ("What is the mean rating of Crank?", "average"),
    ("Ist Crank nur mittelmäßig?", None),
    ("Ist Crank im Mittelfeld der Actionfilme?", None),
    ("What does the title Crank mean?", None),
    # ratings
    ("Wie viele Sterne gibt die Rezension zu Crank?", "ratings"),
    ("How was Crank rated?", "ratings"),
    ("Welche Bewertung hat Crank?", "ratings"),
    ("How is the pirate in Crank?", None),
    ("How is the plot of Crank accurate?", None),
    ("Is Crank underrating of its hero?", None),
    ("Welche Notenschrift nutzt der Komponist von Crank?", None),
    # best and worst
    ("Welche Rezension hat die beste Bewertung?", "best"),
    ("Welcher Film ist am besten bewertet?", "best"),
    ("Which film is the best-rated?", "best"),
    ("Which review has the lowest rating?", "worst"),
    ("Bestimmt gibt es eine Bewertung zu Crank, oder?", None),
    ("Is Crank a bestseller among the rated DVDs?", None),
    # lists
    ("Welche Filme gibt es?", "list"),
    ("Which films are there?", "list"),
    ("Welche Filmemacher haben Crank gedreht?", None),
    ("Which filmsets did Crank use?", None),
]


@pytest.mark.parametrize(("question", "intent"), INTENTS)
def test_an_intent_is_read_from_whole_words(
    question: str, intent: str | None, catalog: Catalog
) -> None:
    assert read_question(question, catalog).intent == intent


def _glued(question: str, *, before: str = "", after: str = "") -> str:
    return re.sub(r"[^\W\d_]+", lambda m: f"{before}{m.group(0)}{after}", question)


@pytest.mark.parametrize(("question", "intent"), [(q, i) for q, i in INTENTS if i is not None])
def test_no_intent_fires_when_its_words_are_parts_of_longer_words(
    question: str, intent: str, catalog: Catalog
) -> None:
    # Every word made the start of a longer one ("zählen" -> "zählenzq"): no intent is left.
    assert read_question(_glued(question, after="zq"), catalog).intent is None


# (question, what its answer must contain: "number", "date", "name" or None)
ANSWER_SHAPES = [
    ("Wie lange dauert Crank?", "number"),
    ("Wie alt ist Chev Chelios?", "number"),
    ("Wie viele Minuten dauert Crank?", "number"),
    ("How long is Crank?", "number"),
    ("Wie altmodisch ist Crank?", None),
    ("Gibt es in Crank Action sowie viele Explosionen?", None),
    ("Wann erschien Crank?", "date"),
    ("Was ist das Erscheinungsdatum von Crank?", "date"),
    ("What is the release date of Crank?", "date"),
    ("Is there an update on the Crank DVD?", None),
    ("Who plays Chev in Crank?", "name"),
    ("Welcher Schauspieler spielt Chev?", "name"),
]
_SHAPES = {"number": "7", "date": "2006", "name": "Jason Statham"}


@pytest.mark.parametrize(("question", "shape"), ANSWER_SHAPES)
def test_the_shape_of_an_answer_is_read_from_whole_words(
    question: str, shape: str | None, catalog: Catalog
) -> None:
    expected = expected_answer(read_question(question, catalog))
    if shape is None:
        assert expected is None
    else:
        assert expected is not None and expected.search(_SHAPES[shape])


@pytest.mark.parametrize(
    ("question", "numeric"),
    [
        ("Wie hoch ist das Budget von Crank?", True),
        ("Wie lange dauert Crank in Minuten?", True),
        ("Wie hochwertig ist die Verpackung von Crank?", False),
        ("Gibt es in Crank Action sowie viele Explosionen?", False),
        ("Wie altmodisch ist Crank?", False),
    ],
)
def test_a_question_needs_a_number_only_when_its_words_ask_one(
    question: str, numeric: bool
) -> None:
    assert bool(NUMERIC_QUESTION.search(question)) == numeric


@pytest.mark.parametrize(
    ("question", "role"),
    [
        ("Which character does Statham play in Crank?", True),
        ("Welche Figur spielt Statham in Crank?", True),
        ("Welche Hauptfigur spielt Statham in Crank?", True),
        ("Who plays Chev in Crank?", True),
        ("What is characteristic of Statham in Crank?", False),
        ("Which particular scene with Statham is loud?", False),
        ("Ist die Konfiguration der DVD mit Statham gut?", False),
    ],
)
def test_a_role_is_asked_by_whole_words(question: str, role: bool, catalog: Catalog) -> None:
    # A role asked is looked for as the reviews write it: "Chev (Jason Statham)".
    assert bool(_roles_asked(read_question(question, catalog))) == role


@pytest.mark.parametrize(
    ("question", "stars", "scale"),
    [
        ("Wie viele Rezensionen geben Crank nur einen Stern?", 1, None),
        ("How many reviews give Crank one star?", 1, None),
        ("Wie viele Rezensionen geben Crank fünf Sterne?", 5, None),
        ("Wie viele Rezensionen geben Crank sechs Punkte?", 6, None),
        ("How many reviews rate Crank 5/5?", 5, 5),
        ("Wie viele Rezensionen gibt es zu Crank?", None, None),
        # A number word inside another word counts nothing ("Einstern", "Dreisterne").
        ("Wie viele Rezensionen nennen das Hotel Dreisterne?", None, None),
    ],
)
def test_the_rating_a_count_is_limited_to_is_read_from_whole_words(
    question: str, stars: float | None, scale: int | None, catalog: Catalog
) -> None:
    read = read_question(question, catalog)
    assert read.intent == "count"
    assert (read.stars, read.stars_scale) == (stars, scale)
