"""Which sentences of the found passages answer a question, scored by the words they share.

A question word counts once, however many of its forms, synonyms or translations a
sentence contains ("music" matches "Musik" or "Score", not both); it counts by how rare
it is among the sentences looked at, and a German compound counts for its parts
("Titelsongs" for "title song"). Words that only name the subject (people, titles) add
a little but never suffice: "Wie alt ist Jeon Jong-seo?" is not answered by a sentence
that merely names her.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from bot.answers import Passage
from bot.engine.reading import ASPECTS, GENERIC_WORDS, SYNONYMS, Question
from index.chunking import Sentence, split_sentences
from index.keyword import tokenize
from index.lexicon import Lexicon
from index.metadata import find_header_fields
from index.works import normalize

ROLE_BONUS = 1.5
ANSWER_TYPE_BONUS = 0.5
PERVASIVE_SHARE = 0.4
PERVASIVE_WEIGHT = 0.5
COMPOUND_WEIGHT = 0.6
TRANSLATION_WEIGHT = 0.7
# A translation counts inside a compound only when it is this long ("ballett" in
# "Ballettschule", not "ring" in "gering").
TRANSLATED_PART = 5
SUBJECT_WEIGHT = 0.25
MIN_SUPPORT = 1.0
HEADER_BONUS = 2.5
LANGUAGES = ("de", "en")


@dataclass(frozen=True)
class Candidate:
    """A sentence that may answer the question, with the passage it is quoted from."""

    passage: Passage
    quote: str
    score: float
    asked: bool = False
    fact: str | None = None
    matched: tuple[str, ...] = ()
    # The sentence's own stems that matched, for showing the part of a long one they are in.
    focus: frozenset[str] = frozenset()
    # Its vector from the index, when it has one (the screen then needs no embedding).
    vector: Sequence[float] | None = None


@dataclass(frozen=True)
class TermGroup:
    """One word of the question and every stem, per language, that counts as it."""

    word: str
    stems: dict[str, frozenset[str]]
    subject: bool
    capitalised: bool
    # Dictionary translations: a word has several senses, so these count for less.
    translations: dict[str, frozenset[str]] = field(default_factory=dict)


@lru_cache(maxsize=2)
def _question_stopwords() -> frozenset[str]:
    from bm25s import stopwords

    return frozenset(stopwords.STOPWORDS_EN_PLUS) | frozenset(stopwords.STOPWORDS_GERMAN)


def naming_words(question: Question) -> set[str]:
    """Words that only name the question's works (title words, years): every passage of
    the work has them, so they say nothing about what answers it."""
    naming = {t for work in question.works for t in normalize(work.title).split()}
    return naming | {str(work.year) for work in question.works if work.year}


def term_groups(question: Question, lexicon: Lexicon | None = None) -> list[TermGroup]:
    """The question's content words, each with its stems, synonyms and translations."""
    naming = naming_words(question)
    names = {w for name in question.names for w in normalize(name).split()}
    deciding = {w.lower() for w in question.deciding}
    # "die Kritik mit 3.5 Punkten" says which review, not what the answer is about.
    deciding |= {
        w.lower() for m in _RATING_MENTION.finditer(question.text) for w in m.group(0).split()
    }
    stop = _question_stopwords()
    groups: list[TermGroup] = []
    seen: set[str] = set()
    for match in re.finditer(r"[^\W_]+", question.text):
        word = match.group(0)
        lower = word.lower()
        if (
            len(lower) < 2
            or lower in seen
            or lower in stop
            or lower in GENERIC_WORDS
            or lower in naming
        ):
            continue
        seen.add(lower)
        forms = [lower, *SYNONYMS.get(lower, ())]
        stems: dict[str, frozenset[str]] = {}
        translations: dict[str, frozenset[str]] = {}
        for language in LANGUAGES:
            stems[language] = frozenset(
                t for form in forms for t in tokenize(form, language=language)
            )
            translations[language] = frozenset()
            if lexicon is not None:
                # Into the review's language; within one language, for the other's loanwords
                # ("Drehbuch" finds the "Spec-Script" of a German review).
                target = language if language != question.language else _other(language)
                translated = lexicon.translate(word, source=question.language, target=target)
                translations[language] = translated - stems[language]
        capitalised = question.language == "en" and word[0].isupper() and match.start() > 0
        subject = lower in names or lower in deciding
        groups.append(TermGroup(lower, stems, subject, capitalised, translations))
    return groups


