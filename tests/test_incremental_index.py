"""Re-indexing with file records: only the files that changed are read again."""

from __future__ import annotations

import json
import os
import shutil
import weakref
from pathlib import Path

import pytest

from bot.service import ReviewService
from bot.settings import Settings
from index.embedding import ReviewEmbedder
from index.errors import EmbedderMismatchError
from index.indexing import IndexReport, index_reviews
from index.snapshot import Snapshot, published_generation, record_published
from index.store import EMBEDDED, ReviewStore, store_location
from tests.conftest import SEEDS, RememberingEmbedder

HEADERLESS = "seeds/000_20005b48146ddf91.txt"
NETFLIX = "seeds/001_404a93345931fd65.txt"
WICK = "seeds/002_8bc465d4c9f8ae35.txt"
ALL = sorted([HEADERLESS, NETFLIX, WICK])


def index(
    service: ReviewService,
    folder: Path,
    records: Path | None,
    *,
    snapshots: Path | None = None,
    rebuild: bool = False,
) -> IndexReport:
    return index_reviews(
        [folder],
        store=service.store,
        embedder=service.embedder,
        records=records,
        snapshots=snapshots,
        rebuild=rebuild,
    )


def garble_keeping_size_and_mtime(path: Path) -> None:
    """Bytes that cannot be read as a review, with the file's size and mtime as before:
    a run that reads the file reports it failed."""
    before = path.stat()
    path.write_bytes(b"\x00" * before.st_size)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def contents(store: ReviewStore) -> dict[str, tuple[str, str]]:
    return {c.chunk_id: (c.text, json.dumps(c.metadata, sort_keys=True)) for c in store.chunks()}


def file_of(folder: Path, review_id: str) -> Path:
    return folder / review_id.split("/")[1]


def test_a_run_over_unchanged_files_reads_none_and_publishes_nothing(
    service: ReviewService, seeds_copy: Path, tmp_path: Path
) -> None:
    records = tmp_path / "files.sqlite"
    first = index(service, seeds_copy, records)
    generation = service.store.state["generation"]
    before = contents(service.store)
    for review_id in ALL:
        garble_keeping_size_and_mtime(file_of(seeds_copy, review_id))

    second = index(service, seeds_copy, records)

    assert sorted(first.added) == ALL
    assert sorted(second.unchanged) == ALL
    assert (second.added, second.updated, second.removed, second.failed) == ([], [], [], [])
    assert second.chunks_total == len(before)
    assert service.store.state["generation"] == generation
    assert contents(service.store) == before


def test_a_touched_file_with_the_same_bytes_stays_unchanged(
    service: ReviewService, seeds_copy: Path, tmp_path: Path
) -> None:
    records = tmp_path / "files.sqlite"
    index(service, seeds_copy, records)
    generation = service.store.state["generation"]
    wick = file_of(seeds_copy, WICK)
    later = wick.stat().st_mtime_ns + 5_000_000_000
    os.utime(wick, ns=(later, later))

    touched = index(service, seeds_copy, records)
    garble_keeping_size_and_mtime(wick)  # its new mtime is recorded: it is not read again
    again = index(service, seeds_copy, records)

    for report in (touched, again):
        assert sorted(report.unchanged) == ALL
        assert not report.failed and not report.updated
    assert service.store.state["generation"] == generation


def test_only_the_changed_file_is_read(
    service: ReviewService, seeds_copy: Path, tmp_path: Path
) -> None:
    records = tmp_path / "files.sqlite"
    index(service, seeds_copy, records)
    generation = service.store.state["generation"]
    for review_id in (HEADERLESS, NETFLIX):
        garble_keeping_size_and_mtime(file_of(seeds_copy, review_id))
    wick = file_of(seeds_copy, WICK)
    wick.write_text(
        wick.read_text(encoding="utf-8").replace(
            "Keanu Reeves als Gast", "Keanu Reeves als Überraschungsgast"
        ),
        encoding="utf-8",
    )

    report = index(service, seeds_copy, records)

    assert report.updated == [WICK]
    assert sorted(report.unchanged) == [HEADERLESS, NETFLIX]
    assert not report.failed and not report.kept and not report.removed
    assert service.store.state["generation"] != generation
    texts = [c.text for c in service.store.chunks() if c.review_id == WICK]
    assert any("Überraschungsgast" in t for t in texts)
    assert {r.review_id for r in service.reviews()} == set(ALL)
    assert [w.work.year for w in service.works()] == [2023, 2025]


