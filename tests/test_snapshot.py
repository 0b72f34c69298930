"""A generation's snapshot answers as the store it was written from, and is published whole."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.engine.reading import read_question
from bot.service import ReviewService
from bot.settings import Settings
from index.indexing import index_reviews
from index.keyword import KeywordIndex, tokenize
from index.snapshot import Snapshot, snapshot_root, write_snapshot
from index.store import ReviewStore, StoredChunk, connect
from tests.conftest import EXAMPLES, RememberingEmbedder

FILES = [
    "nachtfalter-2019-filmblatt.txt",
    "nachtfalter-2019-kinozeit.md",
    "nachtfalter-2024-night-reel.md",
    "kaltfront-2020-krimiwelt-bom.txt",
    "glass-orchard-2024.md",
    "salt-and-static-2023.txt",
]
CHANGED = "nachtfalter-2019-kinozeit.md"
REMOVED = "kaltfront-2020-krimiwelt-bom.txt"
ADDED = "the-quiet-cartographer-2020.txt"
QUERIES = ["Nachtfalter Kamera", "Krimi Kommissar", "the orchard", "Musik und Schnitt", "static"]


@dataclass
class Indexed:
    store: ReviewStore
    reviews: Path
    data: Path


def _index(folder: Path, data: Path, embedder: RememberingEmbedder) -> ReviewStore:
    store = ReviewStore(connect(data_dir=data), collection="reviews", embedder_name=embedder.name)
    index_reviews([folder], store=store, embedder=embedder)
    return store


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, embedder: RememberingEmbedder) -> Indexed:
    """A few example reviews indexed into a store of their own (shared, read only)."""
    base = tmp_path_factory.mktemp("snapshot")
    reviews = base / "reviews"
    reviews.mkdir()
    for name in FILES:
        shutil.copy(EXAMPLES / name, reviews / name)
    data = base / "data"
    return Indexed(_index(reviews, data, embedder), reviews, data)


@pytest.fixture(scope="module")
def snapshot(indexed: Indexed) -> Snapshot:
    root = snapshot_root(indexed.data, "reviews")
    write_snapshot(indexed.store, root, "first")
    opened = Snapshot.open(root, "first")
    assert opened is not None
    return opened


def _by_work(chunks: list[StoredChunk]) -> dict[str, list[StoredChunk]]:
    works: dict[str, list[StoredChunk]] = {}
    for chunk in sorted(chunks, key=lambda c: (c.review_id, int(c.metadata["chunk_index"]))):
        if "work_id" in chunk.metadata:
            works.setdefault(str(chunk.metadata["work_id"]), []).append(chunk)
    return works


def _keyword_hits(keyword: KeywordIndex) -> dict[str, dict[str, float]]:
    return {
        q: {chunk_id: round(score, 5) for chunk_id, score in keyword.search(q, k=50)}
        for q in QUERIES
    }


def test_snapshot_holds_every_chunk_as_the_store_does(indexed: Indexed, snapshot: Snapshot) -> None:
    stored = indexed.store.chunks()
    assert len(stored) > len(FILES)
    assert len(snapshot.chunks) == len(stored)
    for chunk in stored:
        assert chunk.chunk_id in snapshot.chunks
        assert snapshot.chunks[chunk.chunk_id] == chunk
    assert "no-such-chunk" not in snapshot.chunks
    assert snapshot.chunks.get("no-such-chunk") is None
    with pytest.raises(KeyError):
        snapshot.chunks["no-such-chunk"]
    assert sorted(snapshot.chunks) == sorted(c.chunk_id for c in stored)


def test_chunks_of_works_are_the_works_chunks_in_review_order(
    indexed: Indexed, snapshot: Snapshot
) -> None:
    works = _by_work(indexed.store.chunks())
    assert any(len({c.review_id for c in chunks}) > 1 for chunks in works.values())
    for work_id, chunks in works.items():
        assert snapshot.chunks_of_works([work_id]) == chunks
    two = sorted(works)[:2]
    both = snapshot.chunks_of_works(two)
    assert sorted(c.chunk_id for c in both) == sorted(c.chunk_id for w in two for c in works[w])
    assert snapshot.chunks_of_works(["no-such-work"]) == []


def test_reviews_are_the_stores_reviews(indexed: Indexed, snapshot: Snapshot) -> None:
    reviews = indexed.store.reviews()
    assert snapshot.reviews() == reviews
    work_id = next(r.work.work_id for r in reviews if r.work)
    assert snapshot.reviews_of([work_id]) == [
        r for r in reviews if r.work and r.work.work_id == work_id
    ]


def test_vocabulary_counts_as_work_vocabulary_does(indexed: Indexed, snapshot: Snapshot) -> None:
    expected = work_vocabulary(indexed.store.chunks())
    for work_id, counts in expected.items():
        terms = [*counts, "zzzunknownterm"]
        assert snapshot.vocabulary([work_id], terms) == {work_id: counts}


def test_keyword_search_finds_what_a_fresh_index_finds(
    indexed: Indexed, snapshot: Snapshot
) -> None:
    fresh = KeywordIndex.build(indexed.store.chunks())
    hits = _keyword_hits(snapshot.keyword)
    assert any(hits.values())
    assert hits == _keyword_hits(fresh)
    for chunk_id in fresh.chunk_ids:
        position = snapshot.keyword.position(chunk_id)
        assert position is not None
        assert snapshot.keyword.chunk_ids[position] == chunk_id


def test_keyword_mask_keeps_the_named_works(indexed: Indexed, snapshot: Snapshot) -> None:
    works = _by_work(indexed.store.chunks())
    work_id = next(w for w, chunks in works.items() if len(chunks) > 1)
    mask = snapshot.keyword_mask([work_id])
    hits = snapshot.keyword.search("Film", k=50, mask=mask)
    own = {c.chunk_id for c in works[work_id]}
    assert hits
    assert {chunk_id for chunk_id, _ in hits} <= own


def test_the_catalogue_knows_the_snapshots_works(indexed: Indexed, snapshot: Snapshot) -> None:
    reviews = indexed.store.reviews()
    assert snapshot.catalog.review_count == len(reviews)
    assert set(snapshot.catalog.works) == {r.work.work_id for r in reviews if r.work}
    work_id = next(r.work.work_id for r in reviews if r.work)
    assert snapshot.catalog.reviews_of([work_id]) == snapshot.reviews_of([work_id])


def _scores(snapshot: Snapshot, vector: list[float]) -> dict[str, list[tuple[str, float]]]:
    """Each work's chunks ranked by similarity to ``vector`` from the snapshot's vectors."""
    work_ids = sorted({r.work.work_id for r in snapshot.reviews() if r.work})
    return {
        w: snapshot.similarity(vector, [c.chunk_id for c in snapshot.chunks_of_works([w])])
        for w in work_ids
    }


def _store_scores(
    store: ReviewStore, snapshot: Snapshot, vector: list[float]
) -> dict[str, list[tuple[str, float]]]:
    return {
        w: store.similarity(vector, [c.chunk_id for c in snapshot.chunks_of_works([w])])
        for w in _scores(snapshot, vector)
    }


def test_a_works_chunks_score_as_the_store_scores_them(
    indexed: Indexed, snapshot: Snapshot, embedder: RememberingEmbedder
) -> None:
    vector = embedder.embed_query("Wie ist die Kamera?")
    scores = _scores(snapshot, vector)
    assert scores and all(scores.values())
    assert scores == _store_scores(indexed.store, snapshot, vector)


def test_missing_and_half_written_generations_do_not_open(indexed: Indexed, tmp_path: Path) -> None:
    root = tmp_path / "snapshots"
    assert Snapshot.open(root, "never-written") is None
    written = write_snapshot(indexed.store, root, "crashed")
    # A run that crashed before its rename leaves a .partial folder behind.
    written.rename(root / "crashed.partial")
    assert Snapshot.open(root, "crashed") is None
    assert Snapshot.open(root, "crashed.partial") is None

    write_snapshot(indexed.store, root, "next")
    assert not (root / "crashed.partial").exists()
    opened = Snapshot.open(root, "next")
    assert opened is not None
    opened.close()


def test_old_generations_go_but_the_newest_two_stay(indexed: Indexed, tmp_path: Path) -> None:
    root = tmp_path / "snapshots"
    for generation in ("one", "two", "three"):
        write_snapshot(indexed.store, root, generation)
    assert Snapshot.open(root, "one") is None
    for generation in ("two", "three"):
        opened = Snapshot.open(root, generation)
        assert opened is not None
        opened.close()
    assert sorted(p.name for p in root.iterdir()) == ["three", "two"]


def _state(snapshot: Snapshot) -> dict[str, Any]:
    """Everything a question reads from a snapshot, in comparable form."""
    chunk_ids = sorted(snapshot.chunks)
    reviews = snapshot.reviews()
    work_ids = sorted({r.work.work_id for r in reviews if r.work})
    terms = sorted({t for c in snapshot.chunks.values() for t in c.text.lower().split()})
    sentences = snapshot.sentences.of_chunks(chunk_ids)
    return {
        "chunks": {c: snapshot.chunks[c] for c in chunk_ids},
        "reviews": reviews,
        "works": {w: snapshot.chunks_of_works([w]) for w in work_ids},
        "vocabulary": snapshot.vocabulary(work_ids, list(work_vocabulary_terms(snapshot))),
        "keyword": _keyword_hits(snapshot.keyword),
        "terms": snapshot.keyword.document_frequency(terms),
        "sentences": {
            c: [(s.start, s.end, s.polarity, s.vector.tolist()) for s in found]
            for c, found in sorted(sentences.items())
        },
        "catalog": (snapshot.catalog.review_count, sorted(snapshot.catalog.works)),
        "masked": {w: _masked(snapshot, w) for w in work_ids},
    }


def _masked(snapshot: Snapshot, work_id: str) -> list[str]:
    """The chunks a keyword search restricted to ``work_id`` may find."""
    mask = snapshot.keyword_mask([work_id])
    return sorted(snapshot.keyword.chunk_ids[int(i)] for i in mask.nonzero()[0])


def work_vocabulary_terms(snapshot: Snapshot) -> set[str]:
    return {t for counts in work_vocabulary(snapshot.chunks.values()).values() for t in counts}


def test_a_delta_snapshot_equals_a_full_rebuild(
    indexed: Indexed, tmp_path: Path, embedder: RememberingEmbedder
) -> None:
    reviews = tmp_path / "reviews"
    shutil.copytree(indexed.reviews, reviews)
    data = tmp_path / "data"
    store = _index(reviews, data, embedder)
    root = snapshot_root(data, "reviews")
    write_snapshot(store, root, "before")
    before = {c.chunk_id: c for c in store.chunks()}

    changed_file = reviews / CHANGED
    text = changed_file.read_text(encoding="utf-8")
    changed_file.write_text(text + "\nNachtrag: Die Musik trägt den Film.\n", encoding="utf-8")
    (reviews / REMOVED).unlink()
    shutil.copy(EXAMPLES / ADDED, reviews / ADDED)
    index_reviews([reviews], store=store, embedder=embedder)
    after = {c.chunk_id: c for c in store.chunks()}
    changed = [c for c, chunk in after.items() if before.get(c) != chunk]
    removed = [c for c in before if c not in after]
    assert changed and removed

    write_snapshot(store, root, "delta", previous="before", changed=changed, removed=removed)
    write_snapshot(store, tmp_path / "full", "full")
    delta = Snapshot.open(root, "delta")
    full = Snapshot.open(tmp_path / "full", "full")
    assert delta is not None and full is not None
    delta_state, full_state = _state(delta), _state(full)
    assert delta_state == full_state
    assert delta_state["chunks"] == after
    vector = embedder.embed_query("Musik und Schnitt")
    assert _scores(delta, vector) == _scores(full, vector)
    assert _scores(delta, vector) == _store_scores(store, delta, vector)
    assert delta_state["masked"] == {
        w: sorted(c.chunk_id for c in delta.chunks_of_works([w])) for w in delta_state["masked"]
    }
    assert delta.vocabulary(
        sorted(work_vocabulary(after.values())), sorted(work_vocabulary_terms(full))
    ) == _with_every_work(work_vocabulary(after.values()))
    # The delta's old generation is still readable, as a bot may be answering from it.
    previous = Snapshot.open(root, "before")
    assert previous is not None
    assert dict(previous.chunks.items()) == before


def _with_every_work(vocabulary: dict[str, Counter[str]]) -> dict[str, Counter[str]]:
    return {w: vocabulary[w] for w in sorted(vocabulary)}


def test_threads_share_one_open_snapshot(indexed: Indexed, snapshot: Snapshot) -> None:
    from concurrent.futures import ThreadPoolExecutor

    stored = indexed.store.chunks()

    def read(chunk: StoredChunk) -> bool:
        work_id = str(chunk.metadata.get("work_id", ""))
        return snapshot.chunks[chunk.chunk_id] == chunk and (
            not work_id or chunk in snapshot.chunks_of_works([work_id])
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(pool.map(read, stored * 5))


def work_vocabulary(chunks: Iterable[StoredChunk]) -> dict[str, Counter[str]]:
    """The snapshot's vocabulary computed afresh: per work, how many of its chunks hold
    each stem (German and English stems alike)."""
    vocabulary: dict[str, Counter[str]] = {}
    for chunk in chunks:
        counts = vocabulary.setdefault(str(chunk.metadata.get("work_id", "")), Counter())
        for language in ("de", "en"):
            counts.update(set(tokenize(chunk.text, language=language)))
    return vocabulary


def test_a_snapshot_a_bot_writes_finds_titles_across_languages(
    tmp_path: Path, embedder: RememberingEmbedder
) -> None:
    reviews = tmp_path / "reviews"
    reviews.mkdir()
    (reviews / "tuerme.txt").write_text(
        "Titel: Der Herr der Ringe - Die zwei Türme\n\nHelms Klamm raubt den Atem.",
        encoding="utf-8",
    )
    dictionary = tmp_path / "de-en"
    dictionary.write_text("zwei :: two\nTurm {m} | Türme {pl} :: tower | towers\n", "utf-8")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        dictionary=dictionary,
        cache_dir=tmp_path / "cache",
    )
    ReviewService(settings, embedder=embedder).index([reviews])
    shutil.rmtree(snapshot_root(settings.data_dir, settings.collection))  # an older index

    catalog = ReviewService(settings, embedder=embedder).view().catalog
    question = read_question("Which battle in The Two Towers is breathtaking?", catalog)

    assert [w.title for w in question.works] == ["Der Herr der Ringe - Die zwei Türme"]
