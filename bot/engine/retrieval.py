"""Passages for a question: work-aware hybrid search, labelled with their works."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from bot.answers import Passage, Source
from bot.engine.overlap import (
    naming_words,
)
from bot.engine.reading import GENERIC_WORDS, Question
from index.metadata import find_header_fields
from index.records import Work
from index.search import Hit, HybridSearch

# Chunks per work whose sentences are weighed for an offline answer.
SENTENCE_POOL = 40


def passages_from_hits(hits: Sequence[Hit], *, start: int = 1) -> list[Passage]:
    """Number the hits and label each with its work."""
    passages = []
    for offset, hit in enumerate(hits):
        meta = hit.chunk.metadata
        work = Work(
            work_id=str(meta.get("work_id", "")),
            title=str(meta.get("work_title") or meta.get("title") or "?"),
            year=_int(meta.get("work_year")),
            director=_str(meta.get("work_director")),
        )
        passages.append(
            Passage(
                n=start + offset,
                chunk_id=hit.chunk.chunk_id,
                review_id=hit.review_id,
                work_id=work.work_id,
                work=work.label(),
                text=hit.chunk.text,
                language=str(meta.get("language", "de")),
                author=_str(meta.get("author")),
                source=_str(meta.get("source")),
                title=work.title,
                year=work.year,
                director=work.director,
                score=round(hit.score, 4),
            )
        )
    return passages


def retrieve(
    question: Question,
    search: HybridSearch,
    *,
    k: int,
    vector: Sequence[float] | None = None,
) -> tuple[list[Passage], list[Work]]:
    """Passages for the question: per work when it names several, else over its works.

    ``vector`` is the question's embedding when the caller has it already."""
    works = question.works
    if question.ambiguous:
        passages: list[Passage] = []
        for work in works:
            hits = search.search(
                question.text,
                language=question.language,
                k=k,
                work_ids=[work.work_id],
                keywords=expanded_keywords(question) or None,
                vector=vector,
            )
            passages.extend(passages_from_hits(hits, start=len(passages) + 1))
            if question.aspect:
                passages.extend(_header_passages(question, search, [work], start=len(passages) + 1))
        return passages, works
    work_ids = [w.work_id for w in works] or None
    hits = search.search(
        question.text,
        language=question.language,
        k=k,
        work_ids=work_ids,
        keywords=expanded_keywords(question) or None,
        vector=vector,
    )
    passages = passages_from_hits(hits)
    if question.aspect and works:
        passages.extend(_header_passages(question, search, works, start=len(passages) + 1))
    return passages, works


def leading_passages(
    passages: Sequence[Passage], *, k: int, quoted: Sequence[Source]
) -> list[Passage]:
    """The ``k`` best passages of each work, and any passage a quote of the answer is from."""
    quotes = [s.quote for s in quoted if s.quote]
    seen: Counter[str] = Counter()
    leading = []
    for passage in passages:
        seen[passage.work_id] += 1
        if seen[passage.work_id] <= k or any(q in passage.text for q in quotes):
            leading.append(passage)
    return leading


def _header_passages(
    question: Question, search: HybridSearch, works: Sequence[Work], *, start: int
) -> list[Passage]:
    """Chunks of the works' reviews whose header states the asked field (``Regie: …``)."""
    ids = {w.work_id for w in works}
    found = [
        Hit(chunk, 0.0, 0.0, 0.0)
        for chunk in search.snapshot().chunks_of_works(sorted(ids))
        if any(f.attribute == question.aspect for f in find_header_fields(chunk.text))
    ]
    found.sort(key=lambda h: (h.review_id, int(h.chunk.metadata.get("chunk_index", 0))))
    return passages_from_hits(found, start=start)


def expanded_keywords(question: Question) -> str:
    """The question's content words, for keyword matching.

    Words that only name the work (its title, its year) are left out: every passage
    of the work has them. (A table of cross-language synonyms used to be added here; on
    the dev questions it changed nothing or cost, so across languages the dense search
    and the ranker's dictionary feature do that work.)
    """
    words = [w for w in re.findall(r"\w+", question.text.lower()) if w not in GENERIC_WORDS]
    naming = naming_words(question)
    words = [w for w in words if w not in naming]
    return " ".join(words)


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and value else None


def _str(value: object) -> str | None:
    return str(value) if value else None