def test_a_deleted_file_removes_its_reviews(
    service: ReviewService, seeds_copy: Path, tmp_path: Path
) -> None:
    records = tmp_path / "files.sqlite"
    index(service, seeds_copy, records)
    garble_keeping_size_and_mtime(file_of(seeds_copy, NETFLIX))
    file_of(seeds_copy, WICK).unlink()

    report = index(service, seeds_copy, records)

    assert report.removed == [WICK]
    assert sorted(report.unchanged) == [HEADERLESS, NETFLIX] and not report.failed
    assert {c.review_id for c in service.store.chunks()} == {HEADERLESS, NETFLIX}
    assert [w.work.year for w in service.works()] == [2023]


def test_a_new_review_of_a_carried_work_regroups_it(service: ReviewService, tmp_path: Path) -> None:
    records = tmp_path / "files.sqlite"
    folder = tmp_path / "reviews"
    folder.mkdir()
    (folder / "a.txt").write_text("Titel: Kaltfront\n\nEin dichter Krimi.", encoding="utf-8")
    index(service, folder, records)
    garble_keeping_size_and_mtime(folder / "a.txt")
    (folder / "b.txt").write_text(
        "Titel: Kaltfront\nJahr: 2020\n\nSpannend bis zum Ende.", encoding="utf-8"
    )

    report = index(service, folder, records)

    assert report.added == ["reviews/b.txt"] and report.unchanged == ["reviews/a.txt"]
    works = service.works()
    assert [(w.work.work_id, len(w.reviews)) for w in works] == [("kaltfront-2020", 2)]
    stored = {c.metadata["work_id"] for c in service.store.chunks()}
    assert stored == {"kaltfront-2020"}


def test_records_of_another_generation_are_not_trusted(
    service: ReviewService, seeds_copy: Path, tmp_path: Path
) -> None:
    records = tmp_path / "files.sqlite"
    index(service, seeds_copy, records)
    other = tmp_path / "other"
    other.mkdir()
    (other / "note.txt").write_text("Titel: Kaltfront\n\nSpannend.", encoding="utf-8")
    index(service, other, None, rebuild=True)  # another indexer rebuilds without records

    report = index(service, seeds_copy, records)

    assert sorted(report.added) == ALL
    reviews = {r.review_id for r in service.reviews()}
    assert reviews == {*ALL, "other/note.txt"}


def test_lost_records_lead_to_a_full_run(
    service: ReviewService, seeds_copy: Path, tmp_path: Path
) -> None:
    records = tmp_path / "files.sqlite"
    index(service, seeds_copy, records)
    records.unlink()  # as if a run died after writing the store, before its records
    file_of(seeds_copy, WICK).unlink()

    report = index(service, seeds_copy, records)
    garble_keeping_size_and_mtime(file_of(seeds_copy, NETFLIX))
    again = index(service, seeds_copy, records)

    assert report.removed == [WICK] and sorted(report.unchanged) == [HEADERLESS, NETFLIX]
    assert sorted(again.unchanged) == [HEADERLESS, NETFLIX] and not again.failed
    assert {c.review_id for c in service.store.chunks()} == {HEADERLESS, NETFLIX}


def test_a_failed_file_is_read_again_each_run(
    service: ReviewService, seeds_copy: Path, tmp_path: Path
) -> None:
    records = tmp_path / "files.sqlite"
    netflix = file_of(seeds_copy, NETFLIX)
    good = netflix.read_bytes()
    index(service, seeds_copy, records)
    netflix.write_bytes(b"\x00\xff" * 500)

    broken = index(service, seeds_copy, records)
    still = index(service, seeds_copy, records)
    netflix.write_bytes(good)
    fixed = index(service, seeds_copy, records)

    for report in (broken, still):
        assert report.kept == [NETFLIX] and [f.path for f in report.failed] == [str(netflix)]
    assert sorted(fixed.unchanged) == ALL and not fixed.failed
    assert {r.review_id for r in service.reviews()} == set(ALL)


