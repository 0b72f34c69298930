"""Adding one review file to the reviews folder and the index, from a chat upload or a path.

The Telegram upload handler and ``reviewbot add`` call :func:`add_review_file` and only
word its result: the file is checked (type, size, a review that can be read), saved under a
safe name without overwriting anything, and the folder re-indexed.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from index.errors import EmptySourceError, IndexLockedError, ReviewbotError, ReviewFileError
from index.files import SUPPORTED_SUFFIXES, scan_review_files
from index.indexing import IndexReport
from index.loading import load_file

if TYPE_CHECKING:
    from bot.service import ReviewService

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
SUPPORTED_TYPES = ", ".join(sorted(s.removeprefix(".") for s in SUPPORTED_SUFFIXES))
"""The review file types, as a user reads them: ``csv, htm, html, …``."""


class Added(StrEnum):
    """How adding a file ended."""

    SAVED = "saved"
    """Saved and indexed: ``AddResult.report`` says what the index run changed."""
    SAME = "same"
    """A file with the same bytes is in the folder already; nothing changed."""
    NOT_INDEXED = "not_indexed"
    """Saved, but another index run holds the index: the next run picks it up."""
    UNSUPPORTED = "unsupported"
    TOO_LARGE = "too_large"
    UNREADABLE = "unreadable"
    """No review could be read from it (``AddResult.reasons`` says why); nothing saved."""
    SOURCE_EMPTY = "source_empty"
    """The folder holds no review files (an unmounted share?): adding one would remove every
    other review from the index, so nothing was saved."""
    LOCKED = "locked"
    """Another index run holds the index and the folder had to be checked first; nothing saved."""


@dataclass(frozen=True)
class AddResult:
    """What :func:`add_review_file` did with one file."""

    outcome: Added
    name: str
    """The file name in the reviews folder (the safe name; the original if it had none)."""
    saved: Path | None = None
    report: IndexReport | None = None
    reasons: list[str] = field(default_factory=list)


def safe_file_name(name: str) -> str | None:
    """A plain file name for an upload (no folders, no hidden files, tame characters), or
    None if its type is not a review format."""
    base = unicodedata.normalize("NFKC", name).replace("\\", "/").rsplit("/", 1)[-1]
    stem, suffix = os.path.splitext(base)
    suffix = suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        return None
    stem = re.sub(r"[^\w.-]+", "_", stem).strip("._-")[:80] or "review"
    return f"{stem}{suffix}"


def save_upload(path: Path, folder: Path) -> Path | None:
    """Copy ``path`` into ``folder`` under its name, or ``name-2`` … if another file has it;
    None if a file there has the same bytes already. Never overwrites."""
    data = path.read_bytes()
    digest = hashlib.sha256(data).digest()
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(1, 1000):
        suffix = f"-{number}" if number > 1 else ""
        target = folder / f"{path.stem}{suffix}{path.suffix}"
        if target.exists():
            if target.is_file() and hashlib.sha256(target.read_bytes()).digest() == digest:
                return None
            continue
        # Write a hidden file (indexers skip those), then link it to the name: the link fails
        # if the name was taken meanwhile, and a watcher never sees a half-written file.
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".upload-", delete=False) as temp:
            temp.write(data)
        try:
            os.link(temp.name, target)
        except FileExistsError:
            continue
        finally:
            os.unlink(temp.name)
        return target
    raise ReviewbotError(f"too many files named like {path.name}")


def add_review_file(
    service: ReviewService, path: Path, *, name: str | None = None, allow_empty: bool = False
) -> AddResult:
    """Check the review file at ``path``, save it into the reviews folder as ``name`` (made
    safe; default: the file's own name) and index the folder.

    Blocking. Never overwrites a file; refuses to add to an emptied folder unless
    ``allow_empty`` (that run would remove every other review). Raises ReviewFileError if
    ``path`` is not a readable file.
    """
    safe = safe_file_name(name or path.name)
    if safe is None:
        return AddResult(Added.UNSUPPORTED, name or path.name)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise ReviewFileError(f"cannot read {path}: {error.strerror or error}") from error
    if not path.is_file():
        raise ReviewFileError(f"{path} is not a file")
    if size > MAX_UPLOAD_BYTES:
        return AddResult(Added.TOO_LARGE, safe)
    with tempfile.TemporaryDirectory(prefix="reviewbot-add-") as folder:
        checked = Path(folder) / safe
        shutil.copyfile(path, checked)
        loaded = load_file(
            checked,
            root=Path(folder),
            columns=service.settings.csv_columns or None,
            max_bytes=MAX_UPLOAD_BYTES,
        )
        if not loaded.records:
            reasons = list(dict.fromkeys(f.reason for f in loaded.failures))
            return AddResult(Added.UNREADABLE, safe, reasons=reasons)
        return _save_and_index(service, checked, allow_empty=allow_empty)


def _save_and_index(service: ReviewService, checked: Path, *, allow_empty: bool) -> AddResult:
    folder = service.settings.reviews_dir
    if folder.is_dir() and not allow_empty and not scan_review_files([folder]).files:
        # Let the indexer refuse an emptied folder before a new file makes it look filled.
        try:
            service.index()
        except EmptySourceError:
            return AddResult(Added.SOURCE_EMPTY, checked.name)
        except IndexLockedError:
            return AddResult(Added.LOCKED, checked.name)
    saved = save_upload(checked, folder)
    if saved is None:
        return AddResult(Added.SAME, checked.name)
    try:
        report = service.index(allow_empty=allow_empty)
    except IndexLockedError:
        return AddResult(Added.NOT_INDEXED, saved.name, saved=saved)
    return AddResult(Added.SAVED, saved.name, saved=saved, report=report)
