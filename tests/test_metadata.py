"""What a review's header says about it: ratings, language, people, header lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.chunking import chunk_review
from index.loading import load_file
from index.metadata import find_header_fields, parse_review
from index.records import Review

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