def test_snapshots_are_written_for_changes_and_for_an_index_made_before_them(
    service: ReviewService, seeds_copy: Path, tmp_path: Path
) -> None:
    records = tmp_path / "files.sqlite"
    snapshots = tmp_path / "snapshots"
    index(service, seeds_copy, records)  # an index made before snapshots
    old = service.store.state["generation"]

    upgraded = index(service, seeds_copy, records, snapshots=snapshots)
    published = service.store.state["generation"]
    unchanged = index(service, seeds_copy, records, snapshots=snapshots)
    file_of(seeds_copy, WICK).unlink()
    changed = index(service, seeds_copy, records, snapshots=snapshots)

    assert sorted(upgraded.unchanged) == ALL and published != old
    assert (snapshots / published).is_dir()
    assert sorted(unchanged.unchanged) == ALL
    assert changed.removed == [WICK]
    latest = service.store.state["generation"]
    assert latest != published and (snapshots / latest).is_dir()


def test_the_seed_reviews_index_alike_with_and_without_records(
    service: ReviewService, seeds_copy: Path, tmp_path: Path
) -> None:
    index(service, seeds_copy, tmp_path / "files.sqlite")
    with_records = contents(service.store)
    index(service, seeds_copy, None, rebuild=True)
    assert contents(service.store) == with_records
    assert SEEDS.is_dir()


def test_a_snapshot_of_an_older_format_is_written_again(
    service: ReviewService, seeds_copy: Path
) -> None:
    service.index([seeds_copy])
    generation = str(service.store.state["generation"])
    manifest = service.snapshots / generation / "manifest.json"
    older = json.loads(manifest.read_text(encoding="utf-8"))
    older["format"] -= 1
    manifest.write_text(json.dumps(older), encoding="utf-8")
    assert Snapshot.open(service.snapshots, generation) is None

    report = service.index([seeds_copy])

    assert sorted(report.unchanged) == ALL
    latest = str(service.store.state["generation"])
    assert latest != generation
    assert Snapshot.open(service.snapshots, latest) is not None
    assert service.ask("Worum geht es in Ballerina?").status == "answered"


