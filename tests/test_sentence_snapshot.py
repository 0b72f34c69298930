"""A generation's sentence snapshot gives the answerer what the sentence store gives it."""

from __future__ import annotations

from pathlib import Path

import numpy
import pytest

from bot.service import ReviewService
from index.indexing import index_reviews
from index.sentence_snapshot import SentenceSnapshot, write_sentence_snapshot
from index.sentence_store import StoredSentence, sentence_collection_name
from tests.conftest import SEEDS

EDITED = "002_8bc465d4c9f8ae35.txt"
# float16 keeps about three decimal digits of a unit vector's components.
HALF_TOLERANCE = 1e-3


def index(service: ReviewService, folder: Path) -> set[str]:
    index_reviews([folder], store=service.store, embedder=service.embedder)
    return {c.chunk_id for c in service.store.chunks()}


def write_full(service: ReviewService, folder: Path, chunk_ids: set[str]) -> SentenceSnapshot:
    write_sentence_snapshot(
        service.sentences,
        folder,
        previous=None,
        chunk_ids_changed=(),
        chunk_ids_removed=(),
        all_chunk_ids=chunk_ids,
    )
    snapshot = SentenceSnapshot.open(folder)
    assert snapshot is not None
    return snapshot


def assert_same(
    found: dict[str, list[StoredSentence]], expected: dict[str, list[StoredSentence]]
) -> None:
    assert list(found) and set(found) == set(expected)
    for chunk_id, sentences in expected.items():
        got = found[chunk_id]
        assert [(s.chunk_id, s.start, s.end, s.polarity) for s in got] == [
            (s.chunk_id, s.start, s.end, s.polarity) for s in sentences
        ], chunk_id
        assert all(s.vector.dtype == numpy.float32 for s in got)
        assert numpy.allclose(
            numpy.stack([s.vector for s in got]),
            numpy.stack([s.vector for s in sentences]),
            atol=HALF_TOLERANCE,
        ), chunk_id


def test_snapshot_gives_every_chunk_the_stored_sentences(
    service: ReviewService, tmp_path: Path
) -> None:
    chunk_ids = index(service, SEEDS)
    expected = service.sentences.of_chunks(sorted(chunk_ids))
    assert set(expected) == chunk_ids and any(
        s.polarity is not None for found in expected.values() for s in found
    ), "the seeds' sentences carry polarities, so the test compares them"

    snapshot = write_full(service, tmp_path / "sentences", chunk_ids)
    # The answerer needs nothing from the sentence collection any more.
    service.store.client.delete_collection(sentence_collection_name(service.store.name))

    assert_same(snapshot.of_chunks(sorted(chunk_ids)), expected)
    some = sorted(chunk_ids)[:2]
    assert list(snapshot.of_chunks([*some, "no such chunk", some[0]])) == some
    assert snapshot.of_chunks([]) == {}
    assert snapshot.of_chunks(["no such chunk"]) == {}


def test_delta_write_equals_a_full_write(
    service: ReviewService, seeds_copy: Path, tmp_path: Path
) -> None:
    first_ids = index(service, seeds_copy)
    first = tmp_path / "first"
    write_full(service, first, first_ids).close()
    review = seeds_copy / EDITED
    text = review.read_text(encoding="utf-8")
    review.write_text(
        text.replace("Keanu Reeves als Gast", "Keanu Reeves als Überraschungsgast"),
        encoding="utf-8",
    )
    deleted = next(p for p in sorted(seeds_copy.iterdir()) if p.name != EDITED)
    deleted.unlink()

    second_ids = index(service, seeds_copy)
    changed, removed = second_ids - first_ids, first_ids - second_ids
    assert changed and len(removed) > len(changed), "one chunk edited, one review's chunks gone"
    write_sentence_snapshot(
        service.sentences,
        tmp_path / "delta",
        previous=first,
        chunk_ids_changed=changed,
        chunk_ids_removed=removed,
        all_chunk_ids=second_ids,
    )
    delta = SentenceSnapshot.open(tmp_path / "delta")
    full = write_full(service, tmp_path / "full", second_ids)
    assert delta is not None

    asked = sorted(first_ids | second_ids)
    from_delta, from_full = delta.of_chunks(asked), full.of_chunks(asked)
    assert set(from_delta) == second_ids
    assert_same(from_delta, from_full)
    for chunk_id in changed:
        edited = from_delta[chunk_id]
        chunk_text = next(c.text for c in service.store.chunks() if c.chunk_id == chunk_id)
        assert any("Überraschungsgast" in chunk_text[s.start : s.end] for s in edited)


def test_delta_write_over_a_missing_previous_reads_every_sentence(
    service: ReviewService, tmp_path: Path
) -> None:
    chunk_ids = index(service, SEEDS)
    write_sentence_snapshot(
        service.sentences,
        tmp_path / "sentences",
        previous=tmp_path / "never written",
        chunk_ids_changed=(),
        chunk_ids_removed=(),
        all_chunk_ids=chunk_ids,
    )
    snapshot = SentenceSnapshot.open(tmp_path / "sentences")

    assert snapshot is not None
    assert_same(
        snapshot.of_chunks(sorted(chunk_ids)), service.sentences.of_chunks(sorted(chunk_ids))
    )


@pytest.mark.parametrize("damage", ["no manifest", "short vectors", "no chunk table"])
def test_folder_not_written_in_full_does_not_open(
    service: ReviewService, tmp_path: Path, damage: str
) -> None:
    chunk_ids = index(service, SEEDS)
    folder = tmp_path / "sentences"
    write_full(service, folder, chunk_ids).close()
    if damage == "no manifest":
        (folder / "manifest.json").unlink()
    elif damage == "short vectors":
        vectors = numpy.load(folder / "vectors.npy")
        numpy.save(folder / "vectors.npy", vectors[:-1])
    else:
        (folder / "chunks.sqlite").unlink()

    assert SentenceSnapshot.open(folder) is None
    assert SentenceSnapshot.open(tmp_path / "absent") is None


def test_empty_store_writes_a_snapshot_without_sentences(
    service: ReviewService, tmp_path: Path
) -> None:
    write_full(service, tmp_path / "sentences", set())
    snapshot = SentenceSnapshot.open(tmp_path / "sentences")

    assert snapshot is not None and snapshot.of_chunks(["any"]) == {}
