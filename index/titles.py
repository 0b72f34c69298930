"""Finds the works a text names as people write them: part of a title, without its article,
inflected, with a typo, or translated ("The Two Towers" for "Der Herr der Ringe - Die zwei
Türme").

Every title is cut once into aliases (the title, its parts split at " - ", ":", "(", ",",
each with and without a leading article, and the distinctive beginnings and ends of those
parts); a text is then matched against the alias table by exact lookup, by rapidfuzz over
the longer aliases, and, given a lexicon, word by word across German and English.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from index.keyword import tokenize
from index.records import Review, Work
from index.works import normalize

ARTICLES = frozenset(
    [
        "der",
        "die",
        "das",
        "den",
        "dem",
        "des",
        "ein",
        "eine",
        "einer",
        "eines",
        "einem",
        "einen",
        "the",
        "a",
        "an",
        "le",
        "la",
        "les",
        "l",
    ]
)
# Words that end no title part worth naming alone ("Harry Potter und der").
_JOINERS = ARTICLES | frozenset(
    [
        "und",
        "and",
        "of",
        "von",
        "vom",
        "zu",
        "zum",
        "zur",
        "im",
        "in",
        "am",
        "an",
        "auf",
        "for",
        "to",
        "with",
    ]
)
# Chunks (or reviews) of other works that use a word before it counts as an everyday word.
EVERYDAY_WORD_CHUNKS = 3
# In a large corpus a one-word title, or a title part of two content words or more, is
# everyday words only when other works' chunks use its rarest word at least this often per
# work: at 110k chunks (9,797 works) "Ballerina" is used in 29 chunks of other films and
# stays a title, as "Sommer am See" ("sommer": 24) names its film; "Leben" (382) is a word.
# A one-word part ("Sommer" alone) keeps the fixed count.
EVERYDAY_TITLE_PER_WORK = 0.01
# rapidfuzz ratio (0..100) a span must reach against a title, and the shortest title that
# is matched fuzzily at all: "Kompas" may find "Kompass", "Crank" must not find "Frank".
FUZZY_SCORE = 88.0
MIN_FUZZY_CHARS = 8
# A one-word title shorter than that is found with one typo ("Knowning" for "Knowing") only by
# a capitalised word no indexed review uses: "Frank", a word of the reviews, stays Frank.
MIN_SHORT_TYPO_CHARS = 5
# Share of a title's words that must be found translated in the text.
MIN_TRANSLATED_SHARE = 0.6
_PARTS = re.compile(r"\s+[-–]\s+|:|\(|\)|\s/\s")
_TOKEN = re.compile(r"[^\W_][\w'’]*")
_QUOTES = "„“\"«'‚”»‘"


class Translator(Protocol):
    """What :class:`index.lexicon.Lexicon` offers: stems of a word in another language."""

    def translate(self, word: str, *, source: str, target: str) -> frozenset[str]: ...


@dataclass(frozen=True)
class TitleMatch:
    """A work a text names, the alias it was found by, and how ("title", "part", "fuzzy",
    "translated")."""

    work: Work
    alias: str
    span: str
    how: str
    score: float


class _Alias(NamedTuple):
    work_id: str
    key: str
    how: str  # "title" (a whole title or a part of it) or "part" (its beginning or end)
    one_word_everyday: bool
    whole: bool


@dataclass(frozen=True)
class _Token:
    raw: str
    key: str
    start: int
    end: int
    capitalised: bool


class TitleIndex:
    """The catalogue's titles as aliases, built once, matched against questions.

    ``vocabulary`` holds stemmed word counts per work id (chunks or reviews that use the
    word); with it, a one-word title that other works' reviews use as a word ("Leben") is
    only a title when quoted, and a title's beginning or end names it only when one of its
    words is rare in other works' reviews. ``term_totals`` (the counts summed over all
    works) spares summing ``vocabulary``, which is then read only for works that share a
    title, while building; the index keeps no work's vocabulary. ``lexicon`` (optional)
    finds titles translated between German and English.
    """

    def __init__(
        self,
        works: Iterable[Work],
        *,
        vocabulary: Mapping[str, Counter[str]] | None = None,
        term_totals: Counter[str] | None = None,
        lexicon: Translator | None = None,
        other_titles: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.works: dict[str, Work] = {}
        for work in works:
            if not work.title.startswith("("):
                self.works.setdefault(work.work_id, work)
        # Whole titles and parts of several words that other works' reviews use this often
        # are everyday words.
        self._everyday_title = max(EVERYDAY_WORD_CHUNKS, EVERYDAY_TITLE_PER_WORK * len(self.works))
        vocabulary = vocabulary or {}
        if term_totals is None:
            term_totals = Counter()
            for counts in vocabulary.values():
                term_totals.update(counts)
        self._totals: Counter[str] = term_totals
        self._own: Counter[str] = Counter()
        namesakes: dict[str, list[str]] = {}
        for work in self.works.values():
            namesakes.setdefault(normalize(work.title), []).append(work.work_id)
        # Plain tuples (read as _Alias): a large index unpickles many times faster.
        self._aliases: dict[str, list[tuple[str, str, str, bool, bool]]] = {}
        self._translated: dict[str, list[tuple[str, str, tuple[frozenset[str], ...]]]] = {}
        self._sense_cache: dict[str, list[frozenset[str]]] = {}
        for work in self.works.values():
            # Works that share this title ("Ballerina" of 2023 and 2025) are not "other"
            # works: their words are taken out of the totals while the title is cut.
            self._own = Counter()
            for namesake in namesakes[normalize(work.title)]:
                self._own.update(vocabulary.get(namesake, Counter()))
            titles = {
                work.title,
                work.original_title or "",
                *(other_titles or {}).get(work.work_id, ()),
            }
            for title in sorted(t for t in titles if t):
                self._add_title(work, title, lexicon)
        self._own = Counter()
        # Which stems some review uses, for :meth:`unused`; the counts were for building.
        self._used = frozenset(term for term, n in term_totals.items() if n > 0)
        self._totals = Counter()
        self._fuzzy_keys = sorted(
            key
            for key, aliases in self._aliases.items()
            if len(key) >= MIN_FUZZY_CHARS and any(a.how == "title" for a in self._of(key))
        )
        self._fuzzy_filter = _TrigramFilter(self._fuzzy_keys)
        self._short_keys = sorted(
            key
            for key in self._aliases
            if MIN_SHORT_TYPO_CHARS <= len(key) < MIN_FUZZY_CHARS
            and " " not in key
            and any(a.how == "title" and a.whole for a in self._of(key))
        )
        self.max_words = max((len(k.split()) for k in self._aliases), default=1)

    def _of(self, key: str) -> list[_Alias]:
        return [_Alias._make(a) for a in self._aliases.get(key, ())]

    @classmethod
    def from_reviews(
        cls,
        reviews: Sequence[Review],
        *,
        vocabulary: Mapping[str, Counter[str]] | None = None,
        term_totals: Counter[str] | None = None,
        lexicon: Translator | None = None,
    ) -> TitleIndex:
        """The index of the reviews' works, their titles and the titles their reviews give.

        Without ``vocabulary`` the word counts are taken from the review texts (per review).
        """
        works = {r.work.work_id: r.work for r in reviews if r.work}
        other: dict[str, list[str]] = {}
        for review in reviews:
            if review.work:
                other.setdefault(review.work.work_id, []).extend(
                    t for t in (review.title, review.original_title) if t
                )
        if vocabulary is None:
            counted: dict[str, Counter[str]] = {}
            for review in reviews:
                if review.work:
                    counts = counted.setdefault(review.work.work_id, Counter())
                    counts.update(set(_stems(review.text)))
            vocabulary = counted
        return cls(
            works.values(),
            vocabulary=vocabulary,
            term_totals=term_totals,
            lexicon=lexicon,
            other_titles=other,
        )

    # -- building -----------------------------------------------------------------------

    def _add_title(self, work: Work, title: str, lexicon: Translator | None) -> None:
        whole = normalize(title)
        added = [whole] if self._add(work, whole, "title", whole=True) else []
        parts = [p.split() for p in [whole, *(normalize(p) for p in _PARTS.split(title))] if p]
        bares = [words[1:] if words[0] in ARTICLES and len(words) > 1 else words for words in parts]
        telling = self._rarest(whole.split())
        for words, bare in zip(parts[1:], bares[1:], strict=True):
            if self._distinctive(bare, telling):
                for key in (" ".join(words), " ".join(bare)):
                    if self._add(work, key, "title"):
                        added.append(key)
        for bare in bares:
            for size in range(1, len(bare)):
                for piece in (_trimmed(bare[:size]), _trimmed(bare[-size:])):
                    key = " ".join(piece)
                    if (
                        len(piece) == 1
                        and lexicon is not None
                        and _in_dictionary(piece[0], lexicon)
                    ):
                        continue  # "Land" of "Tremors - Im Land der Raketenwürmer" is a word
                    if piece and self._distinctive(piece, telling) and self._add(work, key, "part"):
                        added.append(key)
        if lexicon is not None:
            raw = {normalize(w): w for w in _TOKEN.findall(title)}
            for key in dict.fromkeys(added):
                self._add_translation(work, key, [raw.get(w, w) for w in key.split()], lexicon)

    def _add(self, work: Work, key: str, how: str, *, whole: bool = False) -> bool:
        if len(key) < 3 and not key.isdigit():
            return False
        aliases = self._aliases.setdefault(key, [])
        if any(a[0] == work.work_id for a in aliases):
            return True
        everyday = " " not in key and self._elsewhere([key]) >= (
            self._everyday_title if whole else EVERYDAY_WORD_CHUNKS
        )
        aliases.append((work.work_id, key, how, everyday, whole))
        return True

    def _add_translation(
        self, work: Work, key: str, words: Sequence[str], lexicon: Translator
    ) -> None:
        if any(a.one_word_everyday for a in self._of(key)):
            return
        senses: list[frozenset[str]] = []
        translates = False
        for word in words:
            if normalize(word) in _JOINERS:
                continue
            word_senses = self._senses(word, lexicon)
            translates = translates or word_senses != [frozenset(_stems(word))]
            senses.extend(word_senses)
        if not senses or not translates:
            return  # nothing translates: the title is matched as written
        entry = (work.work_id, key, tuple(senses))
        for stem in set().union(*senses):
            self._translated.setdefault(stem, []).append(entry)

    def _senses(self, word: str, lexicon: Translator) -> list[frozenset[str]]:
        """The stems ``word`` may stand for in either language (two for a compound)."""
        if word not in self._sense_cache:
            own = frozenset(_stems(word))
            translated = lexicon.translate(word, source="de", target="en") | lexicon.translate(
                word, source="en", target="de"
            )
            if translated:
                self._sense_cache[word] = [own | translated]
            else:
                halves = _compound_halves(word, lexicon)
                self._sense_cache[word] = halves or [own]
        return self._sense_cache[word]

    def _elsewhere(self, words: Sequence[str]) -> int:
        """How often other works' reviews use the rarest of ``words`` (while building)."""
        counts = []
        for word in words:
            stems = set(_stems(word)) or {word}
            counts.append(max(self._totals[s] - self._own[s] for s in stems))
        return min(counts, default=0)

    def _distinctive(self, words: Sequence[str], telling: str | None = None) -> bool:
        """Whether some word of ``words`` is rare in other works' reviews (and not a joiner).

        A part of two content words or more that holds ``telling``, the title's rarest word,
        is measured against the corpus's size ("Sommer am See" of "Der letzte Sommer am
        See"); any other part against the fixed count ("Premium Edition" of a DVD's title).
        """
        content = _content_words(words)
        if not content or all(w.isdigit() for w in content):
            return False
        words_used = [w for w in content if not w.isdigit()]
        scaled = len(content) > 1 and telling in content
        everyday = self._everyday_title if scaled else EVERYDAY_WORD_CHUNKS
        return self._elsewhere(words_used) < everyday

    def _rarest(self, words: Sequence[str]) -> str | None:
        """The content word of ``words`` other works' reviews use least (while building)."""
        content = [w for w in _content_words(words) if not w.isdigit()]
        return min(content, key=lambda w: self._elsewhere([w]), default=None)

    # -- matching -----------------------------------------------------------------------

    def find(self, text: str) -> list[TitleMatch]:
        """The works ``text`` names, each with the alias that named it.

        Matches on overlapping words compete: the one covering more of a title wins
        ("Stargate Continuum" names that film, not also "Stargate"); two works found by the
        same alias are both returned ("Ballerina" of 2023 and of 2025).
        """
        found: list[TitleMatch] = []
        for variant in dict.fromkeys([text, text.replace("-", " ")]):
            tokens = _tokens(variant)
            candidates = self._exact(variant, tokens) + self._fuzzy(tokens)
            candidates += self._short_typos(tokens)
            candidates += self._translations(tokens)
            found.extend(_best_spans(candidates))
        unique: dict[str, TitleMatch] = {}
        for match in found:
            if match.work.work_id not in unique or match.score > unique[match.work.work_id].score:
                unique[match.work.work_id] = match
        return list(unique.values())

    def unused(self, phrase: str) -> bool:
        """Whether no indexed review uses any word of ``phrase`` (articles aside)."""
        words = [w for w in normalize(phrase).split() if w not in ARTICLES]
        return bool(words) and all(
            not any(s in self._used for s in (_stems(w) or [w])) for w in words
        )

    def _exact(self, text: str, tokens: list[_Token]) -> list[tuple[int, int, float, TitleMatch]]:
        found = []
        for start in range(len(tokens)):
            for end in range(start + 1, min(len(tokens), start + self.max_words + 1) + 1):
                key = " ".join(t.key for t in tokens[start:end])
                for alias in self._of(key):
                    if alias.one_word_everyday and not _quoted(text, tokens[start]):
                        continue
                    one_word_part = end - start == 1 and not alias.whole
                    if one_word_part and not tokens[start].capitalised:
                        continue
                    weight = len(key) * (1.0 if alias.how == "title" else 0.9)
                    if alias.whole:
                        # A work's whole title wins over the same words as part of another
                        # title ("Arielle, die Meerjungfrau - Wie alles begann").
                        weight += 0.5
                    match = TitleMatch(self.works[alias.work_id], key, key, alias.how, 100.0)
                    found.append((start, end, weight, match))
        return found

    def _fuzzy(self, tokens: list[_Token]) -> list[tuple[int, int, float, TitleMatch]]:
        spans = [
            (start, end, " ".join(t.key for t in tokens[start:end]))
            for start in range(len(tokens))
            for end in range(start + 1, min(len(tokens), start + self.max_words + 1) + 1)
        ]
        spans = [s for s in spans if len(s[2]) >= MIN_FUZZY_CHARS - 1]
        if not spans or not self._fuzzy_keys:
            return []
        keys = self._fuzzy_filter.candidates(" ".join(t.key for t in tokens))
        if not keys:
            return []
        scores = process.cdist(
            [s[2] for s in spans],
            keys,
            scorer=fuzz.ratio,
            score_cutoff=FUZZY_SCORE,
            workers=1,
        )
        found = []
        for row, column in zip(*scores.nonzero(), strict=True):
            start, end, span = spans[row]
            key = keys[column]
            score = float(scores[row, column])
            if span == key:
                continue  # found exactly already
            for alias in self._of(key):
                if alias.how == "title":
                    match = TitleMatch(self.works[alias.work_id], key, span, "fuzzy", score)
                    # Worth no more than the characters it matched: a longer title found
                    # with a typo loses to an exact match of the same words.
                    found.append((start, end, min(len(key), len(span)) * score / 100, match))
        return found

    def _short_typos(self, tokens: list[_Token]) -> list[tuple[int, int, float, TitleMatch]]:
        # An index pickled before short titles were matched has no such keys.
        keys = getattr(self, "_short_keys", ())
        found = []
        for position, token in enumerate(tokens):
            if (
                not keys
                or not token.capitalised
                or not MIN_SHORT_TYPO_CHARS - 1 <= len(token.key) <= MIN_FUZZY_CHARS
                or token.key in self._aliases
                or not self.unused(token.key)
            ):
                continue
            for key, edits, _ in process.extract(
                token.key, keys, scorer=OSA.distance, score_cutoff=1, limit=None
            ):
                score = 100 * (1 - edits / max(len(key), len(token.key)))
                for alias in self._of(key):
                    if alias.how == "title" and not alias.one_word_everyday:
                        work = self.works[alias.work_id]
                        match = TitleMatch(work, key, token.key, "fuzzy", score)
                        weight = min(len(key), len(token.key)) * score / 100
                        found.append((position, position + 1, weight, match))
        return found

    def _translations(self, tokens: list[_Token]) -> list[tuple[int, int, float, TitleMatch]]:
        if not self._translated:
            return []
        stems = [frozenset(_stems(t.raw)) if t.capitalised else frozenset() for t in tokens]
        entries = {
            entry[:2]: entry for s in set().union(*stems) for entry in self._translated.get(s, ())
        }
        found = []
        for work_id, key, senses in entries.values():
            positions = [
                next((i for i, got in enumerate(stems) if got & sense), None) for sense in senses
            ]
            hits = sorted({p for p in positions if p is not None})
            share = len([p for p in positions if p is not None]) / len(senses)
            if share < MIN_TRANSLATED_SHARE or (len(senses) > 1 and len(hits) < 2):
                continue
            start, end = hits[0], hits[-1] + 1
            if end - start > len(senses) + 2:
                continue
            match = TitleMatch(self.works[work_id], key, "", "translated", 100 * share)
            found.append((start, end, len(key) * share * 0.9, match))
        return found


