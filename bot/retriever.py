"""The work-aware hybrid search as a LangChain retriever: passages as ``Document``s.

A question naming a film searches that film's reviews; a title several films share searches
each of them; a title that is not indexed finds nothing. Each ``Document`` carries the
passage and its review's metadata, so a LangChain chain can cite and filter by them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from bot.engine.reading import read_question
from bot.engine.retrieval import expanded_keywords
from bot.service import ReviewService
from bot.settings import Settings
from index.records import Work
from index.search import Hit


class ReviewRetriever(BaseRetriever):
    """Finds review passages for a question with the service's work-aware hybrid search."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    service: ReviewService
    k: int = 5

    @classmethod
    def from_settings(cls, settings: Settings | None = None, *, k: int = 5) -> ReviewRetriever:
        """A retriever over the index the settings (default: environment and ``.env``) name."""
        return cls(service=ReviewService(settings or Settings()), k=k)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        view = self.service.view()
        question = read_question(query, view.catalog, lexicon=self.service.lexicon)
        if question.unknown_title:
            return []
        # A shared title is searched once per work, so every film it names is found.
        scopes: list[list[str] | None] = (
            [[w.work_id] for w in question.works]
            if question.ambiguous
            else [[w.work_id for w in question.works] or None]
        )
        vector = self.service.embedder.embed_query(question.text)
        hits: list[Hit] = []
        for work_ids in scopes:
            hits += view.search.search(
                question.text,
                language=question.language,
                k=self.k,
                work_ids=work_ids,
                keywords=expanded_keywords(question) or None,
                vector=vector,
            )
        return [document_from_hit(hit) for hit in hits]


def document_from_hit(hit: Hit) -> Document:
    """A found chunk as a Document: its text, and its review's and work's metadata."""
    meta = hit.chunk.metadata
    work = Work(
        work_id=str(meta.get("work_id", "")),
        title=str(meta.get("work_title") or meta.get("title") or "?"),
        year=_int(meta.get("work_year")),
        director=_text(meta.get("work_director")),
    )
    metadata: dict[str, Any] = {
        "review_id": hit.review_id,
        "chunk_id": hit.chunk.chunk_id,
        "work_id": work.work_id,
        "work": work.label(),
        "title": work.title,
        "year": work.year,
        "director": work.director,
        "author": _text(meta.get("author")),
        "source": _text(meta.get("source")),
        "date": _text(meta.get("date")),
        "rating": meta.get("rating_normalized"),
        "rating_raw": _text(meta.get("rating_raw")),
        "language": _text(meta.get("language")),
        "score": round(hit.score, 4),
    }
    return Document(
        page_content=hit.chunk.text,
        id=hit.chunk.chunk_id,
        metadata={key: value for key, value in metadata.items() if value is not None},
    )


def format_docs(documents: Sequence[Document]) -> str:
    """Numbered passages, each under the film and the review it comes from, for a prompt."""
    blocks = []
    for n, document in enumerate(documents, start=1):
        meta = document.metadata
        by = ", ".join(str(meta[key]) for key in ("author", "source") if meta.get(key))
        rating = f", rating {meta['rating_raw']}" if meta.get("rating_raw") else ""
        label = f"{meta.get('work', '?')}{f' — review by {by}' if by else ''}{rating}"
        blocks.append(f"[{n}] {label}\n{' '.join(document.page_content.split())}")
    return "\n\n".join(blocks)


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and value else None


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None
