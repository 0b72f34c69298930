"""Smoke test: a real local LLM server starts, answers over the OpenAI API, and stops."""

from __future__ import annotations

import pytest
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from tests.llm_server import (
    assemble_model,
    default_model_path,
    require_server_installed,
    start_llm_server,
)


@pytest.mark.llm
def test_local_llm_server_answers_a_short_question() -> None:
    require_server_installed()
    model = assemble_model(default_model_path())
    with start_llm_server(model) as base_url:
        chat = ChatOpenAI(
            base_url=base_url,
            api_key=SecretStr("local"),
            model="qwen",
            temperature=0,
            # llama_cpp.server ignores max_completion_tokens, which langchain-openai sends.
            extra_body={"max_tokens": 40},
        )
        reply = chat.invoke("Answer with one word: what is the capital of France?")
    assert isinstance(reply.content, str)
    assert "Paris" in reply.content
