"""How an LLM's own "the reviews don't say" is read, with a scripted chat model."""

from __future__ import annotations

from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from bot.answers import NOT_FOUND
from bot.service import ReviewService
from bot.settings import Settings
from tests.conftest import SEEDS, RememberingEmbedder

COMPOSER = "Wer hat die Musik für den südkoreanischen Netflix-Film Ballerina komponiert?"


def scripted(settings: Settings, embedder: RememberingEmbedder, reply: str) -> ReviewService:
    model = GenericFakeChatModel(messages=iter([AIMessage(content=reply)]))
    service = ReviewService(settings, embedder=embedder, chat_model=model)
    service.index([SEEDS])
    return service


def test_a_cited_not_found_in_lower_case_is_a_not_found_answer(
    settings: Settings, embedder: RememberingEmbedder
) -> None:
    # What a small model really wrote: the refusal folded into a sentence, with a citation.
    reply = "Die Musik der koreanischen Ballerina ist in den Rezensionen steht dazu nichts [1]."
    answer = scripted(settings, embedder, reply).ask(COMPOSER)

    assert answer.status == "not_found"
    assert answer.answer == NOT_FOUND["de"]
    assert not answer.sources  # the offline quotes are not shown as if they answered


def test_an_answer_keeps_its_cited_facts_without_the_not_found_sentence(
    settings: Settings, embedder: RememberingEmbedder
) -> None:
    reply = "Die Musik stammt von Lee Seong-hwa [1]. The reviews don't cover that."
    answer = scripted(settings, embedder, reply).ask(COMPOSER)

    assert answer.note is None
    assert answer.status == "answered"
    assert "Lee Seong-hwa [1]" in answer.answer
    assert "cover that" not in answer.answer
