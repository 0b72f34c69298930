"""Reads a question: its language, the works it names, what it asks about."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from index.language import detect_language
from index.records import Review, Work
from index.works import normalize

# Which header field a question asks about, by its wording (German and English).
ASPECTS: dict[str, re.Pattern[str]] = {
    "director": re.compile(
        r"regie|regisseur|inszeniert|gedreht|directed|director|direction|filmmaker", re.I
    ),
    "cast": re.compile(
        r"hauptrolle|hauptdarsteller|spielt|spielen|darsteller|schauspieler|besetzung|"
        r"\bcast\b|\bstars?\b|starring|\bplays?\b|actor|actress|\blead\b", re.I
    ),
    "year": re.compile(r"welchem jahr|erscheinungsjahr|wann (?:kam|erschien)|what year|"
                       r"when was .* released|release year", re.I),
    "genre": re.compile(r"\bgenre\b", re.I),
    "age_rating": re.compile(r"\bfsk\b|altersfreigabe|age rating|\bab \d+\b", re.I),
}

_COUNT = re.compile(r"wie ?viele|anzahl|how many|number of|count", re.I)
_AVERAGE = re.compile(r"durchschnitt|im schnitt|mittel|average|mean rating", re.I)
_BEST = re.compile(r"\bbeste[nrs]?\b|am besten|höchste|best|highest|top[- ]rated", re.I)
_WORST = re.compile(r"schlechteste[nrs]?|am schlechtesten|niedrigste|worst|lowest", re.I)
_RATING_WORDS = re.compile(r"bewert|wertung|rating|rated|sterne|punkte|score|note", re.I)
_LIST_WORKS = re.compile(
    r"welche (?:filme|werke)|which (?:films|movies|works)|list (?:the |all )?(?:films|movies|works)",
    re.I,
)
_YEAR = re.compile(r"\b(19\d\d|20\d\d)\b")
# Words that show a question continues the previous one ("Und wer spielt die Hauptrolle?").
_FOLLOW_UP = re.compile(
    r"^\s*(?:und|and|also|auch|what about|how about|was ist mit)\b|"
    r"\b(?:er|ihm|ihn|ihr|ihre[mnrs]?|sein(?:e[mnrs]?)?|dessen|deren|he|she|it|its|his|hers?|"
    r"they|their|them|this film|the film|that film|der film|dem film|den film|dieser film|"
    r"diesem film|dort|there)\b",
    re.I,
)


@dataclass
class Question:
    """What a question asks, as far as metadata can tell."""

    text: str
    language: str
    works: list[Work] = field(default_factory=list)
    ambiguous: bool = False
    aspect: str | None = None
    intent: str | None = None
    author: str | None = None
    inherited: bool = False


def read_question(
    text: str, reviews: Sequence[Review], *, previous_works: Sequence[Work] = ()
) -> Question:
    """Analyse ``text`` against the indexed reviews; ``previous_works`` serve follow-ups."""
    language = detect_language(text, default="en" if re.search(r"[a-z]", text) else "de")
    if re.search(r"[äöüß]", text, re.I):
        language = "de"
    question = Question(text=text, language=language)
    question.aspect = next((name for name, p in ASPECTS.items() if p.search(text)), None)
    question.intent = _intent(text)
    question.author = _author(text, reviews)
    works = _named_works(text, reviews)
    if not works and previous_works and not question.author and _FOLLOW_UP.search(text):
        works, question.inherited = list(previous_works), True
    question.works = works
    titles = {normalize(w.title) for w in works}
    question.ambiguous = len(works) > 1 and len(titles) == 1
    return question


def _intent(text: str) -> str | None:
    if _LIST_WORKS.search(text):
        return "list"
    if _COUNT.search(text):
        return "count"
    rating = _RATING_WORDS.search(text)
    if _AVERAGE.search(text) and rating:
        return "average"
    if _AVERAGE.search(text):
        return "average"
    if rating and _BEST.search(text):
        return "best"
    if rating and _WORST.search(text):
        return "worst"
    if re.search(r"(?:am )?besten bewertet|best[- ]rated|highest[- ]rated", text, re.I):
        return "best"
    if re.search(r"(?:am )?schlechtesten bewertet|worst[- ]rated|lowest[- ]rated", text, re.I):
        return "worst"
    return None


def _author(text: str, reviews: Sequence[Review]) -> str | None:
    padded = f" {normalize(text)} "
    authors = sorted({r.author for r in reviews if r.author}, key=len, reverse=True)
    for author in authors:
        if f" {normalize(author)} " in padded:
            return author
    return None


def _named_works(text: str, reviews: Sequence[Review]) -> list[Work]:
    """Works whose title, or director, the question names; narrowed by year and people."""
    padded = f" {normalize(text)} "
    works: dict[str, Work] = {}
    people: dict[str, set[str]] = {}
    for review in reviews:
        if review.work is None:
            continue
        works.setdefault(review.work.work_id, review.work)
        names = people.setdefault(review.work.work_id, set())
        names.update(normalize(n) for n in [review.director or "", *review.cast] if n)
    by_title = [
        w for w in works.values()
        if any(_names(padded, t) for t in (w.title, w.original_title) if t and len(t) >= 3)
        and not w.title.startswith("(")
    ]
    by_person = [w for w in works.values() if any(_names(padded, p) for p in people[w.work_id])]
    candidates = by_title or by_person
    years = {int(y) for y in _YEAR.findall(text)}
    if years and (narrowed := [w for w in candidates if w.year in years]):
        candidates = narrowed
    if by_title and (narrowed := [w for w in candidates if w in by_person]):
        candidates = narrowed
    return sorted(candidates, key=lambda w: (w.year or 0, w.work_id))


def _names(padded_text: str, name: str) -> bool:
    key = normalize(name)
    if not key:
        return False
    if f" {key} " in padded_text:
        return True
    # "Wiseman" alone names Len Wiseman; short or common parts do not.
    parts = key.split()
    return len(parts) > 1 and len(parts[-1]) >= 5 and f" {parts[-1]} " in padded_text