class _TrigramFilter:
    """The title keys that some span of a text might match fuzzily, found without comparing
    the text with every key.

    A key within ``d`` edits of a span keeps at least ``len(key) - 2 - 3 * d`` of its
    character trigrams in the span (each edit touches at most three), hence in the text.
    ``d`` is at most what a ratio of FUZZY_SCORE allows against the longest span that can
    reach it, so no key a span matches is left out.
    """

    def __init__(self, keys: Sequence[str]) -> None:
        self._keys = list(keys)
        postings: dict[str, list[int]] = {}
        for position, key in enumerate(self._keys):
            for start in range(len(key) - 2):
                postings.setdefault(key[start : start + 3], []).append(position)
        self._postings = {t: np.array(p, dtype=np.int32) for t, p in postings.items()}
        self._needed = np.array([_trigrams_kept(len(k)) for k in self._keys], dtype=np.int32)

    def candidates(self, text: str) -> list[str]:
        """The keys, in their order, that keep enough trigrams in ``text``."""
        found = [self._postings[t] for t in _trigrams(text) if t in self._postings]
        counts = np.bincount(
            np.concatenate(found) if found else np.zeros(0, dtype=np.int32),
            minlength=len(self._keys),
        )
        return [self._keys[i] for i in np.flatnonzero(counts >= self._needed)]


