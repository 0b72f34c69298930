"""Groups reviews into works and attaches reviews without a header to the right one."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

from index.records import Attachment, Review, Work

_NAME = re.compile(r"\b[A-ZÄÖÜ][\w'-]{2,}")
_DIRECTOR_WEIGHT = 3.0
_CAST_WEIGHT = 2.0
_NAME_WEIGHT = 1.0
_MAX_NAME_EVIDENCE = 4
_MIN_SCORE = 3.0


def normalize(text: str) -> str:
    """Lower-case, accents and punctuation removed: "Ok-ju" and "Okju" both become "okju"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    letters = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    letters = re.sub(r"[-'’]", "", letters)
    return re.sub(r"[^\w]+", " ", letters).strip()


def slug(text: str) -> str:
    return normalize(text).replace(" ", "-") or "untitled"


def make_work_id(title: str, year: int | None, director: str | None) -> str:
    parts = [slug(title), str(year) if year else "", slug(director) if director else ""]
    return "-".join(p for p in parts if p)


def assign_works(reviews: Sequence[Review]) -> None:
    """Set ``work`` (and ``attached_by`` where inferred) on every review.

    Reviews with a title join the work with the same normalised title whose year and
    director do not contradict theirs; two films that share a title stay two works.
    A review without a title is attached from the evidence in its text, or becomes a
    work of its own when the evidence is not clear. The work grows with the number of
    reviews and the length of their texts, not with their product.
    """
    titled = sorted(
        (r for r in reviews if r.title),
        key=lambda r: (r.year is None, r.director is None, r.review_id),
    )
    works: list[Work] = []
    index = _TitleIndex()
    for review in titled:
        review.attached_by = None
        keys = {normalize(t) for t in (review.title, review.original_title) if t}
        position = index.first_match(keys, review.year, review.director)
        if position is None:
            works.append(_new_work(review))
            position = len(works) - 1
        work = works[position]
        if review.original_title and not work.original_title:
            work = Work(work.work_id, work.title, work.year, work.director, review.original_title)
            works[position] = work
        review.work = work
        for title in (work.title, work.original_title):
            if title:
                index.add(normalize(title), work, position)
    # A work's original title can be filled by a later review: give every review the final one.
    final = {w.work_id: w for w in works}
    members: dict[str, list[Review]] = {}
    for review in titled:
        assert review.work is not None
        review.work = final[review.work.work_id]
        members.setdefault(review.work.work_id, []).append(review)
    evidence = _Evidence(works, members)
    for review in reviews:
        if review.title:
            continue
        attached = evidence.attach(review)
        if attached is None:
            review.work = Work(work_id=f"untitled-{slug(review.review_id)}", title="(untitled)")
            review.attached_by = None
        else:
            review.work, review.attached_by = attached


class _TitleIndex:
    """The first work of each title, by title alone and with its year and director.

    A review matches a work of its title whose year and director do not contradict its
    own (a missing one contradicts nothing); looking up the few combinations that agree
    finds the first such work without scanning every work of that title.
    """

    def __init__(self) -> None:
        self._first: dict[tuple[object, ...], int] = {}

    def add(self, title: str, work: Work, position: int) -> None:
        year, director = work.year or None, _director_key(work.director)
        for key in (
            (title,),
            (title, "year", year),
            (title, "director", director),
            (title, year, director),
        ):
            self._first[key] = min(self._first.get(key, position), position)

    def first_match(self, titles: set[str], year: int | None, director: str | None) -> int | None:
        found = [
            self._first[key]
            for title in titles
            for key in self._agreeing_keys(title, year or None, _director_key(director))
            if key in self._first
        ]
        return min(found, default=None)

    @staticmethod
    def _agreeing_keys(
        title: str, year: int | None, director: str | None
    ) -> list[tuple[object, ...]]:
        if year and director is not None:
            return [(title, y, d) for y in (year, None) for d in (director, None)]
        if year:
            return [(title, "year", y) for y in (year, None)]
        if director is not None:
            return [(title, "director", d) for d in (director, None)]
        return [(title,)]


def _director_key(director: str | None) -> str | None:
    return normalize(director) if director else None


def _new_work(review: Review) -> Work:
    title = review.title or "(untitled)"
    return Work(
        work_id=make_work_id(title, review.year, review.director),
        title=title,
        year=review.year,
        director=review.director,
        original_title=review.original_title,
    )


