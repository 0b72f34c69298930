"""An aspect question that names no work ("How did the critics like the music?") is answered
for the works whose reviews speak of it, and never guesses a work for a name it does not know."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.service import ReviewService
from bot.settings import Settings
from tests.conftest import RememberingEmbedder

KOREAN = "Ballerina (2023, Lee Chung-hyun)"


@pytest.fixture(scope="module")
def service(indexed_data: Path, embedder: RememberingEmbedder) -> ReviewService:
    settings = Settings(_env_file=None, data_dir=indexed_data)  # type: ignore[call-arg]
    return ReviewService(settings, embedder=embedder)


@pytest.mark.parametrize(
    "question", ["How did the critics like the music?", "Wie fanden die Kritiker die Musik?"]
)
def test_the_music_is_answered_for_the_film_whose_reviews_speak_of_it(
    question: str, service: ReviewService
) -> None:
    answer = service.ask(question)

    assert answer.status == "answered"
    assert answer.kind == "aspect"
    assert answer.works == [KOREAN]  # the 2025 film's review does not speak of its music
    assert len(answer.sources) == 2
    assert {source.work for source in answer.sources} == {KOREAN}
    assert any("Score" in source.quote for source in answer.sources)


@pytest.mark.parametrize(
    "question",
    [
        "Who composed the music?",  # a fact, not an opinion
        "How is the music in Casablanca?",  # a film that is not indexed
        "How is the music of the Eragon DVD?",  # a name no work has
    ],
)
def test_no_opinion_of_an_unnamed_work_is_guessed(question: str, service: ReviewService) -> None:
    assert service.ask(question).kind != "aspect"