def _trigrams(text: str) -> set[str]:
    return {text[i : i + 3] for i in range(len(text) - 2)}


def _trigrams_kept(length: int) -> int:
    """The fewest trigrams of a key of ``length`` characters that a matching span keeps."""
    # ratio = 100 * (1 - edits / (both lengths)), and the edits are at least the difference
    # in length: a longer span than this cannot reach the cutoff at all.
    longest_span = int(length * (200 - FUZZY_SCORE) / FUZZY_SCORE + 1e-9)
    edits = int((100 - FUZZY_SCORE) * (length + longest_span) / 100 + 1e-9)
    return length - 2 - 3 * edits


def _best_spans(candidates: list[tuple[int, int, float, TitleMatch]]) -> list[TitleMatch]:
    """The matches on words no better match covers; ties on the same words all stay."""
    chosen: list[tuple[int, int, float, TitleMatch]] = []
    for start, end, weight, match in sorted(candidates, key=lambda c: (-c[2], c[0])):
        rivals = [c for c in chosen if c[0] < end and start < c[1]]
        if not rivals or all(c[:3] == (start, end, weight) for c in rivals):
            chosen.append((start, end, weight, match))
    return [c[3] for c in chosen]


def _tokens(text: str) -> list[_Token]:
    """The words of ``text``; a capital at the start of a sentence does not count as one."""
    tokens = []
    for found in _TOKEN.finditer(text):
        raw = found.group(0)
        initial = not text[: found.start()].strip() or text[: found.start()].rstrip()[-1] in ".?!"
        capitalised = raw[0].isdigit() or (raw[0].isupper() and not initial)
        for key in normalize(raw).split():
            tokens.append(_Token(raw, key, found.start(), found.end(), capitalised))
    return tokens


