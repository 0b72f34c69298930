"""A re-index killed at any moment, then run again, gives the index an uninterrupted run gives."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.service import ReviewService
from bot.settings import Settings
from tests.conftest import EXAMPLES, SEEDS, RememberingEmbedder
from tests.test_indexing import snapshot

# Kill the indexer when its log shows this line for the n-th time.
KILL_POINTS = [
    ("stored", 1),
    ("stored", 3),
    ("stored", 6),
    ("stored", 10),
    ("updating the metadata", 1),
    ("deleting", 1),
]


def make_corpora(tmp_path: Path) -> tuple[Path, Path]:
    """Version 1 of a corpus, and version 2 with edits, deletions and new files."""
    first = tmp_path / "v1" / "reviews"
    shutil.copytree(EXAMPLES, first)
    second = tmp_path / "v2" / "reviews"
    shutil.copytree(first, second)
    for name in ("salt-and-static-2023.txt", "glass-orchard-2024.md"):
        (second / name).unlink()
    for name in ("eisenherz-2019-kinozeit.md", "kaltfront-2020-krimiwelt-bom.txt"):
        path = second / name
        path.write_bytes(path.read_bytes() + b"\nNachtrag: ein zweiter Absatz.\n")
    for seed in SEEDS.iterdir():
        shutil.copy(seed, second / seed.name)
    return first, second


def switch_to(version: Path, folder: Path) -> Path:
    """Make ``folder`` hold exactly the files of ``version``; returns ``folder``."""
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(version, folder)
    return folder


def kill_indexer_at(corpus: Path, data_dir: Path, marker: str, occurrence: int) -> bool:
    """Start `reviewbot index` in its own process; SIGKILL it at the marker. True if killed."""
    env = {
        **os.environ,
        "REVIEWBOT_DATA_DIR": str(data_dir),
        "REVIEWBOT_EMBED_BATCH": "2",
    }
    with subprocess.Popen(
        [sys.executable, "-m", "bot", "-v", "index", str(corpus)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    ) as process:
        assert process.stderr is not None
        seen = 0
        for line in process.stderr:
            if marker in line:
                seen += 1
                if seen == occurrence:
                    process.send_signal(signal.SIGKILL)
                    process.wait()
                    return True
    return False


def test_killed_reindex_recovers_to_the_uninterrupted_result(
    tmp_path: Path, embedder: RememberingEmbedder
) -> None:
    first, second = make_corpora(tmp_path)

    def service(data: Path) -> ReviewService:
        settings = Settings(_env_file=None, data_dir=data)  # type: ignore[call-arg]
        return ReviewService(settings, embedder=embedder)

    # One reviews folder whose files change from version 1 to version 2.
    folder = tmp_path / "reviews"
    reference = service(tmp_path / "reference")
    reference.index([switch_to(first, folder)])
    reference.index([switch_to(second, folder)])
    expected = snapshot(reference.store)

    killed = 0
    for marker, occurrence in KILL_POINTS:
        data = tmp_path / f"killed-{marker.split()[0]}-{occurrence}"
        service(data).index([switch_to(first, folder)])
        switch_to(second, folder)
        killed += kill_indexer_at(folder, data, marker, occurrence)
        if occurrence == 3:
            # A second kill on top of the first, before recovery.
            kill_indexer_at(folder, data, "stored", 1)
        recovered = service(data)
        assert recovered.reviews(), "the interrupted index is still readable"
        report = recovered.index([folder])
        assert not report.failed
        assert snapshot(recovered.store) == expected, f"killed at {marker} #{occurrence}"
        assert recovered.index([folder]).changed is False
    assert killed == len(KILL_POINTS), "every kill point was reached"


@pytest.mark.parametrize("marker", ["stored"])
def test_killed_first_index_leaves_a_usable_store(
    tmp_path: Path, embedder: RememberingEmbedder, marker: str
) -> None:
    data = tmp_path / "data"
    assert kill_indexer_at(SEEDS, data, marker, 2)
    settings = Settings(_env_file=None, data_dir=data)  # type: ignore[call-arg]
    service = ReviewService(settings, embedder=embedder)
    partial = service.reviews()
    assert partial, "chunks stored before the kill are there"
    report = service.index([SEEDS])
    assert len(service.reviews()) == 3
    assert len(report.added) + len(report.updated) + len(report.unchanged) == 3
