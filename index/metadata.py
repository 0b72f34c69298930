"""Parses a review's metadata from its header lines and structured fields."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

from index.language import detect_language
from index.records import Rating, Review, SourceRecord

# Header keys as critics write them, mapped to the Review attribute they fill.
# None marks a known header key whose value we do not keep; it still makes the line a header.
HEADER_KEYS: dict[str, str | None] = {
    "titel": "title",
    "title": "title",
    "filmtitel": "title",
    "deutscher titel": "title",
    "originaltitel": "original_title",
    "original title": "original_title",
    "original_title": "original_title",
    "jahr": "year",
    "erscheinungsjahr": "year",
    "produktionsjahr": "year",
    "year": "year",
    "release year": "year",
    "regie": "director",
    "regisseur": "director",
    "director": "director",
    "directed by": "director",
    "darsteller": "cast",
    "besetzung": "cast",
    "cast": "cast",
    "starring": "cast",
    "genre": "genre",
    "fsk": "age_rating",
    "fsk freigabe": "age_rating",
    "altersfreigabe": "age_rating",
    "rated": "age_rating",
    "age rating": "age_rating",
    "bewertung": "rating",
    "wertung": "rating",
    "rating": "rating",
    "score": "rating",
    "sterne": "rating",
    "stars": "rating",
    "quelle": "source",
    "source": "source",
    "publication": "source",
    "magazin": "source",
    "autor": "author",
    "autorin": "author",
    "author": "author",
    "kritiker": "author",
    "reviewer": "author",
    "datum": "date",
    "date": "date",
    "url": "url",
    "link": "url",
    "sprache": "language",
    "language": "language",
    "herstellungsland": None,
    "produktionsland": None,
    "land": None,
    "country": None,
    "laufzeit": None,
    "runtime": None,
    "länge": None,
    "starttermin": "release",
    "kinostart": "release",
    "release date": "release",
    "musik": None,
    "music": None,
    "drehbuch": None,
    "kamera": None,
    "label": None,
    "geschnitten": None,
    "blu ray/dvd": None,
    "copyright aller filmbilder/label": None,
}

# Longest keys first so that "originaltitel" wins over "titel".
_KEYS_PATTERN = "|".join(re.escape(k) for k in sorted(HEADER_KEYS, key=len, reverse=True))
_COLON_FIELD = re.compile(rf"^\s*({_KEYS_PATTERN})\s*:\s*(.+?)\s*$", re.IGNORECASE)
# "TitelBallerina", "Jahr2023", "Genre Action, Thriller": key glued or spaced, no colon.
_BARE_FIELD = re.compile(rf"^\s*((?i:{_KEYS_PATTERN}))(?:\s+|(?=[A-ZÄÖÜ0-9]))(.+?)\s*$")
_SEGMENT_SPLIT = re.compile(r"__|\s\|\s|^\s*\|\s*|\s*\|\s*$")
_BARE_FIELD_MAX_LINE = 60
_HEADER_ZONE_LINES = 15
# "© Nils Bothmann (McClane)": the parenthesis may be a pen name or a site, so it is dropped.
_COPYRIGHT = re.compile(r"^\s*©\s*(?:\d{4}\s+)?([^()\n]{3,60}?)\s*(?:\([^)]{2,60}\))?\s*$")
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")


@dataclass(frozen=True)
class HeaderField:
    """One ``key: value`` found in a review's text, with where it stands."""

    attribute: str | None
    value: str
    start: int
    end: int


def iter_segments(text: str) -> Iterator[tuple[int, int]]:
    """Yield (start, end) of each line, split further at ``__`` and `` | `` separators."""
    pos = 0
    for line in text.split("\n"):
        line_start = pos
        pos += len(line) + 1
        cursor = 0
        for match in _SEGMENT_SPLIT.finditer(line):
            if match.start() > cursor:
                yield line_start + cursor, line_start + match.start()
            cursor = match.end()
        if cursor < len(line):
            yield line_start + cursor, line_start + len(line)


def find_header_fields(text: str) -> list[HeaderField]:
    """Every header line (``Regie: Len Wiseman``, ``RegieLee Chung-hyun``) in the text."""
    fields: list[HeaderField] = []
    for start, end in iter_segments(text):
        segment = text[start:end]
        if not segment.strip():
            continue
        line_number = text.count("\n", 0, start)
        match = _COLON_FIELD.match(segment) if len(segment) <= 400 else None
        if match is None and line_number < _HEADER_ZONE_LINES and _looks_bare(segment):
            match = _BARE_FIELD.match(segment)
        if match is None:
            continue
        key, value = match.group(1).lower(), match.group(2).strip().rstrip("|").strip()
        if value:
            fields.append(HeaderField(HEADER_KEYS[key], value, start, end))
    return fields


