"""German–English word translations, for matching a question against reviews in the other
language ("cinemas" finds "Kinos", "Titelsong" answers "title song").

The word list is the Ding dictionary (TU Chemnitz, GPL), which Debian ships as
``trans-de-en``: one entry per line, ``German :: English``, parallel senses split by
`` | ``, synonyms by ``;``, notes in braces and brackets. Only one-word terms are kept,
stemmed per language; the parsed table is kept in a small SQLite file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path

from index.keyword import tokenize

log = logging.getLogger(__name__)

DEFAULT_DICTIONARY = Path("/usr/share/trans/de-en")
_CACHE_VERSION = 1
_NOTES = re.compile(r"\{[^}]*\}|\[[^\]]*\]|\([^)]*\)|<[^>]*>")
_WORD = re.compile(r"^[^\W\d_][\w'-]*[^\W\d_]$")
# A word with more senses than this is too vague to translate ("set", "Zug").
MAX_TRANSLATIONS = 24


class Lexicon:
    """Translations between German and English stems; empty when there is no dictionary.

    The parsed table lives in SQLite, so a question looks up its few words without
    loading the whole dictionary.
    """

    def __init__(self, database: Path | None = None) -> None:
        self._database = database
        self._connection: sqlite3.Connection | None = None

    def __bool__(self) -> bool:
        return self._database is not None

    def translate(self, word: str, *, source: str, target: str) -> frozenset[str]:
        """Stems in ``target`` for ``word`` (a word of ``source``, any case or form)."""
        if self._database is None or source == target or source not in ("de", "en"):
            return frozenset()
        if self._connection is None:
            uri = f"{self._database.resolve().as_uri()}?mode=ro"
            self._connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
        lower = word.lower()
        keys = [lower, *(f"~{stem}" for stem in tokenize(lower, language=source)[:1])]
        for key in keys:
            row = self._connection.execute(
                "SELECT stems FROM translations WHERE source = ? AND word = ?", (source, key)
            ).fetchone()
            if row:
                return frozenset(row[0].split())
        return frozenset()

    @classmethod
    def load(cls, path: Path | None, *, cache_dir: Path) -> Lexicon:
        """The dictionary at ``path``, parsed into ``cache_dir`` the first time."""
        if path is None or not path.is_file():
            if path is not None:
                log.info("no translation dictionary at %s; matching within languages only", path)
            return cls()
        stat = path.stat()
        signature = f"{_CACHE_VERSION}:{path.resolve()}:{stat.st_size}:{int(stat.st_mtime)}"
        # One file per dictionary: processes share the cache folder, and one that loads
        # another word list must not replace the table a running bot has yet to open.
        digest = hashlib.sha256(signature.encode("utf-8")).hexdigest()[:16]
        database = cache_dir / f"lexicon-{digest}.sqlite"
        if _signature(database) == signature:
            return cls(database)
        log.info("reading the translation dictionary %s (once)", path)
        with path.open(encoding="utf-8", errors="replace") as lines:
            table = build_table(lines)
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            partial = database.with_name(f"{database.name}.{os.getpid()}.partial")
            partial.unlink(missing_ok=True)
            with closing(sqlite3.connect(partial)) as connection, connection:
                connection.execute("CREATE TABLE meta (signature TEXT)")
                connection.execute("INSERT INTO meta VALUES (?)", (signature,))
                connection.execute(
                    "CREATE TABLE translations (source TEXT, word TEXT, stems TEXT, "
                    "PRIMARY KEY (source, word)) WITHOUT ROWID"
                )
                connection.executemany(
                    "INSERT INTO translations VALUES (?, ?, ?)",
                    (
                        (source, word, " ".join(sorted(stems)))
                        for source, words in table.items()
                        for word, stems in words.items()
                    ),
                )
            partial.replace(database)
        except (OSError, sqlite3.Error) as error:
            log.warning("could not store the lexicon in %s: %s", database, error)
            return cls()
        return cls(database)


def _signature(database: Path) -> str | None:
    if not database.is_file():
        return None
    try:
        uri = f"{database.resolve().as_uri()}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True)) as connection:
            row = connection.execute("SELECT signature FROM meta").fetchone()
    except sqlite3.Error:
        return None
    return str(row[0]) if row else None


def build_table(lines: Iterable[str]) -> dict[str, dict[str, frozenset[str]]]:
    """Word (and ``~stem``) of each language -> stems of its translations."""
    pairs: dict[str, dict[str, set[str]]] = {"de": defaultdict(set), "en": defaultdict(set)}
    for line in lines:
        if line.startswith("#") or " :: " not in line:
            continue
        german, english = line.rstrip("\n").split(" :: ", 1)
        for de_sense, en_sense in zip(german.split(" | "), english.split(" | "), strict=False):
            de_words = _terms(de_sense)
            en_words = [w[3:] if w.startswith("to ") else w for w in _terms(en_sense, verbs=True)]
            en_words = [w for w in en_words if _WORD.match(w)]
            for de_word in de_words:
                pairs["de"][de_word.lower()].update(en_words)
            for en_word in en_words:
                pairs["en"][en_word.lower()].update(de_words)
    table: dict[str, dict[str, frozenset[str]]] = {}
    for source, target in (("de", "en"), ("en", "de")):
        by_word: dict[str, set[str]] = defaultdict(set)
        for word, translations in pairs[source].items():
            if len(translations) > MAX_TRANSLATIONS:
                continue
            stems = {
                stem
                for translation in translations
                for stem in tokenize(translation, language=target)
                if len(stem) >= 3
            }
            if not stems:
                continue
            by_word[word] |= stems
            for stem in tokenize(word, language=source):
                by_word[f"~{stem}"] |= stems
        table[source] = {word: frozenset(stems) for word, stems in by_word.items()}
    return table


def _terms(sense: str, *, verbs: bool = False) -> list[str]:
    terms = []
    for raw in _NOTES.sub(" ", sense).split(";"):
        term = " ".join(raw.split())
        if verbs and term.startswith("to "):
            term = term[3:]
        if term and " " not in term and _WORD.match(term):
            terms.append(term)
    return terms