def _content_words(words: Sequence[str]) -> list[str]:
    return [w for w in words if w.isdigit() or (len(w) >= 3 and not _stop_word(w))]


def _quoted(text: str, token: _Token) -> bool:
    before = text[: token.start].rstrip()[-1:]
    after = text[token.end :].lstrip()[:1]
    return bool(before) and before in _QUOTES and bool(after) and after in _QUOTES


def _trimmed(words: Sequence[str]) -> list[str]:
    """``words`` without joiners at either end ("harry potter und der" -> "harry potter")."""
    start, end = 0, len(words)
    while start < end and words[start] in _JOINERS:
        start += 1
    while end > start and words[end - 1] in _JOINERS:
        end -= 1
    return list(words[start:end])


def _stop_word(word: str) -> bool:
    if not _STOP_WORDS:
        from bm25s.stopwords import STOPWORDS_EN_PLUS, STOPWORDS_GERMAN

        _STOP_WORDS.update(normalize(w) for w in [*STOPWORDS_EN_PLUS, *STOPWORDS_GERMAN])
    return word in _JOINERS or word in _STOP_WORDS


_STOP_WORDS: set[str] = set()


def _in_dictionary(word: str, lexicon: Translator) -> bool:
    return bool(
        lexicon.translate(word, source="de", target="en")
        or lexicon.translate(word, source="en", target="de")
    )


def _stems(text: str) -> list[str]:
    return [*tokenize(text, language="de"), *tokenize(text, language="en")]


def _compound_halves(word: str, lexicon: Translator) -> list[frozenset[str]]:
    """English stems of both halves of a German compound ("Feuerkelch": fire; goblet)."""
    if len(word) < 8:
        return []
    for cut in range(len(word) - 4, 3, -1):
        head, tail = word[:cut], word[cut:]
        tail_stems = lexicon.translate(tail, source="de", target="en")
        head_stems = lexicon.translate(head, source="de", target="en") or lexicon.translate(
            head.rstrip("s"), source="de", target="en"
        )
        if head_stems and tail_stems:
            return [head_stems, tail_stems]
    return []
