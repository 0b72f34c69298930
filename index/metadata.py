"""Parses a review's metadata from its header lines and structured fields."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

from index.language import detect_language, language_code
from index.records import Rating, Review, SourceRecord

# Header keys as German and English review sites label a film's facts, mapped to the Review
# attribute they fill. None marks a known key whose value we do not keep; it still makes the
# line a header. Keys a site uses only once (a footer's "Geschnitten: Nein") are not listed:
# a line of several ``key: value`` fields is a header line whatever its keys (see below).
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
}

# Longest keys first so that "originaltitel" wins over "titel".
_KEYS_PATTERN = "|".join(re.escape(k) for k in sorted(HEADER_KEYS, key=len, reverse=True))
_COLON_FIELD = re.compile(rf"^\s*({_KEYS_PATTERN})\s*:\s*(.+?)\s*$", re.IGNORECASE)
# "TitelBallerina", "Jahr2023", "Genre Action, Thriller": key glued or spaced, no colon.
_BARE_FIELD = re.compile(rf"^\s*((?i:{_KEYS_PATTERN}))(?:\s+|(?=[A-ZÄÖÜ0-9]))(.+?)\s*$")
# "Copyright aller Filmbilder/Label: Leonine": any key of up to four words, for field lines.
_ANY_COLON_FIELD = re.compile(r"^\s*([^\W\d_][\w/.&-]*(?:[ ][\w/.&-]+){0,3})\s*:\s*(\S.*?)\s*$")
_SEGMENT_SPLIT = re.compile(r"__|\s\|\s|^\s*\|\s*|\s*\|\s*$")
_BARE_FIELD_MAX_LINE = 60
_HEADER_ZONE_LINES = 15
_COLON_FIELD_MAX_SEGMENT = 400
_PERSON_ATTRIBUTES = frozenset({"director", "cast", "author"})
_WORD = re.compile(r"[^\W\d_][\w'’.-]*")
# "© Nils Bothmann (McClane)": the parenthesis may be a pen name or a site, so it is dropped.
_COPYRIGHT = re.compile(r"^\s*©\s*(?:\d{4}\s+)?([^()\n]{3,60}?)\s*(?:\([^)]{2,60}\))?\s*$")
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
# "-3 von 5", "Wertung: − 2": a minus sign before the number (not "2-3", a range).
_NEGATIVE = re.compile(r"(?<![\w.,])[-−]\s?\d")
_STAR_SCALES = (5, 10)


@dataclass(frozen=True)
class HeaderField:
    """One ``key: value`` found in a review's text, with where it stands."""

    attribute: str | None
    value: str
    start: int
    end: int


def iter_segments(text: str) -> Iterator[tuple[int, int]]:
    """Yield (start, end) of each line, split further at ``__`` and `` | `` separators."""
    for _, line_start, line in _lines(text):
        yield from _line_segments(line, line_start)


def _lines(text: str) -> Iterator[tuple[int, int, str]]:
    """(line number, start offset, line) for each line of ``text``."""
    pos = 0
    for number, line in enumerate(text.split("\n")):
        yield number, pos, line
        pos += len(line) + 1


def _line_segments(line: str, line_start: int) -> Iterator[tuple[int, int]]:
    cursor = 0
    for match in _SEGMENT_SPLIT.finditer(line):
        if match.start() > cursor:
            yield line_start + cursor, line_start + match.start()
        cursor = match.end()
    if cursor < len(line):
        yield line_start + cursor, line_start + len(line)


def find_header_fields(text: str) -> list[HeaderField]:
    """Every header line (``Regie: Len Wiseman``, ``RegieLee Chung-hyun``) in the text.

    ``Key: value`` counts anywhere. A key without a colon ("RegieLee Chung-hyun") counts
    only near the top, in a block of at least two lines made of header fields alone, where
    it cannot be the first word of a sentence ("Regie führt hier ein Debütant").
    """
    fields: list[HeaderField] = []
    block: list[list[_Candidate | None]] = []
    for number, line_start, line in _lines(text):
        in_zone = number < _HEADER_ZONE_LINES
        if not line.strip() or not in_zone:
            fields.extend(_block_fields(block))
            block = []
        if not line.strip():
            continue
        candidates = _line_fields(text, line, line_start, in_zone=in_zone)
        if in_zone:
            block.append(candidates)
        else:
            fields.extend(c.field for c in candidates if c is not None)
    fields.extend(_block_fields(block))
    return fields


@dataclass(frozen=True)
class _Candidate:
    field: HeaderField
    bare: bool


def _block_fields(block: list[list[_Candidate | None]]) -> list[HeaderField]:
    is_header_block = len(block) >= 2 and all(c is not None for line in block for c in line)
    return [
        c.field for line in block for c in line if c is not None and (is_header_block or not c.bare)
    ]


