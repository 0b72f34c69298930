"""Tells German from English text by its function words."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

_WORD = re.compile(r"[a-zäöüß]+")

_FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "de": frozenset(
        [
            "der",
            "die",
            "das",
            "und",
            "ist",
            "nicht",
            "ein",
            "eine",
            "einen",
            "dem",
            "den",
            "des",
            "mit",
            "sich",
            "auch",
            "auf",
            "für",
            "von",
            "zu",
            "im",
            "es",
            "wer",
            "wie",
            "was",
            "wo",
            "warum",
            "welche",
            "welcher",
            "welches",
            "hat",
            "haben",
            "wird",
            "wurde",
            "sind",
            "war",
            "noch",
            "nur",
            "aber",
            "als",
            "am",
            "bei",
            "aus",
            "nach",
            "über",
            "sehr",
            "doch",
            "kein",
            "keine",
            "gibt",
            "sagt",
            "sagen",
            "ich",
            "du",
            "sie",
            "er",
            "wir",
            "ihr",
            "mir",
            "mich",
            "uns",
            "dass",
            "oder",
            "wenn",
            "schon",
            "so",
            "um",
            "man",
            "hier",
            "gut",
            "film",
            "filme",
            "kritik",
            "kritiken",
            "rezension",
            "rezensionen",
            "regie",
            "musik",
            "geführt",
            "spielt",
            "bewertung",
            "wieviele",
            "wieviel",
            "viele",
        ]
    ),
    "en": frozenset(
        [
            "the",
            "and",
            "is",
            "are",
            "was",
            "were",
            "not",
            "a",
            "an",
            "of",
            "to",
            "in",
            "it",
            "its",
            "with",
            "for",
            "on",
            "by",
            "from",
            "that",
            "this",
            "who",
            "what",
            "when",
            "where",
            "why",
            "which",
            "how",
            "has",
            "have",
            "had",
            "does",
            "did",
            "do",
            "be",
            "been",
            "will",
            "would",
            "there",
            "their",
            "they",
            "he",
            "she",
            "his",
            "her",
            "them",
            "about",
            "than",
            "then",
            "very",
            "but",
            "or",
            "if",
            "so",
            "as",
            "at",
            "movie",
            "film",
            "review",
            "reviews",
            "critics",
            "director",
            "directed",
            "music",
            "plays",
            "rating",
            "many",
            "much",
            "best",
            "worst",
            "i",
            "you",
            "we",
            "me",
            "my",
            "our",
            "like",
        ]
    ),
}

SUPPORTED_LANGUAGES = tuple(_FUNCTION_WORDS)


def detect_language(text: str, *, default: str = "de") -> str:
    """Return ``"de"`` or ``"en"`` for the text, ``default`` when it gives no clue."""
    words = _WORD.findall(text.lower())
    if any(ch in text for ch in "äöüßÄÖÜ"):
        words.extend(["der"] * 2)
    scores = {lang: sum(w in vocab for w in words) for lang, vocab in _FUNCTION_WORDS.items()}
    best = max(scores, key=lambda lang: scores[lang])
    if scores[best] == 0 or list(scores.values()).count(scores[best]) > 1:
        return default
    return best


# ISO 639-1 codes by their ISO 639-1, 639-2/B and 639-2/T codes and the languages' English,
# German and own names; the file names its source.
LANGUAGE_NAMES = Path(__file__).resolve().parent / "data" / "language_names.json"
# "de-DE", "en_US", "German (Austria)": the language comes first.
_LANGUAGE_PART = re.compile(r"[^\W\d_]+")


def language_code(value: str) -> str | None:
    """The ISO 639-1 code that ``value`` names ("German", "Deutsch", "deu", "de-AT" → "de"),
    or None when it names no language we know."""
    first = _LANGUAGE_PART.search(value.casefold())
    return _code_by_name().get(first.group(0)) if first else None


@cache
def _code_by_name() -> dict[str, str]:
    table = json.loads(LANGUAGE_NAMES.read_text(encoding="utf-8"))
    return {
        name: code for code, names in table.items() if not code.startswith("_") for name in names
    }