def test_a_bot_lets_a_replaced_generation_go_before_opening_the_next(
    service: ReviewService, seeds_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service.index([seeds_copy])
    assert service.ask("Worum geht es in Ballerina?").status == "answered"
    replaced = weakref.ref(service.view().snapshot)
    edited = file_of(seeds_copy, WICK)
    edited.write_text(edited.read_text(encoding="utf-8") + "\nEin Nachtrag.\n", encoding="utf-8")
    assert service.index([seeds_copy]).updated

    opened = Snapshot.open
    alive_while_opening: list[bool] = []

    def opening(root: Path, generation: str) -> Snapshot | None:
        alive_while_opening.append(replaced() is not None)
        return opened(root, generation)

    monkeypatch.setattr(Snapshot, "open", staticmethod(opening))
    assert service.ask("Worum geht es in Ballerina?").status == "answered"

    # Two generations' catalogues in memory at once would set the bot's peak.
    assert alive_while_opening == [False]
    assert service.view().snapshot.generation == service.store.state["generation"]


def test_bots_read_the_published_generation_beside_the_snapshots(
    service: ReviewService, seeds_copy: Path, embedder: RememberingEmbedder
) -> None:
    made_by = embedder.name
    service.index([seeds_copy])
    first = str(service.store.state["generation"])
    assert published_generation(service.snapshots, EMBEDDED, made_by) == first
    edited = file_of(seeds_copy, WICK)
    edited.write_text(edited.read_text(encoding="utf-8") + "\nEin Nachtrag.\n", encoding="utf-8")
    service.index([seeds_copy])
    second = str(service.store.state["generation"])
    assert second != first and published_generation(service.snapshots, EMBEDDED, made_by) == second
    # Named for the embedded store: a bot of a Chroma server asks its own store instead.
    server = store_location("http://chroma:8000")
    assert published_generation(service.snapshots, server, made_by) is None
    # Named for its embedder: a bot with another one asks the store, which refuses it.
    assert published_generation(service.snapshots, EMBEDDED, "openai:other") is None

    # A question about a named work is answered from the snapshot, without opening the store.
    bot = ReviewService(service.settings, embedder=embedder)
    assert bot.ask("Worum geht es in Ballerina?").status == "answered"
    assert bot.view().snapshot.generation == second
    assert "store" not in vars(bot)

    # A run cut short after the store published its generation: the next run names it.
    record_published(service.snapshots, first, EMBEDDED, made_by)
    assert sorted(service.index([seeds_copy]).unchanged) == ALL
    assert published_generation(service.snapshots, EMBEDDED, made_by) == second


class _OtherEmbedder(ReviewEmbedder):
    """Another embedder than the one the index was built with: other vectors, other size."""

    name = "openai:other-model"
    dimension = 8

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return [float(len(text) % (i + 2)) + 1.0 for i in range(self.dimension)]


@pytest.mark.parametrize(
    "question", ["Worum geht es in Ballerina?", "Wie ist das Wetter morgen in Hamburg?"]
)
def test_a_bot_with_another_embedder_is_told_to_rebuild(
    service: ReviewService, seeds_copy: Path, question: str
) -> None:
    service.index([seeds_copy])
    other = ReviewService(
        service.settings.model_copy(update={"embedder": "openai:other-model"}),
        embedder=_OtherEmbedder(),
    )
    with pytest.raises(EmbedderMismatchError, match="--rebuild"):
        other.ask(question)


def test_an_index_copied_with_its_reviews_folder_reads_the_copys_reviews(
    embedder: RememberingEmbedder, tmp_path: Path
) -> None:
    """A data folder that holds its reviews, copied (``cp -a``): the copy indexes its own
    reviews as the same reviews, a changed one updated, while the original stays."""
    first = tmp_path / "first"
    shutil.copytree(SEEDS, first / "seeds")
    ReviewService(_settings(first), embedder=embedder).index([first / "seeds"])
    second = tmp_path / "second"
    shutil.copytree(first, second, symlinks=True)
    changed = file_of(second / "seeds", WICK)
    changed.write_text(changed.read_text(encoding="utf-8") + "\nDer Abspann ist lang.\n", "utf-8")
    copy = ReviewService(_settings(second), embedder=embedder)

    report = copy.index([second / "seeds"])
    again = copy.index([second / "seeds"])

    assert not report.failed and report.updated == [WICK]
    assert sorted(report.unchanged) == [HEADERLESS, NETFLIX] and not report.added
    assert sorted(again.unchanged) == ALL and not again.changed and not again.failed
    sources = {r.review_id: r.source_path for r in copy.reviews()}
    assert sources == {r: str(file_of(second / "seeds", r)) for r in ALL}
    assert "Abspann" in " ".join(c.text for c in copy.store.chunks())


def _settings(data: Path) -> Settings:
    return Settings(_env_file=None, data_dir=data)  # type: ignore[call-arg]


@pytest.mark.parametrize("how", ["moved", "copied"])
def test_a_reviews_folder_at_a_new_place_keeps_its_reviews(
    service: ReviewService, tmp_path: Path, how: str
) -> None:
    """The same index, its reviews folder moved or copied elsewhere and one review changed:
    the same three reviews, one updated; nothing added twice, nothing lost."""
    old, new = tmp_path / "old" / "seeds", tmp_path / "new" / "seeds"
    shutil.copytree(SEEDS, old)
    service.index([old])
    new.parent.mkdir()
    if how == "moved":
        old.rename(new)
    else:
        shutil.copytree(old, new)
    changed = file_of(new, NETFLIX)
    changed.write_text(changed.read_text(encoding="utf-8") + "\nDer Abspann ist lang.\n", "utf-8")

    report = service.index([new])

    assert not report.failed and report.updated == [NETFLIX]
    assert sorted(report.unchanged) == [HEADERLESS, WICK] and not report.added
    assert sorted(r.review_id for r in service.reviews()) == ALL
