"""Parsing review files (text, Markdown, HTML, JSON, JSON Lines, CSV) into source records.

Which files are reviews is :mod:`index.files`; how their bytes become text is
:mod:`index.decoding`; this module parses that text by format.

A review's id is ``<folder name>/<path inside the folder>`` (``seeds/001_x.txt``), plus
``#<record key>`` for one record of a JSON, JSON Lines or CSV file. The folder's name, not
its full path, keeps ids stable when the folder is moved or mounted elsewhere, and readable
in answers. Two different folders with the same name would give equal ids; the indexer
compares each id's stored source file with the one read now and refuses the second (see
``index.indexing``), so an id never silently changes owner. File names that are not UTF-8
or hold control characters appear in ids and paths with those bytes as ``\\xNN``
(:func:`index.files.path_text`), so every id is valid, printable text and the same on
every run.

Reading never raises for a file's content or name: whatever goes wrong with one file
becomes a LoadFailure of that file, with a one-line reason.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.decoding import DEFAULT_MAX_FILE_BYTES, read_text, unix_newlines
from index.errors import ReviewFileError
from index.files import (
    FORMAT_BY_SUFFIX,
    SUPPORTED_SUFFIXES,
    absolute_path,
    path_text,
    refuse_external_link,
)
from index.records import FileLoad, LoadFailure, LoadNote, SourceRecord

if TYPE_CHECKING:
    from selectolax.lexbor import LexborHTMLParser, LexborNode

# Each record costs about the same to index however short it is (a passage to split and
# embed, ~15 ms for a one-line row here): 10,000 records take minutes, a file of 100,000
# tiny rows would hold the index lock for the better part of an hour. Real review exports
# stay far below; the records after the limit are reported as not read.
DEFAULT_MAX_RECORDS = 10_000

log = logging.getLogger(__name__)

_TEXT_NAMES = ("text", "review", "body", "content", "review_text")
_FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "title": ("title", "film", "movie", "name"),
    "rating": ("rating", "score", "stars", "sterne", "bewertung"),
    "year": ("year", "jahr"),
    "author": ("author", "autor", "reviewer", "user"),
    "date": ("date", "datum", "review_date"),
    "url": ("url", "link"),
    "director": ("director", "regie"),
}
_KEY_NAMES = ("id", "review_id", "key")

_CSV_DELIMITERS = ",;\t"
# csv.Sniffer's regular expressions take time with the square of the sample (a minute for
# 64 KB of stray quotes); the delimiter shows in the first lines.
_CSV_SNIFF_CHARS = 4 * 1024
_CSV_EXTRA_CELLS = "\x00extra"

_HTML_SKIPPED_TAGS = frozenset(
    {"script", "style", "nav", "header", "footer", "aside", "form", "noscript", "template"}
)
_HTML_BLOCK_TAGS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "div", "br", "tr", "blockquote"}
    | {"article", "main", "section", "ul", "ol", "table", "pre", "dt", "dd", "figcaption"}
)
_HTML_CELL_TAGS = frozenset({"td", "th"})
_HTML_META_FIELDS = {
    "author": "author",
    "og:title": "title",
    "description": "description",
    "og:description": "description",
    "date": "date",
    "article:published_time": "date",
}
# A schema.org Review, and how deep a JSON-LD block is searched for one.
_SCHEMA_REVIEW_TYPES = frozenset({"Review", "CriticReview", "UserReview"})
_SCHEMA_MAX_DEPTH = 8
_YEAR_IN_DATE = re.compile(r"\b(?:1[89]|20)\d\d\b")
_ISO_DATE_TIME = re.compile(r"\d{4}-\d\d-\d\dT")
# A Markdown table's rule line, as trafilatura writes tables: "|---|---|".
_TABLE_RULE = re.compile(r"\|?(?:\s*:?-+:?\s*\|)+\s*:?-*:?\s*")
_MARKDOWN_HEADING = re.compile(r"#[ \t]+(?P<title>.+?)[ \t#]*")

# Parsing HTML costs time with the square of its nesting depth (100,000 nested <div> take
# about a minute). Browsers stop nesting at 512 (Blink's kMaximumHTMLParserDOMTreeDepth);
# the count below is rough (sloppy pages leave tags open), so the limit leaves room.
_HTML_MAX_DEPTH = 2000
_HTML_TAG = re.compile(r"<(/?)([a-zA-Z][\w:-]*)[^<>]*>")
_HTML_UNNESTED_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
    | {"track", "wbr", "param", "keygen", "html", "head", "body", "p", "li", "dt", "dd"}
    | {"tr", "td", "th", "thead", "tbody", "tfoot", "option", "optgroup", "colgroup"}
    | {"caption", "rb", "rt", "rp", "rtc"}
)  # void elements and those whose end tag may be left out (WHATWG HTML, 13.1.2.4)

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_REASON_CHARS = 300


def load_file(
    path: Path,
    *,
    root: Path,
    columns: Mapping[str, str] | None = None,
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
    max_records: int = DEFAULT_MAX_RECORDS,
    follow_external_links: bool = False,
) -> FileLoad:
    """Read one file into SourceRecords; never raises for a file's name or content: problems
    become LoadFailures (for the whole file, or for one record of a JSON, JSON Lines or CSV
    file), repairs become LoadNotes.

    ``columns`` maps our field names to the file's names, e.g. ``{"text": "Rezension"}``.
    A symbolic link that leads out of ``root`` is not followed unless
    ``follow_external_links``; a file with more than ``max_records`` records has the rest
    reported as not read.
    """
    source = _Source.of(path, root=root)
    try:
        if not follow_external_links:
            refuse_external_link(path, root=root)
        text = _text_of(path, source, max_bytes=max_bytes)
        outcomes = _parse(
            text, source, columns=_column_names(columns or {}), max_records=max_records
        )
    except ReviewFileError as problem:
        outcomes = [source.failure(str(problem))]
    except Exception as error:  # one file's surprise must not stop the run
        log.debug("unexpected error reading %s", source.path, exc_info=True)
        outcomes = [source.failure(f"cannot read file: {type(error).__name__}: {error}")]
    return FileLoad(
        path=source.path,
        records=[outcome for outcome in outcomes if isinstance(outcome, SourceRecord)],
        failures=[outcome for outcome in outcomes if isinstance(outcome, LoadFailure)],
        notes=source.notes,
        source_path=source.source_path,
    )


def load_reviews(
    files: Iterable[tuple[Path, Path]],
    *,
    columns: Mapping[str, str] | None = None,
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
    max_records: int = DEFAULT_MAX_RECORDS,
    follow_external_links: bool = False,
) -> Iterator[FileLoad]:
    """:func:`load_file` for every (file, root) pair, as :func:`index.files.scan_review_files`
    finds them, one file at a time."""
    for file, root in files:
        yield load_file(
            file,
            root=root,
            columns=columns,
            max_bytes=max_bytes,
            max_records=max_records,
            follow_external_links=follow_external_links,
        )


def _text_of(path: Path, source: _Source, *, max_bytes: int) -> str:
    text, repair = read_text(path, max_bytes=max_bytes)
    if repair:
        source.note(repair)
    if not text.strip():
        raise ReviewFileError("empty file")
    return text


@dataclass(frozen=True)
class _Source:
    """Where the records of one file come from, how to name them, and what was repaired."""

    path: str
    source_path: str
    review_id: str
    format: str
    notes: list[LoadNote] = field(default_factory=list)

    @classmethod
    def of(cls, path: Path, *, root: Path) -> _Source:
        relative = absolute_path(path).relative_to(absolute_path(root)).as_posix()
        suffix = path.suffix.lower()
        source = cls(
            path=path_text(path),
            source_path=path_text(os.path.realpath(path)),
            review_id=path_text(f"{absolute_path(root).name}/{relative}"),
            format=FORMAT_BY_SUFFIX.get(suffix, suffix.removeprefix(".")),
        )
        if source.path != str(path):
            source.note(
                "the file name has bytes that are not UTF-8 or control characters; "
                "they are shown as \\xNN"
            )
        return source

    def record(self, text: str, fields: dict[str, str], *, key: str | None = None) -> SourceRecord:
        repaired = _LONE_SURROGATE.subn("\ufffd", text)
        text, count = repaired
        clean_fields: dict[str, str] = {}
        for name, value in fields.items():
            name, in_name = _LONE_SURROGATE.subn("\ufffd", name)
            clean_fields[name], in_value = _LONE_SURROGATE.subn("\ufffd", value)
            count += in_name + in_value
        if key is not None:
            key, in_key = _LONE_SURROGATE.subn("\ufffd", key)
            count += in_key
        if count:
            self.note(f"replaced {count} lone surrogate escape(s) by U+FFFD", key=key)
        return SourceRecord(
            review_id=self.review_id if key is None else f"{self.review_id}#{path_text(key)}",
            source_path=self.source_path,
            record_key=key,
            text=text,
            fields=clean_fields,
            format=self.format,
        )

    def failure(self, reason: str, *, key: str | None = None) -> LoadFailure:
        return LoadFailure(
            path=self.path, reason=one_line(reason), record_key=one_line(key) if key else key
        )

    def note(self, note: str, *, key: str | None = None) -> None:
        self.notes.append(LoadNote(path=self.path, note=note, record_key=key))


def one_line(text: str) -> str:
    """``text`` as one printable line of at most 300 characters, for a report."""
    line = path_text(" ".join(text.split()))
    return line if len(line) <= _REASON_CHARS else line[: _REASON_CHARS - 1] + "…"


@dataclass(frozen=True)
class _Row:
    """One record of a many-record file, or why it could not be read."""

    number: int
    where: str
    values: dict[str, object] = field(default_factory=dict)
    problem: str | None = None


_Outcome = SourceRecord | LoadFailure


# Parsing by format


def _parse(
    text: str, source: _Source, *, columns: dict[str, str], max_records: int
) -> list[_Outcome]:
    match source.format:
        case "txt":
            return [source.record(text, {})]
        case "md":
            return [source.record(*_parse_markdown(text, columns=columns))]
        case "html":
            return [source.record(*_parse_html(text, columns=columns))]
        case "json":
            return _some(_parse_json(text, source, columns=columns, limit=max_records), "records")
        case "jsonl":
            rows = _jsonl_rows(text, limit=max_records)
            return _some(
                _records_from_rows(rows, source, columns=columns, limit=max_records), "records"
            )
        case "csv":
            rows = _csv_rows(text, columns=columns, limit=max_records)
            return _some(
                _records_from_rows(rows, source, columns=columns, limit=max_records),
                "rows under the header",
            )
    supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
    raise ReviewFileError(f"unsupported file type .{source.format} (supported: {supported})")


def _some(outcomes: list[_Outcome], what: str) -> list[_Outcome]:
    if not outcomes:
        raise ReviewFileError(f"no {what}")
    return outcomes


def _parse_markdown(text: str, *, columns: dict[str, str]) -> tuple[str, dict[str, str]]:
    front_matter, body = _split_front_matter(text)
    fields = _named_fields(_front_matter_fields(front_matter), columns)
    body = body.lstrip("\n")
    heading = _MARKDOWN_HEADING.fullmatch(body.partition("\n")[0])
    if heading and "title" not in fields:
        fields["title"] = heading["title"]
        body = body.partition("\n")[2].lstrip("\n")
    if not body.strip():
        raise ReviewFileError("no review text after the front matter")
    return body, fields


def _split_front_matter(text: str) -> tuple[str, str]:
    lines = text.split("\n")
    if lines[0].rstrip() != "---":
        return "", text
    for number, line in enumerate(lines[1:], start=1):
        if line.rstrip() in ("---", "..."):
            return "\n".join(lines[1:number]), "\n".join(lines[number + 1 :])
    raise ReviewFileError("front matter starts with '---' on line 1 but is never closed")


def _front_matter_fields(front_matter: str) -> dict[str, str]:
    import yaml

    try:
        data = yaml.load(front_matter, Loader=_front_matter_loader())
    except yaml.YAMLError as error:
        raise ReviewFileError(f"front matter is not valid YAML: {_yaml_problem(error)}") from error
    except RecursionError as error:
        raise ReviewFileError("front matter is nested too deeply") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ReviewFileError(f"front matter is a {_json_type(data)}, not key: value lines")
    return _scalar_fields(_lower_keys(data))


@cache
def _front_matter_loader() -> type:
    """yaml.SafeLoader without aliases: a few hundred bytes of nested aliases ("billion
    laughs") expand to billions of values, and front matter has no use for them."""
    import yaml

    class FrontMatterLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise yaml.composer.ComposerError(
                    None, None, "aliases (*name) are not allowed in front matter", mark
                )
            return super().compose_node(parent, index)

    return FrontMatterLoader


def _yaml_problem(error: Exception) -> str:
    import yaml

    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        # The mark counts from 0 within the front matter, which starts on line 2 of the file.
        mark = error.problem_mark
        return f"{error.problem or 'syntax error'} (line {mark.line + 2}, column {mark.column + 1})"
    return str(error).replace("\n", " ")


def _parse_html(text: str, *, columns: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The review text of a page and its fields: ``review:*`` meta tags first, then a
    schema.org Review in JSON-LD, then the page's usual meta tags and headings."""
    from selectolax.lexbor import LexborHTMLParser

    depth = _html_depth(text)
    if depth > _HTML_MAX_DEPTH:
        raise ReviewFileError(
            f"HTML nested about {depth} elements deep (at most {_HTML_MAX_DEPTH} are read)"
        )
    tree = LexborHTMLParser(text)
    reviews = [r for data in _json_ld(tree) for r in _schema_reviews(data)]
    review = reviews[0] if reviews else {}
    article = _article_text(text) or _body_text(tree)
    written = review.get("reviewBody")
    body = _one_line_paragraphs(written if isinstance(written, str) else "")
    # A page's reviewBody is sometimes a teaser of the article; the longer text wins.
    if len(body) >= len(article) / 2:
        article = body
    if not article.strip():
        raise ReviewFileError("no article text found in the HTML")
    fields = _html_meta_fields(tree)
    for name, value in _schema_review_fields(review).items():
        fields.setdefault(name, value)
    for name, value in _html_generic_fields(tree).items():
        fields.setdefault(name, value)
    return article, _named_fields(fields, columns)


def _article_text(html: str) -> str:
    """The page's main text as trafilatura finds it, without navigation, teasers, related
    links and comments; tables become one line per row."""
    import trafilatura

    extracted = trafilatura.extract(
        html,
        config=_trafilatura_config(),
        include_comments=False,
        include_tables=True,
        include_links=False,
        include_images=False,
        deduplicate=False,
    )
    lines = []
    for line in (extracted or "").splitlines():
        if _TABLE_RULE.fullmatch(line):
            continue
        if line.startswith("|") and line.endswith("|"):
            line = " ".join(cell.strip() for cell in line.strip("|").split("|") if cell.strip())
        if line := " ".join(line.split()):
            lines.append(line)
    return "\n".join(lines)


@cache
def _trafilatura_config() -> Any:
    from trafilatura.settings import use_config

    config = use_config()
    # Short reviews are reviews: without this a page under 250 characters is read by a
    # fallback that keeps navigation and splits lines at inline tags.
    config.set("DEFAULT", "MIN_EXTRACTED_SIZE", "1")
    # The timeout works by signals, which only the main thread may set (the bot indexes
    # in a worker thread); the depth check above bounds the work instead.
    config.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")
    return config


def _body_text(tree: LexborHTMLParser) -> str:
    """The body's text, one line per block, for pages trafilatura finds no article in."""
    if tree.body is None:
        return ""
    lines = _LineBuilder()
    pending: list[tuple[LexborNode, bool]] = [(tree.body, False)]
    while pending:
        node, leaving = pending.pop()
        tag = node.tag or ""
        if tag == "-text":
            lines.write(node.text_content or "")
        elif leaving:
            lines.leave(tag)
        elif tag not in _HTML_SKIPPED_TAGS and tag[:1].isalpha():
            lines.enter(tag)
            pending.append((node, True))
            pending.extend((child, False) for child in reversed(list(node.iter(include_text=True))))
    lines.end_line()
    return "\n".join(lines.lines)


def _html_meta_fields(tree: LexborHTMLParser) -> dict[str, str]:
    """Fields the page states for us in ``<meta name="review:…">`` tags."""
    fields: dict[str, str] = {}
    for name, content in _meta_tags(tree):
        if name.startswith("review:"):
            fields[name.removeprefix("review:")] = content
    return fields


def _html_generic_fields(tree: LexborHTMLParser) -> dict[str, str]:
    """Author, date, description and title from the page's usual meta tags and headings."""
    fields: dict[str, str] = {}
    for name, content in _meta_tags(tree):
        if name in _HTML_META_FIELDS:
            fields.setdefault(_HTML_META_FIELDS[name], content)
    # The article's heading names the film; the page title usually adds the site's name.
    for title in (tree.css_first("article h1"), tree.css_first("h1"), tree.css_first("title")):
        if "title" not in fields and title is not None and title.text().strip():
            fields["title"] = " ".join(title.text().split())
    return fields


def _meta_tags(tree: LexborHTMLParser) -> Iterator[tuple[str, str]]:
    for meta in tree.css("meta"):
        attributes = meta.attributes
        name = (attributes.get("name") or attributes.get("property") or "").strip().lower()
        content = (attributes.get("content") or "").strip()
        if name and content:
            yield name, content


# schema.org Review in JSON-LD


def _json_ld(tree: LexborHTMLParser) -> Iterator[object]:
    """The parsed JSON-LD blocks of the page; a block that is not valid JSON is skipped."""
    for script in tree.css('script[type="application/ld+json"]'):
        try:
            yield json.loads(script.text() or "")
        except ValueError:
            log.info("skipping a JSON-LD block that is not valid JSON")


def _schema_reviews(data: object, *, depth: int = 0) -> Iterator[dict[str, Any]]:
    """The ``Review`` / ``CriticReview`` objects in a JSON-LD value: at its top, in a list,
    or in an ``@graph``."""
    if depth > _SCHEMA_MAX_DEPTH:
        return
    if isinstance(data, list):
        for item in data:
            yield from _schema_reviews(item, depth=depth + 1)
    elif isinstance(data, dict):
        if _schema_types(data) & _SCHEMA_REVIEW_TYPES:
            yield data
        yield from _schema_reviews(data.get("@graph"), depth=depth + 1)


def _schema_types(thing: Mapping[str, object]) -> set[str]:
    kinds = thing.get("@type")
    names = kinds if isinstance(kinds, list) else [kinds]
    return {str(name).rsplit("/", 1)[-1] for name in names if isinstance(name, str)}


def _schema_review_fields(review: Mapping[str, Any]) -> dict[str, str]:
    """Title, original title, year, director, author, source, date, URL, language and rating
    of a schema.org Review, as the metadata step reads them."""
    reviewed = _first_thing(review.get("itemReviewed"))
    fields = {
        "title": _schema_text(reviewed.get("name")),
        "original_title": _schema_text(reviewed.get("alternateName")),
        "year": _schema_year(reviewed),
        "director": _schema_names(reviewed.get("director")),
        "cast": _schema_names(reviewed.get("actor") or reviewed.get("actors")),
        "genre": _schema_text(reviewed.get("genre")),
        "author": _schema_names(review.get("author")),
        "source": _schema_names(review.get("publisher")),
        "date": _schema_date(review.get("datePublished")),
        "url": _schema_text(review.get("url")),
        "language": _schema_text(review.get("inLanguage")),
        "rating": _schema_rating(_first_thing(review.get("reviewRating"))),
    }
    if fields["original_title"] == fields["title"]:
        fields["original_title"] = ""
    return {name: value for name, value in fields.items() if value}


def _first_thing(value: object) -> Mapping[str, Any]:
    if isinstance(value, list):
        value = next((item for item in value if isinstance(item, dict)), None)
    return value if isinstance(value, dict) else {}


def _schema_text(value: object) -> str:
    if isinstance(value, list):
        value = next((item for item in value if isinstance(item, str | int | float)), "")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    return " ".join(str(value).split())


def _schema_names(value: object) -> str:
    """Names of people or organisations given as text, an object with a name, or a list."""
    items = value if isinstance(value, list) else [value]
    names = [_schema_text(item.get("name") if isinstance(item, dict) else item) for item in items]
    return ", ".join(dict.fromkeys(name for name in names if name))


def _schema_year(reviewed: Mapping[str, Any]) -> str:
    for key in ("dateCreated", "datePublished", "copyrightYear", "releasedEvent"):
        value = reviewed.get(key)
        if isinstance(value, dict):
            value = value.get("startDate")
        if year := _YEAR_IN_DATE.search(_schema_text(value)):
            return year.group(0)
    return ""


def _schema_date(value: object) -> str:
    """An ISO date as written, without the time of day (``2021-11-05T09:00:00+00:00``)."""
    text = _schema_text(value)
    return text[:10] if _ISO_DATE_TIME.match(text) else text


def _schema_rating(rating: Mapping[str, Any]) -> str:
    """``value/best`` for a schema.org Rating; a scale starting above 1 is shifted to 0.

    schema.org's defaults are a best rating of 5 and a worst of 1; a 1-to-5 scale reads as
    stars (1 of 5 is 20 %), as review sites show it.
    """
    value = _schema_number(rating.get("ratingValue"))
    best = _schema_number(rating.get("bestRating")) or 5.0
    worst = _schema_number(rating.get("worstRating")) or 0.0
    if value is None or best <= worst:
        return ""
    if worst > 1 or worst < 0:
        value, best = value - worst, best - worst
    return f"{_plain_number(value)}/{_plain_number(best)}"


def _schema_number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().replace(",", "."))
        except ValueError:
            return None
    return None


def _plain_number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


def _one_line_paragraphs(text: str) -> str:
    """Text with its whitespace collapsed inside each paragraph, one paragraph a line."""
    paragraphs = (" ".join(p.split()) for p in re.split(r"\n\s*\n", unix_newlines(text)))
    return "\n".join(p for p in paragraphs if p)


def _html_depth(text: str) -> int:
    """How deep the elements of ``text`` nest, counted from its tags alone."""
    depth = deepest = 0
    for tag in _HTML_TAG.finditer(text):
        if tag[2].lower() in _HTML_UNNESTED_TAGS or tag[0].endswith("/>"):
            continue
        if tag[1]:
            depth = max(depth - 1, 0)
        else:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


class _LineBuilder:
    """Collects HTML text into lines: one per block element, whitespace collapsed."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._parts: list[str] = []

    def write(self, text: str) -> None:
        self._parts.append(text)

    def enter(self, tag: str) -> None:
        if tag in _HTML_BLOCK_TAGS:
            self.end_line()

    def leave(self, tag: str) -> None:
        if tag in _HTML_BLOCK_TAGS:
            self.end_line()
        elif tag in _HTML_CELL_TAGS:
            self._parts.append(" ")

    def end_line(self) -> None:
        line = " ".join("".join(self._parts).split())
        if line:
            self.lines.append(line)
        self._parts.clear()


def _parse_json(
    text: str, source: _Source, *, columns: dict[str, str], limit: int
) -> list[_Outcome]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ReviewFileError(
            f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from error
    except RecursionError as error:
        raise ReviewFileError("JSON nested too deeply") from error
    except ValueError as error:  # e.g. a number longer than int() converts
        raise ReviewFileError(f"invalid JSON: {error}") from error
    if isinstance(data, dict) and isinstance(data.get("reviews"), list):
        data = data["reviews"]
    if isinstance(data, dict):
        return [_record_from_values(_lower_keys(data), source, columns=columns)]
    if isinstance(data, list):
        rows = [_json_row(number, item, where="record") for number, item in enumerate(data, 1)]
        return _records_from_rows(rows, source, columns=columns, limit=limit)
    raise ReviewFileError(
        f'expected a JSON object, a list of objects or an object with a "reviews" list, '
        f"not a {_json_type(data)}"
    )


def _jsonl_rows(text: str, *, limit: int) -> list[_Row]:
    """The rows of the lines, up to one more than ``limit`` (to tell that there are more)."""
    rows: list[_Row] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        if len(rows) > limit:
            break
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            problem = f"invalid JSON at column {error.colno}: {error.msg}"
            rows.append(_Row(number, where=f"line {number}", problem=problem))
            continue
        except (RecursionError, ValueError) as error:
            problem = "JSON nested too deeply" if isinstance(error, RecursionError) else str(error)
            rows.append(_Row(number, where=f"line {number}", problem=problem))
            continue
        rows.append(_json_row(number, item, where="line"))
    return rows


def _json_row(number: int, item: object, *, where: str) -> _Row:
    if not isinstance(item, dict):
        problem = f"expected a JSON object, not a {_json_type(item)}"
        return _Row(number, where=f"{where} {number}", problem=problem)
    return _Row(number, where=f"{where} {number}", values=_lower_keys(item))


def _json_type(value: object) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _csv_rows(text: str, *, columns: dict[str, str], limit: int) -> list[_Row]:
    """The rows under the header, up to one more than ``limit`` (to tell that there are more)."""
    reader = csv.DictReader(
        io.StringIO(text, newline=""), delimiter=_csv_delimiter(text), restkey=_CSV_EXTRA_CELLS
    )
    header = [(name or "").strip().lower() for name in reader.fieldnames or []]
    reader.fieldnames = header
    _require_text_column(header, columns)
    rows: list[_Row] = []
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):
            if len(rows) > limit:
                break
            if any(cell and cell.strip() for cell in cells.values() if isinstance(cell, str)):
                rows.append(_csv_row(number, cells, line=reader.line_num, width=len(header)))
    except csv.Error as error:
        where = f"row {number + 1} (line {reader.line_num})"
        rows.append(
            _Row(number + 1, where=where, problem=f"{error}; the rows after it were not read")
        )
    return rows


def _csv_delimiter(text: str) -> str:
    header = text.partition("\n")[0]
    try:
        delimiter = csv.Sniffer().sniff(text[:_CSV_SNIFF_CHARS], _CSV_DELIMITERS).delimiter
    except csv.Error:
        delimiter = ""
    if delimiter and delimiter in header:
        return delimiter
    return max(_CSV_DELIMITERS, key=header.count)


def _require_text_column(header: list[str], columns: dict[str, str]) -> None:
    expected = _text_names(columns)
    if not any(name in header for name in expected):
        raise ReviewFileError(
            f"no text column: the header has {', '.join(header)}; "
            f"expected a column named {_listed(expected)}"
        )


def _csv_row(number: int, cells: dict[str | None, object], *, line: int, width: int) -> _Row:
    where = f"row {number} (line {line})"
    extra = cells.pop(_CSV_EXTRA_CELLS, None)
    present = sum(cell is not None for cell in cells.values())
    count = present + len(extra) if isinstance(extra, list) else present
    if count != width:
        return _Row(number, where=where, problem=f"has {_fields(count)}, the header has {width}")
    return _Row(number, where=where, values={str(name): cell for name, cell in cells.items()})


def _fields(count: int) -> str:
    return "1 field" if count == 1 else f"{count} fields"


# Records from rows and values


def _records_from_rows(
    rows: list[_Row], source: _Source, *, columns: dict[str, str], limit: int
) -> list[_Outcome]:
    outcomes = _records_from_first_rows(rows[:limit], source, columns=columns)
    if len(rows) > limit:
        reason = f"the records after the first {limit} were not read (a file is read up to {limit})"
        outcomes.append(source.failure(reason))
    return outcomes


def _records_from_first_rows(
    rows: list[_Row], source: _Source, *, columns: dict[str, str]
) -> list[_Outcome]:
    outcomes: list[_Outcome] = []
    first_use: dict[str, str] = {}
    for row in rows:
        if row.problem is not None:
            outcomes.append(source.failure(f"{row.where}: {row.problem}", key=str(row.number)))
            continue
        key = _record_key(row)
        if key in first_use:
            reason = f"{row.where}: id {key!r} is already used by {first_use[key]}"
            outcomes.append(source.failure(reason, key=key))
            continue
        first_use[key] = row.where
        outcomes.append(
            _record_from_values(row.values, source, columns=columns, key=key, where=row.where)
        )
    return outcomes


def _record_key(row: _Row) -> str:
    for name in _KEY_NAMES:
        value = row.values.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return str(row.number)


def _record_from_values(
    values: dict[str, object],
    source: _Source,
    *,
    columns: dict[str, str],
    key: str | None = None,
    where: str = "",
) -> _Outcome:
    text_name = _text_name(values, columns)
    if text_name is None:
        reason = f"no review text (looked for {_listed(_text_names(columns))})"
        return source.failure(f"{where}: {reason}" if where else reason, key=key)
    others = {name: value for name, value in values.items() if name != text_name}
    fields = _named_fields(_scalar_fields(others), columns)
    return source.record(unix_newlines(str(values[text_name])), fields, key=key)


def _text_names(columns: dict[str, str]) -> tuple[str, ...]:
    return (columns["text"],) if "text" in columns else _TEXT_NAMES


def _listed(names: Sequence[str]) -> str:
    return " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def _text_name(values: dict[str, object], columns: dict[str, str]) -> str | None:
    for name in _text_names(columns):
        value = values.get(name)
        if isinstance(value, str) and value.strip():
            return name
    return None


def _named_fields(raw: dict[str, str], columns: dict[str, str]) -> dict[str, str]:
    """``raw`` plus our names: from ``columns`` first, else from the first alias present."""
    fields = dict(raw)
    for ours, theirs in columns.items():
        if ours != "text" and theirs in raw:
            fields[ours] = raw[theirs]
    for ours, aliases in _FIELD_ALIASES.items():
        alias = next((name for name in aliases if name in raw), None)
        if ours not in fields and alias is not None:
            fields[ours] = raw[alias]
    return fields


def _scalar_fields(values: Mapping[str, object]) -> dict[str, str]:
    fields = {}
    for name, value in values.items():
        shown = _field_value(value)
        if shown:
            fields[name] = shown
    return fields


def _field_value(value: object) -> str | None:
    """A scalar as text; a list as its scalars joined (nested lists and objects are left
    out, however deep they go)."""
    if isinstance(value, list | tuple):
        return ", ".join(shown for item in value if (shown := _scalar_value(item)))
    return _scalar_value(value)


def _scalar_value(value: object) -> str | None:
    if value is None or isinstance(value, dict | list | tuple):
        return None
    return str(value).strip()


def _column_names(columns: Mapping[str, str]) -> dict[str, str]:
    return {ours.strip().lower(): theirs.strip().lower() for ours, theirs in columns.items()}


def _lower_keys(mapping: Mapping[object, object]) -> dict[str, object]:
    lowered: dict[str, object] = {}
    for name, value in mapping.items():
        lowered.setdefault(str(name).strip().lower(), value)
    return lowered