def candidates(
    question: Question,
    passages: Sequence[Passage],
    lexicon: Lexicon | None = None,
    *,
    stored: StoredBounds | None = None,
) -> list[Candidate]:
    """Sentences that share content words with the question (or state the asked field).

    ``stored``: the sentences the indexer stored per chunk id, so passages need not be split
    again."""
    groups = term_groups(question, lexicon)
    content = [g for g in groups if not g.subject]
    roles = _roles_asked(question)
    plain = asks_field(question, groups)
    header_bonus = HEADER_BONUS if plain else 1.0
    sentences: list[tuple[Passage, int, str, set[str], bool, str | None]] = []
    before: dict[tuple[str, str], str] = {}  # the sentence before, in the same passage
    seen: set[tuple[str, str]] = set()
    for rank, passage in enumerate(passages):
        headers = {(f.start, f.end): f for f in find_header_fields(passage.text)}
        previous: int | None = None
        for sentence in sentences_in(passage, stored):
            quote = passage.text[sentence.start : sentence.end].strip()
            if previous is not None and len(quote) >= 3:
                before[(passage.chunk_id, quote)] = passage.text[previous : sentence.end].strip()
            previous = sentence.start
            if len(quote) < 3 or (passage.review_id, quote) in seen:
                continue
            seen.add((passage.review_id, quote))
            header = headers.get((sentence.start, sentence.end))
            asked = bool(header and question.aspect and header.attribute == question.aspect)
            asked = asked and plain
            terms = set(terms_of(quote, passage.language))
            shown = _header_as_field(quote, header.value) if header else None
            sentences.append((passage, rank, quote, terms, asked, shown))
    frequency: Counter[str] = Counter(t for *_, terms, _, _ in sentences for t in terms)
    total = max(1, len(sentences))
    pervasive = _pervasive_terms(passages)
    expected = expected_answer(question)

    def rarity(term: str) -> float:
        count = frequency[term] or 1
        return 0.4 + math.log(total / count) / math.log(total + 1)

    found: list[Candidate] = []
    for passage, rank, quote, terms, asked, shown in sentences:
        score = 0.0
        setting = 0.0  # words that pervade the passages say which film, not what about it
        matched: list[str] = []
        focus: set[str] = set()
        for group in content:
            stems = group.stems[passage.language]
            weight, hits = _group_weight(stems, terms, rarity, pervasive)
            if not weight and (translated := group.translations.get(passage.language)):
                weight, hits = _group_weight(
                    translated, terms, rarity, pervasive, shortest_part=TRANSLATED_PART
                )
                weight *= TRANSLATION_WEIGHT
            focus |= hits
            if hits and hits <= pervasive:
                setting += weight
            elif weight:
                score += weight * (2 if group.capitalised else 1)
            if weight:
                matched.append(group.word)
        if asked:
            score += header_bonus
        if any(role.search(quote) for role in roles):
            score += ROLE_BONUS
        if score < MIN_SUPPORT:
            continue
        score += setting
        for group in groups:
            if group.subject and (named := group.stems[passage.language] & terms):
                score += SUBJECT_WEIGHT
                focus |= named
        if expected is _NAMES and not expected.search(quote) and _BACK_REFERENCE.search(quote):
            # "Dennoch hat er … einen Oscar erhalten.": who "er" is, the sentence before says.
            quote = before.get((passage.chunk_id, quote), quote)
        if expected is not None and expected.search(quote):
            score += ANSWER_TYPE_BONUS
        score += 0.3 / (rank + 1)
        found.append(
            Candidate(passage, quote, score, asked, shown, tuple(matched), frozenset(focus))
        )
    return found


