"""Adding one review file from anywhere: safe names, never overwriting, checked, indexed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.uploads import (
    MAX_UPLOAD_BYTES,
    Added,
    add_review_file,
    safe_file_name,
    save_upload,
)
from index.errors import ReviewFileError
from tests.conftest import RememberingEmbedder, run_cli
from tests.telegram_fixtures import indexed_service

NEBELWAL = """Titel: Der Nebelwal
Jahr: 2024
Regie: Petra Quendt

Der Nebelwal erzählt von einem Leuchtturmwärter auf Amrum, der im Nebel einen sprechenden Wal
findet. Gedreht wurde der ganze Film in nur elf Nächten auf einem Fischkutter.
"""


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("kritik.txt", "kritik.txt"),
        ("../../etc/cron.d/evil.md", "evil.md"),
        ("..\\..\\Windows\\x.CSV", "x.csv"),
        (".hidden.json", "hidden.json"),
        ("Größe & Gefühl.html", "Größe_Gefühl.html"),
        ("...md", None),
        ("__.md", "review.md"),
        ("a.sh", None),
        ("noext", None),
        ("x.txt.exe", None),
    ],
)
def test_safe_file_name(name: str, safe: str | None) -> None:
    assert safe_file_name(name) == safe


def test_save_upload_never_overwrites(tmp_path: Path) -> None:
    folder = tmp_path / "reviews"
    upload = tmp_path / "in" / "k.txt"
    upload.parent.mkdir()
    upload.write_text("eins", encoding="utf-8")
    assert save_upload(upload, folder) == folder / "k.txt"
    assert save_upload(upload, folder) is None  # same bytes: nothing to do
    upload.write_text("zwei", encoding="utf-8")
    assert save_upload(upload, folder) == folder / "k-2.txt"
    assert (folder / "k.txt").read_text(encoding="utf-8") == "eins"
    assert sorted(p.name for p in folder.iterdir()) == ["k-2.txt", "k.txt"]  # no temp files


def test_a_file_is_added_once_under_a_safe_name_and_indexed(
    tmp_path: Path, embedder: RememberingEmbedder
) -> None:
    service = indexed_service(tmp_path, embedder)
    file = tmp_path / "Der Nebelwal (Kritik).md"
    file.write_text(NEBELWAL, encoding="utf-8")
    added = add_review_file(service, file)
    again = add_review_file(service, file)
    assert (added.outcome, added.name) == (Added.SAVED, "Der_Nebelwal_Kritik.md")
    assert added.report is not None and added.report.added == ["reviews/Der_Nebelwal_Kritik.md"]
    assert (tmp_path / "reviews" / "Der_Nebelwal_Kritik.md").read_text(encoding="utf-8") == NEBELWAL
    assert again.outcome == Added.SAME  # the same name and bytes: nothing new
    assert "Der Nebelwal" in {r.work.title for r in service.reviews() if r.work}


def test_files_that_are_no_review_are_not_saved(
    tmp_path: Path, embedder: RememberingEmbedder
) -> None:
    service = indexed_service(tmp_path, embedder)
    before = sorted(p.name for p in (tmp_path / "reviews").iterdir())
    empty, script, big = tmp_path / "leer.json", tmp_path / "run.sh", tmp_path / "big.txt"
    empty.write_text("[]", encoding="utf-8")
    script.write_text("rm -rf /", encoding="utf-8")
    big.write_bytes(b"x" * (MAX_UPLOAD_BYTES + 1))
    unreadable = add_review_file(service, empty)
    assert unreadable.outcome == Added.UNREADABLE and unreadable.reasons
    assert add_review_file(service, script).outcome == Added.UNSUPPORTED
    assert add_review_file(service, big).outcome == Added.TOO_LARGE
    with pytest.raises(ReviewFileError, match=r"missing\.md"):
        add_review_file(service, tmp_path / "missing.md")
    assert sorted(p.name for p in (tmp_path / "reviews").iterdir()) == before


def test_a_file_is_not_added_to_an_emptied_folder(
    tmp_path: Path, embedder: RememberingEmbedder
) -> None:
    service = indexed_service(tmp_path, embedder)
    for review in (tmp_path / "reviews").iterdir():
        review.unlink()  # as an unmounted share looks
    file = tmp_path / "nebelwal.md"
    file.write_text(NEBELWAL, encoding="utf-8")
    assert add_review_file(service, file).outcome == Added.SOURCE_EMPTY
    assert list((tmp_path / "reviews").iterdir()) == []
    assert len(service.reviews()) == 3


def test_reviewbot_add_adds_a_file_and_says_which_ones_it_did_not(
    tmp_path: Path, embedder: RememberingEmbedder, capsys: pytest.CaptureFixture[str]
) -> None:
    service = indexed_service(tmp_path, embedder)
    file, script = tmp_path / "Der Nebelwal.md", tmp_path / "run.sh"
    file.write_text(NEBELWAL, encoding="utf-8")
    script.write_text("rm -rf /", encoding="utf-8")
    result = run_cli(["add", str(file), str(script), str(tmp_path / "fehlt.md")], service, capsys)
    assert result.exit_code == 3  # some files were not added
    assert f"added {file} as Der_Nebelwal.md" in result.out
    assert "1 added" in result.out
    assert f"not added: {script} is not a review file" in result.err
    assert "fehlt.md" in result.err
    assert "Der Nebelwal" in {r.work.title for r in service.reviews() if r.work}
    again = run_cli(["add", str(file)], service, capsys)
    assert again.exit_code == 0 and "already, as Der_Nebelwal.md" in again.out
    assert sorted(p.name for p in (tmp_path / "reviews").iterdir()).count("Der_Nebelwal.md") == 1
