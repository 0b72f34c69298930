"""Finding review files: which files under the given paths are reviews, and in what format.

Folders are walked recursively in a stable order, hidden files and folders skipped; a
folder that cannot be listed is reported, not raised, so that the reviews indexed from it
before are kept. Names that are not UTF-8 or hold control characters are shown with those
bytes as ``\\xNN`` (:func:`path_text`), the same on every run.
"""

from __future__ import annotations

import filecmp
import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from index.errors import ReviewFileError
from index.records import FileLoad, LoadFailure

FORMAT_BY_SUFFIX = {
    ".txt": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".json": "json",
    ".jsonl": "jsonl",
    ".csv": "csv",
}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(FORMAT_BY_SUFFIX)
# Review files beside one looked at, at most, for one that is the same in a folder's copy.
_COPY_EVIDENCE = 20


@dataclass(frozen=True)
class ReviewFiles:
    """What a walk over the review paths found.

    ``files`` are (file, root) pairs; ``unlistable`` holds one FileLoad per folder that
    could not be listed, so that the reviews indexed from it before are kept.
    """

    files: list[tuple[Path, Path]]
    unlistable: list[FileLoad]


def find_review_files(paths: Sequence[Path]) -> list[tuple[Path, Path]]:
    """(file, root) pairs: every supported file under each path (recursively, sorted, hidden
    files and folders skipped); a path that is a file is its own entry with root = its parent.

    Paths come back absolute. A path that does not exist raises ReviewFileError.
    """
    return scan_review_files(paths).files


def scan_review_files(paths: Sequence[Path]) -> ReviewFiles:
    """Like :func:`find_review_files`, also naming the folders that could not be listed."""
    found: dict[tuple[Path, Path], None] = {}
    unlistable: list[FileLoad] = []
    for given in paths:
        path = absolute_path(given)
        if not os.path.lexists(path):
            raise ReviewFileError(f"{path_text(given)}: no such file or folder")
        if path.is_dir():
            below = _files_below(path, unlistable)
            found.update(dict.fromkeys((file, path) for file in below))
        else:
            found[(path, path.parent)] = None
    return ReviewFiles(files=list(found), unlistable=unlistable)


def path_text(path: Path | str) -> str:
    """``path`` as valid, printable text, the same on every run: bytes that are not UTF-8
    and control characters (a newline, a terminal escape) appear as ``\\xNN``.

    Ordinary names come back unchanged (``str(path)``).
    """
    text = str(path)
    if text.isprintable():
        return text
    return "".join(_printable(char) for char in text)


def _printable(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if unicodedata.category(char) in ("Cc", "Cs"):
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return char


def absolute_path(path: Path) -> Path:
    """``path`` made absolute without resolving links."""
    # abspath, not resolve: a symlinked review folder keeps its own name in review ids.
    return Path(os.path.abspath(path))


def refuse_external_link(path: Path, *, root: Path) -> None:
    """Raise ReviewFileError if ``path`` is a link that leads out of ``root``."""
    target = os.path.realpath(path)
    if not is_under(target, os.path.realpath(root)):
        raise ReviewFileError(
            f"not read: it links to {target}, outside {root} "
            "(following links out of the reviews folder is off)"
        )


def is_under(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or inside it (both absolute and normalised)."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def in_copies_of_one_folder(one: str, other: str) -> bool:
    """Whether two files at the same place in same-named folders are in copies of one
    folder (a folder copied or moved with its index): they hold the same bytes, or one of
    the review files beside ``one`` holds the bytes of its namesake beside ``other``, as
    when one review of a copied folder changed. Two folders that only share a name have
    different reviews at the same places."""
    if _same_bytes(one, other):
        return True
    here, there = Path(one).parent, Path(other).parent
    try:
        with os.scandir(here) as entries:
            beside = (e.name for e in entries if _is_review_name(e.name) and e.path != one)
            # The first few only: a folder copied has all of them the same.
            return any(
                _same_bytes(str(here / name), str(there / name))
                for name in islice(beside, _COPY_EVIDENCE)
            )
    except OSError:
        return False


def _same_bytes(one: str, other: str) -> bool:
    """Whether two regular files hold the same bytes (False when either cannot be read)."""
    try:
        return filecmp.cmp(one, other, shallow=False)
    except OSError:
        return False


def _files_below(folder: Path, unlistable: list[FileLoad]) -> list[Path]:
    files: list[Path] = []

    def report(error: OSError) -> None:
        where = str(error.filename or folder)
        failure = LoadFailure(path_text(where), f"cannot list folder: {error.strerror or error}")
        unlistable.append(
            FileLoad(
                path=failure.path,
                records=[],
                failures=[failure],
                source_path=path_text(os.path.realpath(where)),
            )
        )

    for parent, folders, names in os.walk(folder, onerror=report):
        folders[:] = [name for name in folders if not name.startswith(".")]
        files.extend(Path(parent, name) for name in names if _is_review_name(name))
    return sorted(files, key=lambda file: file.relative_to(folder).parts)


def _is_review_name(name: str) -> bool:
    return not name.startswith(".") and Path(name).suffix.lower() in SUPPORTED_SUFFIXES
