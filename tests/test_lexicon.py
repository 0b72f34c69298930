"""The German–English word list: parsed from Ding's format, cached, used across languages."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.service import ReviewService
from bot.settings import Settings
from index.lexicon import DEFAULT_DICTIONARY, Lexicon
from tests.conftest import SEEDS, RememberingEmbedder

DING_LINES = """\
# Version :: devel 2023-01-30
Kino {n}; Lichtspielhaus {n} [veraltet] | Kinos {pl} | ins Kino gehen :: cinema [Br.]; movie theater [Am.] | cinemas | to go to the cinema
Verleih {m} (Filmverleih) :: distributor; distribution company
spielen {vi} | spielend :: to play | playing
"""  # noqa: E501


def test_ding_entries_translate_both_ways_without_notes(tmp_path: Path) -> None:
    dictionary = tmp_path / "de-en"
    dictionary.write_text(DING_LINES, encoding="utf-8")
    lexicon = Lexicon.load(dictionary, cache_dir=tmp_path / "cache")

    assert "kinos" in lexicon.translate("cinemas", source="en", target="de")
    assert "kino" in lexicon.translate("Cinema", source="en", target="de")
    assert "verleih" in lexicon.translate("distributor", source="en", target="de")
    assert "spiel" in lexicon.translate("play", source="en", target="de")
    assert "cinema" in lexicon.translate("Kino", source="de", target="en")
    # Phrases ("movie theater", "ins Kino gehen") and notes ("[veraltet]") are not words.
    assert lexicon.translate("theater", source="en", target="de") == frozenset()
    assert "veraltet" not in lexicon.translate("Lichtspielhaus", source="de", target="en")


def test_the_parsed_list_is_reused_and_renewed_when_the_file_changes(tmp_path: Path) -> None:
    dictionary = tmp_path / "de-en"
    dictionary.write_text(DING_LINES, encoding="utf-8")
    cache = tmp_path / "cache"
    Lexicon.load(dictionary, cache_dir=cache)
    assert list(cache.glob("lexicon*.sqlite"))

    dictionary.write_text(DING_LINES + "Drehbuch {n} :: screenplay; script\n", encoding="utf-8")
    lexicon = Lexicon.load(dictionary, cache_dir=cache)
    assert "drehbuch" in lexicon.translate("screenplay", source="en", target="de")


def test_a_loaded_dictionary_keeps_its_translations_when_another_is_cached_beside_it(
    tmp_path: Path,
) -> None:
    """Every process shares the cache folder. A CI run refused 11 of the DVD test split's 15
    unanswerable questions instead of 13, as without a dictionary: another process had
    cached another file as its dictionary before the run's bot read its first word."""
    cache = tmp_path / "cache"
    dictionary = tmp_path / "de-en"
    dictionary.write_text(DING_LINES, encoding="utf-8")
    other = tmp_path / "not-a-dictionary"
    other.write_bytes(b"\x00\x9f\xff binary, no word list\n")

    lexicon = Lexicon.load(dictionary, cache_dir=cache)
    Lexicon.load(other, cache_dir=cache)  # as another process does, before our first question

    assert "kino" in lexicon.translate("cinema", source="en", target="de")
    assert "kino" in Lexicon.load(dictionary, cache_dir=cache).translate(
        "cinema", source="en", target="de"
    )


def test_without_a_dictionary_nothing_is_translated(tmp_path: Path) -> None:
    lexicon = Lexicon.load(tmp_path / "missing", cache_dir=tmp_path / "cache")
    assert not lexicon
    assert lexicon.translate("cinemas", source="en", target="de") == frozenset()


@pytest.mark.skipif(not DEFAULT_DICTIONARY.is_file(), reason="trans-de-en is not installed")
def test_an_english_question_finds_the_german_sentence_through_the_dictionary(
    tmp_path: Path, embedder: RememberingEmbedder
) -> None:
    question = "Which distributor brings the 2025 Ballerina to German cinemas?"
    answers = {}
    for name, dictionary in (("with", DEFAULT_DICTIONARY), ("without", None)):
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=tmp_path / name,
            dictionary=dictionary,
        )
        service = ReviewService(settings, embedder=embedder)
        service.index([SEEDS])
        answers[name] = service.ask(question)

    assert answers["with"].status == "answered"
    assert "Leonine" in answers["with"].answer
    assert "Leonine" not in answers["without"].answer
