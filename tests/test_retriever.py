"""The LangChain retriever over the work-aware hybrid search, and the README's example."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
from langchain_core.documents import Document

from bot.retriever import ReviewRetriever, format_docs
from bot.service import ReviewService
from bot.settings import Settings
from tests.conftest import REPO, SEEDS, RememberingEmbedder

NETFLIX = "ballerina-2023-lee-chunghyun"
JOHN_WICK = "ballerina-2025-len-wiseman"


@pytest.fixture
def indexed(settings: Settings, embedder: RememberingEmbedder) -> ReviewService:
    service = ReviewService(settings, embedder=embedder)
    service.index([SEEDS])
    return service


def test_a_shared_title_finds_passages_of_every_work_with_their_metadata(
    indexed: ReviewService,
) -> None:
    documents = ReviewRetriever(service=indexed, k=2).invoke("Wer hat bei Ballerina Regie geführt?")

    assert all(isinstance(d, Document) and d.page_content for d in documents)
    assert {d.metadata["work_id"] for d in documents} == {NETFLIX, JOHN_WICK}
    wiseman = next(d for d in documents if d.metadata["work_id"] == JOHN_WICK)
    assert wiseman.metadata["work"] == "Ballerina (2025, Len Wiseman)"
    assert wiseman.metadata["director"] == "Len Wiseman"
    assert wiseman.metadata["author"] == "Nils Bothmann"
    assert wiseman.metadata["review_id"].startswith("seeds/")
    assert wiseman.id == wiseman.metadata["chunk_id"]
    assert isinstance(wiseman.metadata["score"], float)


def test_a_question_naming_one_work_finds_only_its_reviews_with_their_ratings(
    indexed: ReviewService,
) -> None:
    retriever = ReviewRetriever(service=indexed, k=4)

    documents = retriever.invoke("Wie ist die Action in Ballerina von Lee Chung-hyun?")

    assert documents and {d.metadata["work_id"] for d in documents} == {NETFLIX}
    rated = [d for d in documents if "rating" in d.metadata]
    assert rated and rated[0].metadata["rating"] == 0.7
    assert rated[0].metadata["rating_raw"] == "3.5 von 5"


def test_formatted_passages_are_numbered_under_their_film() -> None:
    documents = [
        Document("Die Action  ist\nbrutal.", metadata={"work": "Ballerina (2023)", "author": "A"}),
        Document("Gut.", metadata={"work": "Ballerina (2025)", "rating_raw": "4/5"}),
    ]

    assert format_docs(documents) == (
        "[1] Ballerina (2023) — review by A\nDie Action ist brutal.\n\n"
        "[2] Ballerina (2025), rating 4/5\nGut."
    )


def test_the_readme_example_runs_against_an_indexed_corpus(
    indexed: ReviewService, settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Using the search from LangChain", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, flags=re.S)
    assert code is not None
    assert len(code.group(1).strip().splitlines()) == 3
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    monkeypatch.setenv("REVIEWBOT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("REVIEWBOT_REVIEWS_DIR", str(settings.reviews_dir))

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code.group(1), "README.md", "exec"), {})

    output = printed.getvalue()
    assert output.startswith("[1] Ballerina (")
    assert "Ballerina (2023, Lee Chung-hyun)" in output
    assert "Ballerina (2025, Len Wiseman) — review by Nils Bothmann" in output
