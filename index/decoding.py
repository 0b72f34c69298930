"""Reading a review file's bytes and turning them into text, whatever its encoding.

Only regular files up to a size limit are read. A byte order mark selects UTF-8, UTF-16
or UTF-32; otherwise the bytes are UTF-8, UTF-8 with a few invalid bytes repaired (and
the repair reported), or a legacy encoding that charset-normalizer recognises. Newlines
come out as ``\\n``. Every problem raises ReviewFileError with a one-line reason.
"""

from __future__ import annotations

import codecs
import os
import re
import stat
from pathlib import Path

from index.errors import ReviewFileError

# Indexing is bound by the embedder (~0.19 CPU-s per 800-character passage, ~1,340 passages a
# megabyte of prose): 8 MB hold the lock for about 40 minutes on one thread, and still take
# the largest real review exports at hand (6 MB, 4,000 DVD reviews). benchmarks/bench_bad_files.py
DEFAULT_MAX_FILE_BYTES = 8 * 1024 * 1024

# Short texts give charset-normalizer too little evidence to tell the Western code pages
# apart (it guesses cp1250, or even EBCDIC, for "Größe"); when cp1252 reads the bytes
# about as cleanly as its best guess, cp1252 is by far the likelier encoding.
_WESTERN_ENCODING = "cp1252"
_WESTERN_CHAOS_TOLERANCE = 0.15

# Bytes that were not UTF-8, as ``bytes.decode("utf-8", "surrogateescape")`` leaves them.
_ESCAPED_BYTES = re.compile("[\udc80-\udcff]+")
_VALID_NON_ASCII = re.compile("[\u0080-\ud7ff\ue000-\U0010ffff]+")
# A file is read as UTF-8 with repairs when its valid non-ASCII characters are at least
# this share of its invalid bytes; fewer means a legacy encoding with a few byte pairs
# that happen to be valid UTF-8 (cp1252 "ß…" is the UTF-8 of "߅").
_UTF8_EVIDENCE_SHARE = 0.25


def read_text(path: Path, *, max_bytes: int) -> tuple[str, str | None]:
    """The text of the file at ``path`` with ``\\n`` newlines, and what was repaired in
    decoding it (None when nothing was).

    Raises ReviewFileError for a file that is larger than ``max_bytes``, not a regular
    file, unreadable, or not text.
    """
    text, repair = _decode(_read_bytes(path, max_bytes=max_bytes))
    return unix_newlines(text), repair


def unix_newlines(text: str) -> str:
    """``text`` with Windows (``\\r\\n``) and old Mac (``\\r``) newlines as ``\\n``."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _read_bytes(path: Path, *, max_bytes: int) -> bytes:
    try:
        _refuse_size(_regular_file_size(path), max_bytes)
        with path.open("rb") as stream:
            data = stream.read(max_bytes + 1)
    except OSError as error:
        raise ReviewFileError(_unreadable_reason(path, error)) from error
    _refuse_size(len(data), max_bytes)
    return data


def _regular_file_size(path: Path) -> int:
    status = path.stat()
    if stat.S_ISDIR(status.st_mode):
        raise ReviewFileError("cannot read file: it is a folder")
    if not stat.S_ISREG(status.st_mode):
        raise ReviewFileError("cannot read file: it is not a regular file")
    return status.st_size


def _refuse_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise ReviewFileError(f"file too large: {_size(size)}, the limit is {_size(max_bytes)}")


def _size(size: int) -> str:
    megabyte = 1024 * 1024
    return f"{size / megabyte:.1f} MB" if size >= megabyte else f"{size} bytes"


def _unreadable_reason(path: Path, error: OSError) -> str:
    if isinstance(error, FileNotFoundError) and path.is_symlink():
        return f"cannot read file: it links to {os.readlink(path)}, which does not exist"
    return f"cannot read file: {error.strerror or error}"


def _decode(data: bytes) -> tuple[str, str | None]:
    """The text, and what was repaired (None when nothing was)."""
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return _decode_bom(data, "utf-32"), None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decode_bom(data, "utf-16"), None
    if b"\x00" in data:
        raise ReviewFileError("binary file, not text (it contains NUL bytes)")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    repaired = _decode_mostly_utf8(data)
    if repaired is not None:
        return repaired
    return _decode_legacy(data), None


def _decode_mostly_utf8(data: bytes) -> tuple[str, str] | None:
    """UTF-8 with each invalid span read as cp1252 (U+FFFD where cp1252 has no character),
    when the valid UTF-8 in ``data`` shows that it is UTF-8 at all; else None."""
    text = data.removeprefix(codecs.BOM_UTF8).decode("utf-8", "surrogateescape")
    invalid = sum(len(span) for span in _ESCAPED_BYTES.findall(text))
    valid = sum(len(run) for run in _VALID_NON_ASCII.findall(text))
    if not valid or valid < invalid * _UTF8_EVIDENCE_SHARE:
        return None
    repaired = _ESCAPED_BYTES.sub(_as_western, text)
    what = "byte that was" if invalid == 1 else "bytes that were"
    return repaired, f"repaired {invalid} {what} not UTF-8 (read as cp1252)"


def _as_western(span: re.Match[str]) -> str:
    raw = bytes(ord(char) - 0xDC00 for char in span[0])
    return raw.decode(_WESTERN_ENCODING, "replace")


def _decode_bom(data: bytes, encoding: str) -> str:
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        name = encoding.upper()
        raise ReviewFileError(
            f"not text: starts like {name} but is not ({error.reason})"
        ) from error
    if "\x00" in text:
        raise ReviewFileError("binary file, not text (it contains NUL characters)")
    return text


def _decode_legacy(data: bytes) -> str:
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        raise ReviewFileError("binary file, not text (no plausible text encoding found)")
    least_chaos = min(match.chaos for match in matches)
    plausible = [m for m in matches if m.chaos <= least_chaos + _WESTERN_CHAOS_TOLERANCE]
    if any(_WESTERN_ENCODING in match.could_be_from_charset for match in plausible):
        try:
            return data.decode(_WESTERN_ENCODING)
        except UnicodeDecodeError:
            pass
    return str(matches[0])