def _line_fields(
    text: str, line: str, line_start: int, *, in_zone: bool
) -> list[_Candidate | None]:
    """The line's segments as header fields, None for a segment that is prose."""
    segments = [(s, e) for s, e in _line_segments(line, line_start) if text[s:e].strip()]
    found = [_colon_field(text[s:e], s, e, _COLON_FIELD) for s, e in segments]
    if len(segments) > 1 and None in found:
        # "Label: Leonine__Geschnitten: Nein": a line made of fields has keys of any name.
        generic = [_colon_field(text[s:e], s, e, _ANY_COLON_FIELD) for s, e in segments]
        if None not in generic:
            found = [known or other for known, other in zip(found, generic, strict=True)]
    candidates: list[_Candidate | None] = []
    for (start, end), field in zip(segments, found, strict=True):
        if field is not None:
            candidates.append(_Candidate(field, bare=False))
        elif in_zone and _looks_bare(text[start:end]):
            bare = _field_from(_BARE_FIELD.match(text[start:end]), start, end)
            candidates.append(_Candidate(bare, bare=True) if bare else None)
        else:
            candidates.append(None)
    return candidates


def _colon_field(
    segment: str, start: int, end: int, pattern: re.Pattern[str]
) -> HeaderField | None:
    if len(segment) > _COLON_FIELD_MAX_SEGMENT:
        return None
    return _field_from(pattern.match(segment), start, end)


def _field_from(match: re.Match[str] | None, start: int, end: int) -> HeaderField | None:
    if match is None:
        return None
    key, value = match.group(1).lower(), match.group(2).strip().rstrip("|").strip()
    attribute = HEADER_KEYS.get(key)
    if not value or (attribute in _PERSON_ATTRIBUTES and _reads_like_sentence(value)):
        return None
    return HeaderField(attribute, value, start, end)


def _reads_like_sentence(value: str) -> bool:
    """Names are capitalised ("Ana de Armas"); most words of a sentence are not."""
    words = _WORD.findall(value)
    lower = sum(word[0].islower() for word in words)
    return len(words) >= 3 and 2 * lower > len(words)


def _looks_bare(segment: str) -> bool:
    stripped = segment.strip()
    return len(stripped) <= _BARE_FIELD_MAX_LINE and not stripped.endswith((".", "!", "?", "…"))


def parse_rating(raw: str, *, scale_hint: str | None = None) -> Rating | None:
    """Read ``3.5 von 5``, ``8/10``, ``★★★★☆``, ``4 Sterne``, ``72%`` or a bare number.

    A negative value, a value above its scale or a star run of no usual scale is no rating.
    """
    text = raw.strip().rstrip(".").strip()
    if _NEGATIVE.search(text):
        return None
    if "★" in text:
        return _star_rating(text)
    # "3½ von 5" is 3.5 of 5.
    numeric = re.sub(r"(\d*)\s?½", lambda m: f"{m.group(1) or 0}.5", text)
    number = r"(\d+(?:[.,]\d+)?)"
    of_scale = re.search(rf"{number}\s*(?:/|von|of|out of|aus)\s*(\d+)", numeric, re.I)
    if of_scale:
        return _rating(text, _number(of_scale.group(1)), int(of_scale.group(2)))
    percent = re.search(rf"{number}\s*%", numeric)
    if percent:
        return _rating(text, _number(percent.group(1)), 100)
    star_words = re.search(rf"{number}\s*(?:sterne?|stars?|punkte?|points?)\b", numeric, re.I)
    if star_words:
        value = _number(star_words.group(1))
        return _rating(text, value, 5 if value <= 5 else 10)
    bare = re.fullmatch(number, numeric)
    if bare:
        value = _number(bare.group(1))
        if scale_hint and scale_hint.strip().isdigit():
            return _rating(text, value, int(scale_hint.strip()))
        return _rating(text, value, 5 if value <= 5 else 10 if value <= 10 else 100)
    return None


def _star_rating(text: str) -> Rating | None:
    """``★★★½☆`` is 3.5 of 5; full stars alone are out of 5. A run with empty stars must
    be as long as a usual scale: ``★★★★★★★★`` or ``★★★☆☆☆☆`` tells no scale at all."""
    full, half, empty = text.count("★"), text.count("½"), text.count("☆")
    value = full + 0.5 * half
    if empty:
        scale = full + half + empty
        return _rating(text, value, scale) if scale in _STAR_SCALES else None
    return _rating(text, value, _STAR_SCALES[0]) if value <= _STAR_SCALES[0] else None


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
    language = language_code(values.get("language") or "")
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
        language=language or detect_language(record.text),
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