def _looks_bare(segment: str) -> bool:
    stripped = segment.strip()
    return len(stripped) <= _BARE_FIELD_MAX_LINE and not stripped.endswith((".", "!", "?", "…"))


def parse_rating(raw: str, *, scale_hint: str | None = None) -> Rating | None:
    """Read ``3.5 von 5``, ``8/10``, ``★★★★☆``, ``4 Sterne``, ``72%`` or a bare number."""
    text = raw.strip().rstrip(".").strip()
    stars = text.count("★") + 0.5 * text.count("½")
    if stars:
        scale = text.count("★") + text.count("☆") + text.count("½")
        return _rating(text, stars, max(scale, 5))
    number = r"(\d+(?:[.,]\d+)?)"
    of_scale = re.search(rf"{number}\s*(?:/|von|of|out of|aus)\s*(\d+)", text, re.IGNORECASE)
    if of_scale:
        return _rating(text, _number(of_scale.group(1)), int(of_scale.group(2)))
    percent = re.search(rf"{number}\s*%", text)
    if percent:
        return _rating(text, _number(percent.group(1)), 100)
    star_words = re.search(rf"{number}\s*(?:sterne?|stars?|punkte?|points?)\b", text, re.I)
    if star_words:
        value = _number(star_words.group(1))
        return _rating(text, value, 5 if value <= 5 else 10)
    bare = re.fullmatch(number, text)
    if bare:
        value = _number(bare.group(1))
        if scale_hint and scale_hint.strip().isdigit():
            return _rating(text, value, int(scale_hint.strip()))
        return _rating(text, value, 5 if value <= 5 else 10 if value <= 10 else 100)
    return None


def _number(text: str) -> float:
    return float(text.replace(",", "."))


def _rating(raw: str, value: float, scale: int) -> Rating | None:
    if scale <= 0 or value < 0 or value > scale:
        return None
    return Rating(raw=raw, normalized=round(value / scale, 4), scale=scale)


def parse_year(value: str | None) -> int | None:
    match = _YEAR.search(value or "")
    return int(match.group(1)) if match else None


def content_hash(record: SourceRecord) -> str:
    """A hash of everything that shapes a review's chunks and metadata."""
    payload = json.dumps([record.text, sorted(record.fields.items())], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def parse_review(record: SourceRecord) -> Review:
    """Turn a loaded record into a Review with metadata from its header and fields."""
    values: dict[str, str] = {}
    for header in find_header_fields(record.text):
        if header.attribute and header.attribute not in values:
            values[header.attribute] = header.value
    has_header = bool(values)
    for key, value in record.fields.items():
        attribute = HEADER_KEYS.get(key.lower().replace("_", " "), key.lower())
        if attribute and value and attribute not in values:
            values[attribute] = value
    has_header = has_header or "title" in values

    author = values.get("author") or _copyright_author(record.text)

    title = values.get("title")
    original_title = values.get("original_title")
    if title is None and original_title is not None:
        title = _release_title(original_title, record.text)

    rating_raw = values.get("rating")
    scale_hint = values.get("rating scale") or values.get("rating_scale") or values.get("scale")
    language = values.get("language")
    return Review(
        review_id=record.review_id,
        source_path=record.source_path,
        record_key=record.record_key,
        format=record.format,
        text=record.text,
        content_hash=content_hash(record),
        title=title,
        original_title=original_title,
        year=parse_year(values.get("year")),
        director=values.get("director"),
        cast=_split_names(values.get("cast")),
        genre=values.get("genre"),
        age_rating=values.get("age_rating"),
        rating=parse_rating(rating_raw, scale_hint=scale_hint) if rating_raw else None,
        source=values.get("source"),
        author=author,
        date=values.get("date"),
        url=values.get("url"),
        language=language[:2].lower() if language else detect_language(record.text),
        has_header=has_header,
    )


def _split_names(value: str | None) -> list[str]:
    if not value:
        return []
    value = re.sub(r"\s+(?:u\.\s?a\.|and others|etc\.?)\s*$", "", value.strip())
    return [name.strip() for name in re.split(r",|;|\bund\b|\band\b", value) if name.strip()]


def _copyright_author(text: str) -> str | None:
    for line in reversed(text.strip().split("\n")[-8:]):
        match = _COPYRIGHT.match(line)
        if match:
            return match.group(1).strip()
    return None


def _release_title(original_title: str, text: str) -> str:
    """The title a review uses: "Ballerina" for "From the World of John Wick: Ballerina"."""
    if ":" not in original_title:
        return original_title
    short = original_title.rsplit(":", 1)[1].strip()
    quoted = re.search(rf"[„“\"«»‚']\s*{re.escape(short)}\s*[“”\"«»‘']", text)
    return short if short and quoted else original_title