def _group_weight(
    stems: frozenset[str],
    terms: set[str],
    rarity: Callable[[str], float],
    pervasive: set[str],
    *,
    shortest_part: int = 4,
) -> tuple[float, set[str]]:
    """How much one question word counts in a sentence (its rarest form present), and
    the sentence's terms that matched it."""
    exact = stems & terms
    if exact:
        return max(PERVASIVE_WEIGHT if t in pervasive else rarity(t) for t in exact), set(exact)
    best = 0.0
    parts: set[str] = set()
    for term in terms:
        if len(term) < 7:
            continue
        for stem in stems:
            if (
                len(stem) >= shortest_part
                and len(term) >= len(stem) + 3
                and (term.startswith(stem) or term.endswith(stem))
            ):
                best = max(best, COMPOUND_WEIGHT * rarity(term))
                parts.add(term)
    return best, parts


def asks_field(question: Question, groups: Sequence[TermGroup]) -> bool:
    """Whether the question asks for a header field as such: "Wer spielt die Hauptrolle?"
    does; "Who plays the friend who dies?" asks for one person, whom the text names."""
    if question.aspect is None or _roles_asked(question):
        return False
    content = [g for g in groups if not g.subject]
    return len(_beside_aspect(question, content)) <= 1


def _beside_aspect(question: Question, groups: Sequence[TermGroup]) -> list[TermGroup]:
    """The question's words other than those naming the field it asks ("Regie", "FSK")."""
    pattern = ASPECTS.get(question.aspect or "")
    if pattern is None:
        return list(groups)
    naming = {
        word.lower()
        for match in pattern.finditer(question.text)
        for word in re.findall(r"[^\W_]+", match.group(0))
    }
    return [g for g in groups if g.word not in naming]


class Bounds(Protocol):
    """Where a sentence lies in its passage's text."""

    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...


# The sentences the indexer stored, per chunk id (see index.sentence_store).
StoredBounds = Mapping[str, Sequence[Bounds]]


def sentences_in(passage: Passage, stored: StoredBounds | None) -> Sequence[Bounds]:
    """The passage's sentences as the indexer stored them, or split now (a chunk stored
    without them, or no store at hand)."""
    found = stored.get(passage.chunk_id) if stored is not None else None
    return found or sentences_of(passage.text, passage.language)


@lru_cache(maxsize=8192)
def sentences_of(text: str, language: str) -> tuple[Sentence, ...]:
    """The sentences of a passage; kept, since the same passages answer many questions."""
    return tuple(split_sentences(text, language=language))


@lru_cache(maxsize=65536)
def terms_of(sentence: str, language: str) -> frozenset[str]:
    """The sentence's stems; kept, since the same sentences are weighed for many questions."""
    return frozenset(tokenize(sentence, language=language))


def _other(language: str) -> str:
    return "en" if language == "de" else "de"


def _header_as_field(quote: str, value: str) -> str | None:
    """``RegieLee Chung-hyun`` shown as ``Regie: Lee Chung-hyun``."""
    key = quote[: quote.rfind(value)].strip(" :|_") if value in quote else ""
    return f"{key}: {value}" if key else None


_ROLE_QUESTION = re.compile(
    r"\bcharacters?\b|\brole\b|\bwhich parts?\b|\bwho does .+ play\b|\bwho plays\b|"
    r"\bwe[rn] spielte?\b|\brolle\b|\b\w*figur(?:en)?\b|\bwelche[nr]? .*\bspielte?\b",
    re.I,
)


def _roles_asked(question: Question) -> list[re.Pattern[str]]:
    """Reviews write roles as "Charon (Lance Reddick)": that answers "Which character does
    Lance Reddick play?", and "Choi (Kim Ji-hoon)" answers "Who plays the villain Choi?"."""
    if not _ROLE_QUESTION.search(question.text):
        return []
    patterns = [
        re.compile(rf"\(\s*{re.escape(name)}\s*\)|{re.escape(name)}\s*\(", re.I)
        for name in question.names
        if " " in name
    ]
    naming = naming_words(question)
    for match in re.finditer(r"(?<=\s)[A-ZÄÖÜ][\w-]{2,}", question.text):
        if match.group(0).lower() not in naming:
            word = re.escape(match.group(0))
            patterns.append(re.compile(rf"\b{word}\w*\s*\((?=[A-ZÄÖÜ])"))
    return patterns


