"""Sentence vectors as a user sees them: stored with every chunk, kept in step, never stale."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy

from bot.engine.ranking import load_model
from bot.service import ReviewService
from index.sentence_store import StoredSentence, sentence_collection_name
from index.store import StoredChunk
from tests.conftest import SEEDS

WICK = "seeds/002_8bc465d4c9f8ae35.txt"
WICK_FILE = WICK.split("/")[1]
# A seeds dev question answered from a review's sentences, not from its metadata.
QUESTION = "Mit welcher Waffe kämpft Eve im zweiten großen Set Piece von Ballerina (2025)?"


def sentence_records(service: ReviewService) -> list[dict[str, Any]]:
    """The metadata of every stored sentence, read from Chroma itself."""
    name = sentence_collection_name(service.store.name)
    if name not in {c.name for c in service.store.client.list_collections()}:
        return []
    page = service.store.client.get_collection(name).get(include=["metadatas"])
    return [dict(m) for m in page["metadatas"] or [] if m]


def stored_sentences(service: ReviewService) -> dict[str, list[StoredSentence]]:
    chunk_ids = [c.chunk_id for c in service.store.chunks()]
    return dict(service.sentences.of_chunks(chunk_ids))


def uncovered_words(text: str, sentences: list[StoredSentence]) -> list[str]:
    """The words of ``text`` that lie outside every sentence."""
    return [
        word.group()
        for word in re.finditer(r"[^\W_]+", text)
        if not any(s.start <= word.start() and word.end() <= s.end for s in sentences)
    ]


def assert_in_step(service: ReviewService) -> None:
    """Every stored chunk has sentences, and every sentence belongs to a stored chunk."""
    chunk_ids = {c.chunk_id for c in service.store.chunks()}
    owners = {str(r["chunk_id"]) for r in sentence_records(service)}
    assert owners == chunk_ids, (
        f"chunks without sentences: {sorted(chunk_ids - owners)}; "
        f"sentences of no chunk: {sorted(owners - chunk_ids)}"
    )


def test_every_chunk_has_its_sentences_verbatim_in_order(service: ReviewService) -> None:
    report = service.index([SEEDS])
    chunks = service.store.chunks()
    found = stored_sentences(service)

    assert set(found) == {c.chunk_id for c in chunks}
    assert report.sentences_embedded == sum(len(s) for s in found.values())
    assert len(sentence_records(service)) == report.sentences_embedded
    for chunk in chunks:
        sentences = found[chunk.chunk_id]
        previous_end = 0
        for sentence in sentences:
            assert previous_end <= sentence.start < sentence.end <= len(chunk.text)
            previous_end = sentence.end
        assert uncovered_words(chunk.text, sentences) == [], chunk.chunk_id
        texts = [chunk.text[s.start : s.end].strip() for s in sentences]
        assert all(texts)
        # Each vector is that very sentence's: none went to a neighbour's place.
        expected = numpy.asarray(service.embedder.embed_documents(texts))
        assert numpy.allclose(numpy.stack([s.vector for s in sentences]), expected, atol=1e-5)


def wick_chunks(service: ReviewService) -> dict[str, StoredChunk]:
    return {c.chunk_id: c for c in service.store.chunks() if c.review_id == WICK}


def test_edited_review_gets_new_sentences_and_loses_the_old(
    service: ReviewService, seeds_copy: Path
) -> None:
    service.index([seeds_copy])
    before = wick_chunks(service)
    kept_before = stored_sentences(service)
    review = seeds_copy / WICK_FILE
    text = review.read_text(encoding="utf-8")
    review.write_text(
        text.replace("Keanu Reeves als Gast", "Keanu Reeves als Überraschungsgast"),
        encoding="utf-8",
    )
    service.embedder.texts_embedded = 0

    report = service.index([seeds_copy])

    after = wick_chunks(service)
    new_ids = sorted(set(after) - set(before))
    gone_ids = sorted(set(before) - set(after))
    assert len(new_ids) == 1 and len(gone_ids) == 1
    found = stored_sentences(service)
    new_sentences = found[new_ids[0]]
    new_text = after[new_ids[0]].text
    assert any("Überraschungsgast" in new_text[s.start : s.end] for s in new_sentences), (
        "the edited sentence is stored"
    )
    assert service.sentences.of_chunks(gone_ids) == {}, "the old chunk's sentences are gone"
    assert_in_step(service)
    assert report.sentences_embedded == len(new_sentences), "only the new chunk's sentences"
    assert service.embedder.texts_embedded == report.chunks_embedded + len(new_sentences)
    for chunk_id, sentences in found.items():
        if chunk_id != new_ids[0]:
            assert [(s.start, s.end) for s in sentences] == [
                (s.start, s.end) for s in kept_before[chunk_id]
            ]


def test_deleted_review_loses_its_sentences(service: ReviewService, seeds_copy: Path) -> None:
    service.index([seeds_copy])
    wick_ids = sorted(wick_chunks(service))
    assert service.sentences.of_chunks(wick_ids)
    (seeds_copy / WICK_FILE).unlink()

    service.index([seeds_copy])

    assert service.sentences.of_chunks(wick_ids) == {}
    assert not any(r["review_id"] == WICK for r in sentence_records(service))
    assert_in_step(service)


def test_rebuild_leaves_no_sentence_of_the_old_index(
    service: ReviewService, seeds_copy: Path
) -> None:
    service.index([seeds_copy])
    (seeds_copy / WICK_FILE).unlink()  # a rebuild does not see the review it no longer has

    rebuilt = service.index([seeds_copy], rebuild=True)

    assert len(sentence_records(service)) == rebuilt.sentences_embedded > 0
    assert not any(r["review_id"] == WICK for r in sentence_records(service))
    assert_in_step(service)


def test_index_from_before_sentence_vectors_gets_them_once(
    service: ReviewService, seeds_copy: Path
) -> None:
    service.index([seeds_copy])
    client = service.store.client
    client.delete_collection(sentence_collection_name(service.store.name))
    collection = client.get_collection(service.store.name)
    old_state = {k: v for k, v in (collection.metadata or {}).items() if k != "last_sentences"}
    collection.modify(metadata=old_state)
    assert "last_sentences" not in (client.get_collection(service.store.name).metadata or {})
    service.embedder.texts_embedded = 0

    filled = service.index([seeds_copy])

    assert not filled.changed and filled.chunks_embedded == 0
    assert filled.sentences_embedded == len(sentence_records(service)) > 0
    assert service.embedder.texts_embedded == filled.sentences_embedded
    assert_in_step(service)

    service.embedder.texts_embedded = 0
    again = service.index([seeds_copy])
    assert (again.sentences_embedded, service.embedder.texts_embedded) == (0, 0)


def test_answer_is_the_same_without_the_stored_sentences(service: ReviewService) -> None:
    model = load_model()
    assert model is not None and model.embedder == service.embedder.name, (
        "the sentence ranker must be in use for this test to mean anything"
    )
    service.index([SEEDS])
    before = service.ask(QUESTION)
    quotes = [s.quote for s in before.sources if s.quote]
    assert before.status == "answered" and quotes, before
    quoted = [c.chunk_id for c in service.store.chunks() if any(q in c.text for q in quotes)]
    assert quoted

    service.sentences.delete_chunks(quoted)
    assert service.sentences.of_chunks(quoted) == {}
    after = service.ask(QUESTION)

    assert [(s.review_id, s.quote) for s in after.sources] == [
        (s.review_id, s.quote) for s in before.sources
    ]
    assert after.answer == before.answer