class _Evidence:
    """Attaches reviews without a title to the work their text points to.

    What each work offers as evidence (its cast, the names and words of its reviews) is
    computed once, when a review first mentions the work.
    """

    def __init__(self, works: Sequence[Work], members: dict[str, list[Review]]) -> None:
        self._works = works
        self._members = members
        self._phrases: dict[str, list[int]] = {}
        self._lengths: dict[str, set[int]] = {}
        for position, work in enumerate(works):
            for phrase in (work.title, work.director):
                key = normalize(phrase) if phrase else ""
                if key:
                    self._phrases.setdefault(key, []).append(position)
                    self._lengths.setdefault(key.split()[0], set()).add(len(key.split()))
        self._facts: dict[str, _WorkFacts] = {}

    def attach(self, review: Review) -> tuple[Work, Attachment] | None:
        text = _Text(normalize(review.text))
        candidates = [self._works[p] for p in self._mentioned(text)]
        if not candidates:
            return None
        facts = [self._facts_of(work) for work in candidates]
        scored: list[tuple[float, Work, list[str]]] = []
        for work, own in zip(candidates, facts, strict=True):
            others = [f.words for f in facts if f is not own]
            score, evidence = _score(text, work, own, others)
            scored.append((score, work, evidence))
        scored.sort(key=lambda item: item[0], reverse=True)
        best_score, best_work, evidence = scored[0]
        runner_up = scored[1][0] if len(scored) > 1 else 0.0
        if best_score < _MIN_SCORE or best_score < 2 * runner_up:
            return None
        confidence = round(best_score / (best_score + runner_up + 1.0), 2)
        return best_work, Attachment(confidence=confidence, evidence=evidence)

    def _mentioned(self, text: _Text) -> list[int]:
        """Positions of the works whose title or director the text names, in order."""
        words = text.words
        found: set[int] = set()
        for start, word in enumerate(words):
            for length in self._lengths.get(word, ()):
                phrase = " ".join(words[start : start + length])
                found.update(self._phrases.get(phrase, ()))
        return sorted(found)

    def _facts_of(self, work: Work) -> _WorkFacts:
        if work.work_id not in self._facts:
            self._facts[work.work_id] = _WorkFacts.of(work, self._members.get(work.work_id, []))
        return self._facts[work.work_id]


class _Text:
    """A normalised review text and its words, for quick "does it name X" checks."""

    def __init__(self, normalized: str) -> None:
        self.padded = f" {normalized} "
        self.words = normalized.split()
        self.vocabulary = set(self.words)

    def mentions(self, phrase: str | None) -> bool:
        if not phrase:
            return False
        key = normalize(phrase)
        if not key or not self.vocabulary.issuperset(key.split()):
            return False
        return f" {key} " in self.padded


class _WorkFacts:
    """What a work's reviews say that can tie another text to it."""

    def __init__(self, cast: set[str], names: set[str], words: set[str], known: set[str]) -> None:
        self.cast = cast
        self.names = names
        self.words = words
        self.known = known

    @classmethod
    def of(cls, work: Work, reviews: Sequence[Review]) -> _WorkFacts:
        cast = {name for review in reviews for name in review.cast}
        known = set(normalize(" ".join([*cast, work.director or "", work.title])).split())
        return cls(cast, _names(reviews), _words(reviews), known)


def _score(
    text: _Text, work: Work, facts: _WorkFacts, other_words: Sequence[set[str]]
) -> tuple[float, list[str]]:
    score, evidence = 0.0, []
    if text.mentions(work.title):
        evidence.append(f"title: {work.title}")
    if text.mentions(work.director):
        score += _DIRECTOR_WEIGHT
        evidence.append(f"director: {work.director}")
    for name in sorted(facts.cast):
        if text.mentions(name):
            score += _CAST_WEIGHT
            evidence.append(f"cast: {name}")
    # A name counts when the text has it, or it with a genitive s ("Minhees").
    named = text.vocabulary | {w[:-1] for w in text.vocabulary if w.endswith("s")}
    shared = sorted(
        name
        for name in named & facts.names
        if name not in facts.known and not any(name in words for words in other_words)
    )[:_MAX_NAME_EVIDENCE]
    score += _NAME_WEIGHT * len(shared)
    evidence.extend(f"name: {name}" for name in shared)
    return score, evidence


def _names(reviews: Iterable[Review]) -> set[str]:
    """Capitalised words that occur at least twice in a work's reviews (names, mostly)."""
    counts: Counter[str] = Counter()
    for review in reviews:
        counts.update(_stem(normalize(m.group(0))) for m in _NAME.finditer(review.text))
    return {name for name, n in counts.items() if n >= 2 and len(name) >= 4}


def _words(reviews: Iterable[Review]) -> set[str]:
    return {_stem(w) for review in reviews for w in normalize(review.text).split()}


def _stem(name: str) -> str:
    """Drop a genitive s, so that "Minhees Tod" counts for "Minhee"."""
    return name[:-1] if name.endswith("s") and len(name) > 4 else name