def _pervasive_terms(passages: Sequence[Passage]) -> set[str]:
    """Words in most of the passages found ("Netflix" in reviews of a Netflix film).

    They mostly say which film a passage is about, so they weigh little; a character's
    name is pervasive too, so they still count.
    """
    if len(passages) < 3:
        return set()
    counts: Counter[str] = Counter()
    for passage in passages:
        counts.update(set(tokenize(passage.text, language=passage.language)))
    return {term for term, n in counts.items() if n / len(passages) >= PERVASIVE_SHARE}


# What an answer to a who / when / how-many question contains.
_FUNCTION_WORDS = json.loads(
    (Path(__file__).resolve().parent.parent / "data" / "function_words.json").read_text(
        encoding="utf-8"
    )
)
_NOT_A_NAME = rf"(?!(?:{'|'.join(map(re.escape, _FUNCTION_WORDS['not_name_start']))})\b)"
_NAME = rf"{_NOT_A_NAME}[A-ZÄÖÜ][\w'-]+(?:\s+(?:de\s+|van\s+|von\s+)?[A-ZÄÖÜ][\w'-]+)+"
_NAMES = re.compile(rf"\({_NAME}\)|{_NAME}")
_PERSON_NOUNS = (
    r"schauspieler\w*|darsteller\w*|regisseur\w*|komponist\w*|musiker\w*|sänger\w*|band|"
    r"autor\w*|figur|person|mann|frau|verleih\w*|studio|actor|actress|director|composer|"
    r"musician|singer|rapper|band|writer|author|character|person|man|woman|distributor|studio"
)
_ANSWER_TYPES: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    (
        re.compile(
            rf"^\s*(?:wer|who|whom|von wem|by whom)\b|"
            rf"\b(?:welche[rns]?|which)\b(?:\s+[\w-]+){{0,2}}\s+(?:{_PERSON_NOUNS})\b",
            re.I,
        ),
        _NAMES,
    ),
    (
        re.compile(
            r"^\s*(?:wann|when)\b|\b(?:welchem jahr|what year|which year|dates?)\b|"
            r"\b\w*datum\b",  # "Erscheinungsdatum", not "update"
            re.I,
        ),
        re.compile(r"\b(?:1[89]|20)\d\d\b|\b\d{1,2}\.\s?\d{1,2}\.|\b\d{1,2}\. [A-ZÄÖÜ][a-zäöü]+"),
    ),
    (
        re.compile(r"\b(?:wie ?viele[nr]?|wie lange?|wie alt|how (?:many|long|much|old))\b", re.I),
        re.compile(r"\b\d+\b"),
    ),
)
_RATING_MENTION = re.compile(
    r"\b\d+(?:[.,]\d+)?\s*(?:/\s*\d+\s*)?(?:punkte?n?|sterne?n?|points?|stars?)\b", re.I
)
_BACK_REFERENCE = re.compile(r"\b(?:er|sie|ihm|ihn|ihr|he|she|him|his|her|they|them)\b")
# For these the answer must contain a number or a date, or the reviews do not give it.
NUMERIC_QUESTION = re.compile(
    r"^\s*(?:wann|when)\b|\b(?:wie ?viele[nr]?|wie lange?|wie alt|wie hoch|"
    r"how (?:many|long|much|old)|in minuten|in minutes|welchem jahr|what year)\b",
    re.I,
)


def expected_answer(question: Question) -> re.Pattern[str] | None:
    """The shape of text that would answer the question (a name, a date, a number)."""
    for asks, answer in _ANSWER_TYPES:
        if asks.search(question.text):
            return answer
    return None
