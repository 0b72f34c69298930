"""A generation's sentence snapshot gives the answerer what the sentence store gives it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy
import pytest

from bot.service import ReviewService
from index.indexing import index_reviews
from index.sentence_snapshot import SentenceSnapshot, segment_files, write_sentence_snapshot
from index.sentence_store import SentenceStore, StoredSentence, sentence_collection_name
from tests.conftest import SEEDS

EDITED = "002_8bc465d4c9f8ae35.txt"
# float16 keeps about three decimal digits of a unit vector's components.
HALF_TOLERANCE = 1e-3


def index(service: ReviewService, folder: Path) -> set[str]:
    index_reviews([folder], store=service.store, embedder=service.embedder)
    return {c.chunk_id for c in service.store.chunks()}


def write_full(service: ReviewService, folder: Path, chunk_ids: set[str]) -> SentenceSnapshot:
    write_sentence_snapshot(
        SentenceStore(service.store),
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
    expected = SentenceStore(service.store).of_chunks(sorted(chunk_ids))
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


def segments(folder: Path) -> dict[str, int]:
    """The folder's segments with their rows, and the inode of each one's vectors."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return {name: (folder / f"{name}.vectors.npy").stat().st_ino for name in manifest["segments"]}


def write_delta(
    service: ReviewService, folder: Path, previous: Path, before: set[str], after: set[str]
) -> SentenceSnapshot:
    write_sentence_snapshot(
        SentenceStore(service.store),
        folder,
        previous=previous,
        chunk_ids_changed=after - before,
        chunk_ids_removed=before - after,
        all_chunk_ids=after,
    )
    snapshot = SentenceSnapshot.open(folder)
    assert snapshot is not None
    return snapshot


def assert_delta_equals_full(
    service: ReviewService, delta: SentenceSnapshot, full_folder: Path, asked: set[str]
) -> None:
    chunk_ids = {c.chunk_id for c in service.store.chunks()}
    full = write_full(service, full_folder, chunk_ids)
    from_delta = delta.of_chunks(sorted(asked))
    assert set(from_delta) == chunk_ids
    assert_same(from_delta, full.of_chunks(sorted(asked)))


def test_delta_writes_equal_full_writes(
    service: ReviewService, seeds_copy: Path, tmp_path: Path
) -> None:
    first_ids = index(service, seeds_copy)
    write_full(service, tmp_path / "first", first_ids).close()
    review = seeds_copy / EDITED
    text = review.read_text(encoding="utf-8")
    review.write_text(
        text.replace("Keanu Reeves als Gast", "Keanu Reeves als Überraschungsgast"),
        encoding="utf-8",
    )

    edited_ids = index(service, seeds_copy)
    assert len(edited_ids - first_ids) == 1 == len(first_ids - edited_ids)
    edited = write_delta(service, tmp_path / "edited", tmp_path / "first", first_ids, edited_ids)

    assert_delta_equals_full(service, edited, tmp_path / "edited full", first_ids | edited_ids)
    (new_chunk,) = edited_ids - first_ids
    chunk_text = next(c.text for c in service.store.chunks() if c.chunk_id == new_chunk)
    assert any(
        "Überraschungsgast" in chunk_text[s.start : s.end]
        for s in edited.of_chunks([new_chunk])[new_chunk]
    )
    first_segments, edited_segments = segments(tmp_path / "first"), segments(tmp_path / "edited")
    assert len(edited_segments) == 2 and set(first_segments.items()) < set(
        edited_segments.items()
    ), "the unchanged rows are shared with the previous folder, not copied"

    next(p for p in sorted(seeds_copy.iterdir()) if p.name != EDITED).unlink()
    fewer_ids = index(service, seeds_copy)
    assert fewer_ids < edited_ids
    fewer = write_delta(service, tmp_path / "fewer", tmp_path / "edited", edited_ids, fewer_ids)

    assert_delta_equals_full(service, fewer, tmp_path / "fewer full", first_ids | edited_ids)
    fewer_segments = segments(tmp_path / "fewer")
    assert len(fewer_segments) == 1 and not set(fewer_segments) & set(edited_segments), (
        "with a review's rows unused, the used rows are compacted into one segment"
    )


def test_write_over_a_missing_previous_reads_every_sentence(
    service: ReviewService, tmp_path: Path
) -> None:
    chunk_ids = index(service, SEEDS)
    write_full(service, tmp_path / "sentences", set(sorted(chunk_ids)[:1])).close()
    write_sentence_snapshot(
        SentenceStore(service.store),
        tmp_path / "sentences",
        previous=tmp_path / "never written",
        chunk_ids_changed=(),
        chunk_ids_removed=(),
        all_chunk_ids=chunk_ids,
    )
    snapshot = SentenceSnapshot.open(tmp_path / "sentences")

    assert snapshot is not None
    stored = SentenceStore(service.store).of_chunks(sorted(chunk_ids))
    assert_same(snapshot.of_chunks(sorted(chunk_ids)), stored)
    (segment,) = segments(tmp_path / "sentences")
    assert sorted(p.name for p in (tmp_path / "sentences").iterdir()) == sorted(
        ["chunks.sqlite", "manifest.json", *segment_files(segment)]
    ), "nothing of the earlier write into the folder is left"


@pytest.mark.parametrize(
    "damage", ["no manifest", "short vectors", "cut vectors", "no chunk table"]
)
def test_folder_not_written_in_full_does_not_open(
    service: ReviewService, tmp_path: Path, damage: str
) -> None:
    chunk_ids = index(service, SEEDS)
    folder = tmp_path / "sentences"
    write_full(service, folder, chunk_ids).close()
    (segment,) = segments(folder)
    if damage == "no manifest":
        (folder / "manifest.json").unlink()
    elif damage == "short vectors":
        vectors = numpy.load(folder / f"{segment}.vectors.npy")
        numpy.save(folder / f"{segment}.vectors.npy", vectors[:-1])
    elif damage == "cut vectors":
        with (folder / f"{segment}.vectors.npy").open("rb+") as file:
            file.truncate(file.seek(0, 2) - 100)
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


def test_delta_write_fills_in_chunks_the_previous_snapshot_lacks(
    service: ReviewService, tmp_path: Path
) -> None:
    chunk_ids = index(service, SEEDS)
    lacking = sorted(chunk_ids)[0]
    older = write_full(service, tmp_path / "older", chunk_ids - {lacking})
    assert lacking not in older.of_chunks([lacking])

    filled = write_delta(service, tmp_path / "filled", tmp_path / "older", chunk_ids, chunk_ids)

    assert_delta_equals_full(service, filled, tmp_path / "full", chunk_ids)
