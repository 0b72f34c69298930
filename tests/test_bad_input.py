"""Bad files and bad names next to good reviews: each is reported on one line and skipped
(or repaired and noted), the good reviews are indexed, and nothing indexed before is lost.

Every case adds one bad thing to a folder whose good reviews were indexed before, then runs
`reviewbot index` on it. The outcome is one of:

- ``failed``: exit 3 and a ``failed:`` line naming the file;
- ``noted``: exit 0, the file indexed, and a ``note:`` line naming it (text repaired, or a
  name that is not UTF-8 or holds control characters, shown escaped);
- ``indexed``: exit 0 and the file indexed like any other.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.service import ReviewService
from bot.settings import Settings
from index.files import path_text
from tests.conftest import SEEDS, CliResult, RememberingEmbedder

GOOD = "Titel: Kaltfront\nJahr: 2020\n\nEin dichter Krimi über eine Kommissarin in Kiel."
UTF8 = "Die Größe des Films überzeugt, die Länge nervt.\n"
DEEP = 100_000


@dataclass(frozen=True)
class Kind:
    """One kind of bad input: how to make it in a folder, and what the user should see."""

    name: str
    make: Callable[[Path], Path]  # creates it, returns the path the report names
    outcome: str  # failed | noted | indexed
    reason: str = ""  # a part of the failure reason or note, when it matters


def file(name: str | bytes, content: str | bytes) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = Path(os.fsdecode(os.fsencode(folder) + b"/" + os.fsencode(name)))
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    return make


def link(name: str, target: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        (folder / name).symlink_to(target)
        return folder / name

    return make


def fifo(folder: Path) -> Path:
    os.mkfifo(folder / "pipe.txt")
    return folder / "pipe.txt"


def unix_socket(folder: Path) -> Path:
    path = folder / "sock.txt"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
    return path


def folder_named_like_a_file(folder: Path) -> Path:
    inner = folder / "x.txt"
    inner.mkdir()
    (inner / "inside.txt").write_text(GOOD.replace("Kaltfront", "Innenhof"), encoding="utf-8")
    return inner / "inside.txt"


def sparse_over_limit(folder: Path) -> Path:
    path = folder / "huge.txt"
    with path.open("wb") as stream:
        stream.truncate(9 * 1024 * 1024)  # above the 8 MB default, without using the disk
    return path


def unreadable(folder: Path) -> Path:
    path = folder / "secret.txt"
    path.write_text(GOOD, encoding="utf-8")
    path.chmod(0)
    return path


def json_lines(*items: object) -> str:
    return "\n".join(item if isinstance(item, str) else json.dumps(item) for item in items)


def billion_laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [{','.join([f'*{previous}'] * 9)}]")
    return "---\n" + "\n".join(lines) + "\n---\nText."


KINDS = [
    # Contents that are not text
    Kind("empty", file("empty.txt", b""), "failed", "empty file"),
    Kind("whitespace only", file("blank.txt", " \n\t\n  \n"), "failed", "empty file"),
    Kind("carriage returns only", file("cr.txt", "\r\r\r\n"), "failed", "empty file"),
    Kind("only a BOM", file("bom.txt", b"\xef\xbb\xbf"), "failed", "empty file"),
    Kind("NUL bytes", file("nul.txt", b"Ein guter\x00Film."), "failed", "binary"),
    Kind("random binary", file("random.txt", random.Random(7).randbytes(4096)), "failed"),
    Kind("UTF-16 without BOM", file("u16.txt", UTF8.encode("utf-16-le")), "failed", "binary"),
    Kind(
        "truncated UTF-16",
        file("u16cut.txt", UTF8.encode("utf-16")[:-1]),
        "failed",
        "UTF-16",
    ),
    Kind("UTF-32 with BOM", file("u32.txt", UTF8.encode("utf-32")), "indexed"),
    Kind("UTF-32 without BOM", file("u32le.txt", UTF8.encode("utf-32-le")), "failed", "binary"),
    # Text with wrong bytes
    Kind(
        "invalid UTF-8 spans",
        file("spans.txt", UTF8.encode() * 3 + b"Gr\xf6\xdfe \xff."),
        "noted",
        "not UTF-8",
    ),
    Kind(
        "half UTF-8, half latin-1",
        file("half.txt", UTF8.encode() * 3 + UTF8.encode("latin-1") * 3),
        "noted",
        "not UTF-8",
    ),
    Kind("pure cp1252", file("cp1252.txt", (UTF8 + "„Zitat“\n").encode("cp1252")), "indexed"),
    Kind("UTF-8 surrogate bytes", file("cesu.txt", b"Kaputt \xed\xa0\xbd hier."), "indexed"),
    Kind("terminal escapes in text", file("esc.txt", GOOD + "\x1b[2J\x1b]0;x\x07"), "indexed"),
    Kind("over the size limit", sparse_over_limit, "failed", "file too large"),
    # Markdown front matter
    Kind("front matter unclosed", file("open.md", "---\ntitle: X\nText"), "failed"),
    Kind("front matter invalid", file("bad.md", "---\ntitle: [x\n---\nText"), "failed", "YAML"),
    Kind("billion laughs", file("laughs.md", billion_laughs()), "failed", "aliases"),
    Kind("YAML alias", file("alias.md", "---\na: &x 1\nb: *x\n---\nText."), "failed", "aliases"),
    Kind("front matter list", file("list.md", "---\n- a\n- b\n---\nText."), "failed", "list"),
    Kind("front matter string", file("scalar.md", "---\nnur Text\n---\nText."), "failed"),
    Kind("front matter only", file("only.md", "---\ntitle: X\n---\n"), "failed", "no review"),
    Kind(
        "front matter nested deeply",
        file("deep.md", "---\na: " + "[" * 5000 + "]" * 5000 + "\n---\nText."),
        "failed",
    ),
    Kind(
        "front matter python tag",
        file("tag.md", "---\na: !!python/object/apply:os.system ['true']\n---\nText."),
        "failed",
        "YAML",
    ),
    # HTML
    Kind(
        "HTML without body text", file("head.html", "<html><head><title>X</title></head>"), "failed"
    ),
    Kind(
        "HTML with only scripts",
        file("script.html", "<html><body><script>var a = 1;</script><style>p{}</style></body>"),
        "failed",
        "no article text",
    ),
    Kind(
        "HTML nested deeply",
        file("deep.html", "<body>" + "<div>" * DEEP + "Text." + "</div>" * DEEP),
        "failed",
        "nested",
    ),
    Kind("HTML unclosed tags", file("unclosed.html", "<b>" * DEEP + "Text."), "failed", "nested"),
    Kind("HTML of brackets", file("brackets.html", "<" * 50_000), "indexed"),
    # JSON and JSON Lines
    Kind(
        "lone surrogate in JSON",
        file("surrogate.json", '{"title": "X", "text": "Kaputt \\ud83d hier."}'),
        "noted",
        "surrogate",
    ),
    Kind(
        "lone surrogate in JSONL",
        file("surrogate.jsonl", '{"id": "\\udc00", "text": "Kaputt \\ud83d hier."}'),
        "noted",
        "surrogate",
    ),
    Kind("deep JSON", file("deep.json", "[" * DEEP + "]" * DEEP), "failed", "nested"),
    Kind(
        "deep JSON field",
        file("field.json", '{"text": "Gut.", "x": ' + "[" * DEEP + "]" * DEEP + "}"),
        "failed",
        "nested",
    ),
    Kind(
        "deep JSONL line",
        file("deep.jsonl", "[" * DEEP + "]" * DEEP),
        "failed",
        "nested",
    ),
    Kind("JSON number", file("number.json", "42"), "failed", "not a number"),
    Kind("JSON null", file("null.json", "null"), "failed", "not a null"),
    Kind("JSON string", file("string.json", '"Ein guter Film."'), "failed", "not a string"),
    Kind("JSON list of numbers", file("numbers.json", "[1, 2, 3]"), "failed", "not a number"),
    Kind("JSON empty list", file("nothing.json", "[]"), "failed", "no records"),
    Kind("JSON empty reviews", file("noreviews.json", '{"reviews": []}'), "failed", "no records"),
    Kind("JSON without text", file("notext.json", '{"title": "X"}'), "failed", "no review text"),
    Kind("JSON text a number", file("textnum.json", '{"text": 42}'), "failed", "no review text"),
    Kind("JSON truncated", file("cut.json", '{"title": "X", "text": '), "failed", "invalid JSON"),
    Kind(
        "JSON huge number", file("bigint.json", '{"text": "a", "n": ' + "1" * 5000 + "}"), "failed"
    ),
    Kind(
        "JSON duplicate ids",
        file(
            "dup.json", json.dumps([{"id": "a", "text": "Gut."}, {"id": "a", "text": "Schlecht."}])
        ),
        "failed",
        "already used",
    ),
    Kind("JSON NaN rating", file("nan.json", '{"text": "Gut.", "rating": NaN}'), "indexed"),
    Kind(
        "JSONL invalid lines",
        file("mixed.jsonl", json_lines("{not json}", {"text": "Gut."}, "[1]")),
        "failed",
        "invalid JSON",
    ),
    Kind("JSONL blank lines only", file("blank.jsonl", "\n\n\n"), "failed", "empty file"),
    Kind(
        "JSONL id with control characters",
        file("ctrl.jsonl", json_lines({"id": "a\nb\x1b[31m", "text": "Gut."})),
        "indexed",
    ),
    # CSV
    Kind("CSV header only", file("header.csv", "id,title,text\n"), "failed", "no rows"),
    Kind("CSV blank rows", file("blankrows.csv", "id,text\n\n,\n"), "failed", "no rows"),
    Kind(
        "CSV no text column", file("notext.csv", "film,sterne\nX,4\n"), "failed", "no text column"
    ),
    Kind("CSV ragged rows", file("ragged.csv", 'id,text\n1,"Gut."\n2,a,b,c\n3\n'), "failed"),
    Kind("CSV with NUL", file("nul.csv", b"id,text\n1,Gut\x00.\n"), "failed", "binary"),
    Kind("CSV huge field", file("field.csv", "text\n" + "x" * 200_000 + "\n"), "failed"),
    Kind("CSV stray quotes", file("quotes.csv", "text,b\n" + '"a,' * 30_000), "failed"),
    # Names
    Kind("name not UTF-8", file(b"caf\xe9.txt", GOOD), "noted", "not UTF-8"),
    Kind("name with newline", file("a\nb.txt", GOOD), "noted", "control characters"),
    Kind("name with terminal escape", file("\x1b[31mred.txt", GOOD), "noted"),
    Kind("very long name", file("x" * 250 + ".txt", GOOD), "indexed"),
    Kind("name of spaces", file("   .txt", GOOD), "indexed"),
    Kind("folder named like a file", folder_named_like_a_file, "indexed"),
    # Not regular files
    Kind("symlink loop", link("loop.txt", "loop.txt"), "failed", "cannot read file"),
    Kind("symlink pair loop", link("ping.txt", "pong.txt"), "failed", "cannot read file"),
    Kind("dangling symlink", link("gone.txt", "missing.txt"), "failed", "does not exist"),
    Kind("symlink out of the folder", link("passwd.txt", "/etc/passwd"), "failed", "outside"),
    Kind("symlink to a device", link("null.txt", "/dev/null"), "failed", "outside"),
    Kind("FIFO", fifo, "failed", "not a regular file"),
    Kind("socket", unix_socket, "failed", "not a regular file"),
    pytest.param(
        Kind("unreadable file", unreadable, "failed", "Permission denied"),
        marks=pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file"),
    ),
]


@dataclass(frozen=True)
class Baseline:
    reviews: Path
    data: Path
    review_ids: frozenset[str]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory, embedder: RememberingEmbedder) -> Baseline:
    """The seed reviews, indexed once; each test works on a copy of this index."""
    root = tmp_path_factory.mktemp("bad-input")
    reviews = root / "reviews"
    shutil.copytree(SEEDS, reviews)
    reviews.chmod(0o755)
    settings = Settings(_env_file=None, data_dir=root / "data", reviews_dir=reviews)  # type: ignore[call-arg]
    report = ReviewService(settings, embedder=embedder).index([reviews])
    assert len(report.added) == 3 and not report.failed
    return Baseline(reviews, root / "data", frozenset(report.added))


@pytest.fixture
def reviews(baseline: Baseline, tmp_path: Path) -> Iterator[Path]:
    """The baseline's reviews folder with the index copied to this test's data dir; what the
    test adds to the folder is removed afterwards."""
    shutil.copytree(baseline.data, tmp_path / "data")
    before = set(os.listdir(os.fsencode(baseline.reviews)))
    yield baseline.reviews
    for name in set(os.listdir(os.fsencode(baseline.reviews))) - before:
        path = os.path.join(os.fsencode(baseline.reviews), name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)


def indexed_ids(cli: Callable[..., CliResult]) -> set[str]:
    listed = cli("reviews", "--json")
    assert listed.exit_code == 0, listed.err
    listing: list[dict[str, object]] = listed.json()  # type: ignore[assignment]
    return {str(review["review_id"]) for review in listing}


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.name)
def test_bad_input_is_reported_and_the_rest_kept(
    kind: Kind, reviews: Path, baseline: Baseline, cli: Callable[..., CliResult]
) -> None:
    bad = kind.make(reviews)
    shown = path_text(bad)

    result = cli("index", str(reviews))

    assert "Traceback" not in result.out + result.err
    report = result.err.splitlines()
    assert all(line.startswith(("  failed: ", "  note: ")) for line in report), result.err
    label = {"failed": "failed", "noted": "note"}.get(kind.outcome)
    naming = [line for line in report if line.startswith(f"  {label}: {shown}")]
    if kind.outcome == "indexed":
        assert result.exit_code == 0, result.err
        assert report == []
        assert "1 added" in result.out
    else:
        assert naming, f"no {kind.outcome} line for {shown!r} in {result.err!r}"
        assert any(kind.reason in line for line in naming), result.err
        assert result.exit_code == (3 if kind.outcome == "failed" else 0), result.err
    assert "0 removed" in result.out
    assert "3 unchanged" in result.out, "the good reviews are all indexed, unchanged"
    assert baseline.review_ids <= indexed_ids(cli), "a review indexed before is lost"


def test_a_folder_that_cannot_be_listed_is_reported_and_its_reviews_kept(
    tmp_path: Path,
    seeds_copy: Path,
    cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inner = seeds_copy / "inner"
    inner.mkdir()
    (inner / "kaltfront.txt").write_text(GOOD, encoding="utf-8")
    assert cli("index", str(seeds_copy)).exit_code == 0

    real_scandir = os.scandir

    def scandir(path: str) -> object:
        # root lists any folder: make listing this one fail the way a permission would
        if os.fspath(path) == str(inner):
            raise PermissionError(13, "Permission denied", str(inner))
        return real_scandir(path)

    with monkeypatch.context() as patch:
        if os.geteuid() == 0:
            patch.setattr(os, "scandir", scandir)
        inner.chmod(0)
        try:
            result = cli("index", str(seeds_copy))
        finally:
            inner.chmod(0o755)

    assert result.exit_code == 3
    assert f"  failed: {inner}: cannot list folder: Permission denied" in result.err.splitlines()
    assert "0 removed" in result.out and "kept: seeds/inner/kaltfront.txt" in result.out
    assert "seeds/inner/kaltfront.txt" in indexed_ids(cli)
