"""An LLM answers beyond the offline ranker, and its own "not found" is believed.

Scripted chat models stand in for the LLM; questions and passages are built directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGenerationChunk

from bot.answers import NOT_FOUND, Answer, Passage, Source
from bot.engine.reading import Question
from bot.llm import LlmAnswerer, final_answer
from index.records import Work

BALLERINA = Work("ballerina-2023-lee-chung-hyun", "Ballerina", 2023, "Lee Chung-hyun")
WAILING = Work("the-wailing-2016-na-hong-jin", "The Wailing", 2016, "Na Hong-jin")

FIGHTS = "The fights in this film are hard and brutal."
MUSIC = "The score is by Lee Seong-hwa."
EERIE = "It is eerie from start to finish."
CAMERA = "The camera work by Hong Kyung-pyo is superb."


def passage(n: int, work: Work, text: str) -> Passage:
    return Passage(
        n=n,
        chunk_id=f"{work.work_id}-c{n}",
        review_id=f"{work.work_id}-r{n}",
        work_id=work.work_id,
        work=work.label(),
        text=text,
        language="en",
        author=None,
        source=None,
        title=work.title,
        year=work.year,
        director=work.director,
        score=1.0,
    )


PASSAGES = [passage(1, BALLERINA, f"{FIGHTS} {MUSIC}"), passage(2, WAILING, f"{EERIE} {CAMERA}")]


def not_found(question: Question) -> Answer:
    return Answer(
        question=question.text,
        answer=NOT_FOUND["en"],
        status="not_found",
        language=question.language,
    )


def quoting(question: Question, shown: Passage, quote: str, fact: str | None = None) -> Answer:
    """An offline answer quoting one sentence of ``shown`` (or stating a field of it)."""
    source = Source(
        n=1,
        review_id=shown.review_id,
        work=shown.work,
        title=shown.title,
        year=shown.year,
        director=shown.director,
        author=None,
        source=None,
        quote=quote,
        score=shown.score,
        fact=fact,
    )
    return Answer(
        question=question.text,
        answer=f"{fact or quote} [1]",
        status="answered",
        language=question.language,
        works=[shown.work],
        sources=[source],
    )


class CountingChatModel(GenericFakeChatModel):
    """Replies with the scripted messages and counts how often it was asked."""

    calls: int = 0

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        self.calls += 1
        yield from super()._stream(messages, stop, run_manager, **kwargs)


def scripted(*replies: str) -> CountingChatModel:
    return CountingChatModel(messages=iter([AIMessage(content=r) for r in replies]))


def ask(model: CountingChatModel, question: Question, offline: Answer) -> Answer:
    answerer = LlmAnswerer(model)
    return final_answer(answerer.stream(question, PASSAGES, [BALLERINA, WAILING], offline=offline))


def test_the_llm_answers_what_the_offline_answerer_did_not_find() -> None:
    question = Question(text="Who composed the music for Ballerina?", language="en")
    model = scripted("Lee Seong-hwa composed the music [1].")

    answer = ask(model, question, not_found(question))

    assert model.calls == 1
    assert answer.status == "answered"
    assert answer.answer == "Lee Seong-hwa composed the music [1]."
    assert answer.note is None
    assert [(s.review_id, s.quote) for s in answer.sources] == [(PASSAGES[0].review_id, MUSIC)]


def test_an_unverifiable_llm_answer_to_a_question_not_found_offline_stays_not_found() -> None:
    question = Question(text="Who composed the music for Ballerina?", language="en")
    model = scripted("Lee Seong-hwa wrote 42 tracks for it [1].")

    answer = ask(model, question, not_found(question))

    assert model.calls == 1
    assert answer.status == "not_found"
    assert answer.answer == NOT_FOUND["en"]
    assert answer.note is not None and "42" in answer.note
    assert not answer.sources


@pytest.mark.parametrize(
    "reply",
    [
        "The reviews don't cover that.",
        "In den Rezensionen steht dazu nichts [1].",
        "Ballerina is a film. The reviews don't cover that.",
    ],
    ids=["the phrase", "the phrase cited, other language", "uncited text and the phrase"],
)
def test_the_llm_saying_the_reviews_do_not_answer_is_a_not_found_answer(reply: str) -> None:
    question = Question(text="How long is Ballerina?", language="en", works=[BALLERINA])
    offline = quoting(question, PASSAGES[0], FIGHTS)

    answer = ask(scripted(reply), question, offline)

    assert answer.status == "not_found"
    assert answer.answer == NOT_FOUND["en"]
    assert not answer.sources
    assert FIGHTS not in answer.answer


def test_the_llm_saying_not_found_does_not_hide_a_stated_field() -> None:
    question = Question(
        text="Who directed Ballerina?", language="en", works=[BALLERINA], aspect="director"
    )
    offline = quoting(question, PASSAGES[0], "", fact="Director: Lee Chung-hyun")

    answer = ask(scripted("The reviews don't cover that."), question, offline)

    assert answer.status == "answered"
    assert answer.answer == "Director: Lee Chung-hyun [1]"
    assert answer.note is not None and "field" in answer.note


@pytest.mark.parametrize(
    "reading",
    [{"unknown_title": "Parasite"}, {"foreign": "fr"}],
    ids=["a film that is not indexed", "a foreign language"],
)
def test_a_question_about_a_film_not_indexed_is_not_found_without_asking(
    reading: dict[str, str],
) -> None:
    text = "Who composed the music for Parasite?"
    plain = Question(text=text, language="en")
    asked = scripted("Lee Seong-hwa composed the music [1].")
    ask(asked, plain, not_found(plain))
    assert asked.calls == 1  # without the reading, the model is asked

    question = Question(text=text, language="en", **reading)  # type: ignore[arg-type]
    model = scripted("Lee Seong-hwa composed the music [1].")

    answer = ask(model, question, not_found(question))

    assert model.calls == 0
    assert answer.status == "not_found"
    assert answer.note is None


def test_a_claim_about_one_work_citing_only_another_work_is_dropped() -> None:
    question = Question(text="How are the fights?", language="en")
    offline = quoting(question, PASSAGES[0], FIGHTS)
    reply = (
        "Ballerina has hard and brutal fights [1]. "
        "The Wailing has hard and brutal fights too [1]. "
        "The Wailing is eerie [2]."
    )

    answer = ask(scripted(reply), question, offline)

    assert answer.status == "answered"
    assert answer.note is None
    assert "Ballerina has hard and brutal fights [1]." in answer.answer
    assert "The Wailing is eerie [2]." in answer.answer
    assert "fights too" not in answer.answer


def test_an_answer_whose_only_claim_cites_another_work_falls_back() -> None:
    question = Question(text="How are the fights in The Wailing?", language="en", works=[WAILING])
    offline = quoting(question, PASSAGES[1], EERIE)

    # The quoted passage is shown first: The Wailing is [1], Ballerina [2].
    answer = ask(scripted("The Wailing has hard and brutal fights [2]."), question, offline)

    assert answer.note is not None and "other works" in answer.note
    assert "brutal" not in answer.answer
    assert answer.answer == offline.answer
    assert answer.sources == offline.sources
