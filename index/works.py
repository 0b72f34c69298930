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
    work of its own when the evidence is not clear.
    """
    titled = sorted(
        (r for r in reviews if r.title),
        key=lambda r: (r.year is None, r.director is None, r.review_id),
    )
    works: list[Work] = []
    by_title: dict[str, list[int]] = {}
    for review in titled:
        review.attached_by = None
        keys = {normalize(t) for t in (review.title, review.original_title) if t}
        positions = sorted({i for key in keys for i in by_title.get(key, [])})
        index = _matching_work(review, [works[i] for i in positions])
        if index is None:
            works.append(_new_work(review))
            index_in_works = len(works) - 1
        else:
            index_in_works = positions[index]
        work = works[index_in_works]
        if review.original_title and not work.original_title:
            work = Work(work.work_id, work.title, work.year, work.director, review.original_title)
            works[index_in_works] = work
        review.work = work
        for title in (work.title, work.original_title):
            if title:
                slots = by_title.setdefault(normalize(title), [])
                if index_in_works not in slots:
                    slots.append(index_in_works)
    # A work's original title can be filled by a later review: give every review the final one.
    final = {w.work_id: w for w in works}
    for review in titled:
        assert review.work is not None
        review.work = final[review.work.work_id]
    members: dict[str, list[Review]] = {}
    for review in titled:
        assert review.work is not None
        members.setdefault(review.work.work_id, []).append(review)
    for review in reviews:
        if review.title:
            continue
        attached = _attach_by_evidence(review, works, members)
        if attached is None:
            review.work = Work(work_id=f"untitled-{slug(review.review_id)}", title="(untitled)")
            review.attached_by = None
        else:
            review.work, review.attached_by = attached


def _matching_work(review: Review, works: Sequence[Work]) -> int | None:
    """Which of the same-titled ``works`` has a year and director that agree, if any."""
    for position, work in enumerate(works):
        if review.year and work.year and review.year != work.year:
            continue
        if (
            review.director
            and work.director
            and normalize(review.director) != normalize(work.director)
        ):
            continue
        return position
    return None


def _new_work(review: Review) -> Work:
    title = review.title or "(untitled)"
    return Work(
        work_id=make_work_id(title, review.year, review.director),
        title=title,
        year=review.year,
        director=review.director,
        original_title=review.original_title,
    )


def _attach_by_evidence(
    review: Review, works: Sequence[Work], members: dict[str, list[Review]]
) -> tuple[Work, Attachment] | None:
    text = f" {normalize(review.text)} "
    candidates = [w for w in works if _mentions(text, w.title) or _mentions(text, w.director)]
    if not candidates:
        return None
    words_by_work = {w.work_id: _words(members.get(w.work_id, [])) for w in candidates}
    scored: list[tuple[float, Work, list[str]]] = []
    for work in candidates:
        others = set().union(*(n for k, n in words_by_work.items() if k != work.work_id))
        score, evidence = _score(text, work, members.get(work.work_id, []), others)
        scored.append((score, work, evidence))
    scored.sort(key=lambda item: item[0], reverse=True)
    best_score, best_work, evidence = scored[0]
    runner_up = scored[1][0] if len(scored) > 1 else 0.0
    if best_score < _MIN_SCORE or best_score < 2 * runner_up:
        return None
    confidence = round(best_score / (best_score + runner_up + 1.0), 2)
    return best_work, Attachment(confidence=confidence, evidence=evidence)


def _score(
    text: str, work: Work, reviews: Sequence[Review], other_words: set[str]
) -> tuple[float, list[str]]:
    score, evidence = 0.0, []
    if _mentions(text, work.title):
        evidence.append(f"title: {work.title}")
    if _mentions(text, work.director):
        score += _DIRECTOR_WEIGHT
        evidence.append(f"director: {work.director}")
    cast = {name for review in reviews for name in review.cast}
    for name in sorted(cast):
        if _mentions(text, name):
            score += _CAST_WEIGHT
            evidence.append(f"cast: {name}")
    known = set(normalize(" ".join([*cast, work.director or "", work.title])).split())
    distinctive = sorted(_names(reviews) - other_words - known)
    shared = [n for n in distinctive if _mentions(text, n) or _mentions(text, n + "s")]
    shared = shared[:_MAX_NAME_EVIDENCE]
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


def _mentions(normalized_text: str, phrase: str | None) -> bool:
    if not phrase:
        return False
    key = normalize(phrase)
    return bool(key) and f" {key} " in normalized_text
