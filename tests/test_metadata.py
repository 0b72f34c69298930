"""What a review's header says about it (ratings, language, people, header lines), and the
answers its metadata gives: averages on the reviews' scale, one review's rating or date."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.answers import Answer
from bot.engine.metadata_answers import answer_from_metadata
from bot.engine.reading import read_question
from index.catalog import Catalog
from index.chunking import chunk_review
from index.loading import load_file
from index.metadata import find_header_fields, parse_review
from index.records import Rating, Review, Work

PROSE = (
    "Der Film beginnt ruhig und nimmt sich Zeit für seine Figuren. "
    "Die Kamera bleibt nah an den Gesichtern, die Musik hält sich zurück."
)


def review_of(tmp_path: Path, text: str, name: str = "kritik.txt") -> Review:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    loaded = load_file(path, root=tmp_path)
    assert not loaded.failures
    (record,) = loaded.records
    return parse_review(record)


@pytest.mark.parametrize(
    "written",
    ["-3 von 5", "− 2/10", "7 von 5", "-1", "★★★★★★★★", "★★★☆☆☆☆", "120%"],
)
def test_ratings_out_of_range_or_without_a_usual_scale_are_no_rating(
    tmp_path: Path, written: str
) -> None:
    review = review_of(tmp_path, f"Titel: Nachtfalter\nBewertung: {written}\n\n{PROSE}")

    assert review.title == "Nachtfalter"
    assert review.rating is None


@pytest.mark.parametrize(
    ("written", "normalized", "scale"),
    [
        ("3.5 von 5", 0.7, 5),
        ("★★★½☆", 0.7, 5),
        ("★★★", 0.6, 5),
        ("★★★★★★★★☆☆", 0.8, 10),
        ("3½ von 5", 0.7, 5),
        ("2-3 von 5", 0.6, 5),
    ],
)
def test_ratings_on_a_usual_scale_are_read(
    tmp_path: Path, written: str, normalized: float, scale: int
) -> None:
    review = review_of(tmp_path, f"Titel: Nachtfalter\nBewertung: {written}\n\n{PROSE}")

    assert review.rating is not None
    assert (review.rating.normalized, review.rating.scale) == (normalized, scale)


@pytest.mark.parametrize(
    ("written", "code"),
    [("German", "de"), ("Deutsch", "de"), ("de-AT", "de"), ("English", "en"), ("eng", "en")],
)
def test_language_names_and_codes_become_the_language_code(
    tmp_path: Path, written: str, code: str
) -> None:
    review = review_of(tmp_path, f"Title: Moth\nLanguage: {written}\n\n{PROSE}")

    assert review.language == code


def test_a_language_we_cannot_name_is_detected_from_the_text(tmp_path: Path) -> None:
    text = (
        "Title: Moth\nLanguage: Gerglish\n\n"
        "The film takes its time with the people it is about, and the music is very quiet."
    )

    assert review_of(tmp_path, text).language == "en"


def test_a_prose_line_starting_with_a_header_word_names_no_director(tmp_path: Path) -> None:
    text = f"Nachtzug\n\nRegie führt hier ein Debütant – man merkt es\n{PROSE}\n"

    review = review_of(tmp_path, text)

    assert review.director is None
    assert not find_header_fields(text)
    prose_chunk = next(c for c in chunk_review(review) if "Debütant" in c.text)
    assert "Der Film beginnt ruhig" in prose_chunk.text


def test_a_header_value_that_reads_like_a_sentence_is_no_name(tmp_path: Path) -> None:
    text = f"Titel: Nachtzug\nRegie: führt hier ein Debütant, und das merkt man\n\n{PROSE}"

    assert review_of(tmp_path, text).director is None


def test_a_block_of_header_lines_without_colons_is_read(tmp_path: Path) -> None:
    text = f"Nachtzug – Kritik\n\nTitelNachtzug\nJahr2023\nRegieAnna Weber\n\n{PROSE}"

    review = review_of(tmp_path, text)

    assert (review.title, review.year, review.director) == ("Nachtzug", 2023, "Anna Weber")


def test_a_line_of_fields_is_a_header_whatever_its_keys(tmp_path: Path) -> None:
    footer = "| Verleih: Leonine__FSK Freigabe: ab 18__Geschnitten: Nein |"
    text = f"Titel: Nachtzug\n\n{PROSE}\n{footer}\n"

    review = review_of(tmp_path, text)

    assert [f.value for f in find_header_fields(text)] == ["Nachtzug", "Leonine", "ab 18", "Nein"]
    assert review.age_rating == "ab 18"
    assert not any("Leonine" in c.text and "Kamera" in c.text for c in chunk_review(review))


def test_a_one_off_footer_key_alone_in_prose_is_prose(tmp_path: Path) -> None:
    text = f"Titel: Nachtzug\n\n{PROSE}\nGeschnitten: Nein, die Szene ist ganz drin.\n"

    assert [f.value for f in find_header_fields(text)] == ["Nachtzug"]


# -- answers from the metadata: averages on the reviews' scale, one review's fields ----------


def _rated(n: int, title: str, stars: float, text: str, *, scale: int = 5, day: str = "") -> Review:
    return Review(
        review_id=f"{title}-{n}",
        source_path="reviews.jsonl",
        record_key=str(n),
        format="jsonl",
        text=text,
        content_hash=str(n),
        title=title,
        rating=Rating(raw=f"{stars:g}", normalized=stars / scale, scale=scale),
        date=day or None,
        language="de",
        work=Work(work_id=title.lower(), title=title),
    )


NIGHT_TRAIN = [
    _rated(
        1, "Nachtzug", 1, "Viel zu schleimig, schon im Kino. Die Musik nervt.", day="2008-01-30"
    ),
    _rated(2, "Nachtzug", 2, "Langweilig und verworren. Das Ende ist ohne Sinn.", day="2009-10-10"),
    _rated(
        3,
        "Nachtzug",
        5,
        "Ein Meisterwerk, die Kamera ist großartig. Die Figuren sind fein gezeichnet.",
        day="2007-03-17",
    ),
    _rated(4, "Kaltfront", 4, "Spannend bis zum Schluss.", day="2002-09-04"),
    _rated(5, "Mischwerk", 4, "Gut.", scale=5),
    _rated(6, "Mischwerk", 6, "Solide.", scale=10),
]


@pytest.fixture(scope="module")
def night_train() -> Catalog:
    return Catalog.build(NIGHT_TRAIN)


def _answer(question: str, catalog: Catalog) -> Answer:
    answer = answer_from_metadata(read_question(question, catalog), catalog)
    assert answer is not None
    return answer


@pytest.mark.parametrize(
    ("question", "average"),
    [
        ("Wie viele Sterne hat Nachtzug im Schnitt?", "Ø 2,67 von 5 Sternen"),
        ("How many stars does Nachtzug get on average?", "2.67 of 5 stars"),
        ("Wie viele Punkte bekommt Kaltfront durchschnittlich?", "Ø 4 von 5 Punkten"),
    ],
)
def test_an_average_is_given_on_the_reviews_own_scale(
    night_train: Catalog, question: str, average: str
) -> None:
    answer = _answer(question, night_train)

    assert average in answer.answer
    assert answer.status == "answered"


def test_an_average_over_different_scales_says_it_converted_them(night_train: Catalog) -> None:
    text = _answer("What is the average rating of Mischwerk?", night_train).answer

    assert "3.5 of 5 stars (70%" in text
    assert "different scales (5, 10)" in text


@pytest.mark.parametrize(
    ("question", "date"),
    [
        ("When was the review of Kaltfront written?", "September 4, 2002"),
        ("Wann wurde die Rezension zu Kaltfront geschrieben?", "4. September 2002"),
    ],
)
def test_the_date_of_a_review_comes_from_its_metadata(
    night_train: Catalog, question: str, date: str
) -> None:
    answer = _answer(question, night_train)

    assert date in answer.answer
    assert [s.review_id for s in answer.sources] == ["Kaltfront-4"]


@pytest.mark.parametrize(
    ("question", "rating", "review", "quoted"),
    [
        (
            "Wie viele Sterne vergibt der Rezensent, dem Nachtzug schon im Kino zu schleimig war?",
            "1/5",
            "Nachtzug-1",
            "Viel zu schleimig, schon im Kino.",
        ),
        (
            "Wie viele Sterne gab der Rezensent, der Nachtzug landweilig und verworren nannte?",
            "2/5",
            "Nachtzug-2",
            "Langweilig und verworren.",
        ),
        (
            "When was the review of Nachtzug written that calls it a Meisterwerk?",
            "March 17, 2007",
            "Nachtzug-3",
            "Ein Meisterwerk, die Kamera ist großartig.",
        ),
    ],
)
def test_a_question_describing_one_review_gets_that_reviews_field_and_quote(
    night_train: Catalog, question: str, rating: str, review: str, quoted: str
) -> None:
    answer = _answer(question, night_train)

    assert rating in answer.answer
    assert [s.review_id for s in answer.sources] == [review]
    assert answer.sources[0].quote == quoted


def test_without_a_description_every_reviews_rating_is_listed(night_train: Catalog) -> None:
    answer = _answer("Wie viele Sterne gibt die Rezension zu Nachtzug?", night_train)

    assert {s.review_id for s in answer.sources} == {"Nachtzug-1", "Nachtzug-2", "Nachtzug-3"}


def test_a_near_miss_of_one_letter_alone_picks_no_review(night_train: Catalog) -> None:
    question = "Welche Bewertung gab der Rezensent, der Nachtzug als Geldverschwendung bezeichnete?"

    answer = _answer(question, night_train)

    assert len(answer.sources) == 3  # "bezeichnete" is not "gezeichnet": every rating is listed


@pytest.mark.parametrize(
    ("question", "said", "reviews"),
    [
        ("How many reviews gave Nachtzug 5 stars?", "1 of 3 rated reviews give 5 stars", 1),
        ("Wie viele Rezensionen geben Nachtzug nur einen Stern?", "1 von 3", 1),
        ("Wie viele Rezensionen geben Nachtzug 2/5?", "1 von 3 bewerteten Rezensionen", 1),
        ("Wie viele Filme gibt es?", "3 Werke", 6),
        ("How many films are reviewed?", "3 works", 6),
        ("Wie oft wurde Nachtzug rezensiert?", "Nachtzug: 3 Rezensionen", 3),
        ("What is the mean star rating of Nachtzug?", "2.67 of 5 stars", 3),
    ],
)
def test_counts_of_works_or_of_reviews_giving_a_rating(
    night_train: Catalog, question: str, said: str, reviews: int
) -> None:
    answer = _answer(question, night_train)

    assert said in answer.answer
    assert len(answer.sources) == reviews


def test_a_review_named_by_its_stars_gets_its_date(night_train: Catalog) -> None:
    answer = _answer("When was the 2-star review of Nachtzug written?", night_train)

    assert "October 10, 2009" in answer.answer
    assert [s.review_id for s in answer.sources] == ["Nachtzug-2"]


def test_the_dates_of_several_reviews_are_listed_with_their_ratings(night_train: Catalog) -> None:
    answer = _answer("Wann wurden die Rezensionen zu Nachtzug geschrieben?", night_train)

    assert "30. Januar 2008 (1/5)" in answer.answer
    assert "17. März 2007 (5/5)" in answer.answer
