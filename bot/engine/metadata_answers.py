"""Counts, averages, best and worst ratings and lists of works, exact from the metadata."""

from __future__ import annotations

from collections.abc import Sequence
from heapq import nsmallest
from statistics import mean

from bot.answers import Answer, Source
from bot.engine.reading import Question
from index.catalog import Catalog, CorpusFigures, RatingExtreme, summarize_works
from index.records import Review, Work

# Above this many reviews, a question about all of them is answered from the catalogue's
# corpus figures: no review is read but those the answer names, and lists are cut short.
SMALL_CORPUS = 1000
# The most-reviewed works listed for all reviews of a large corpus.
LISTED_WORKS = 30
# The reviews named (and cited) with the best or worst rating of a large corpus.
NAMED_EXTREMES = 10


def answer_from_metadata(
    question: Question, catalog: Catalog, *, small_corpus: int = SMALL_CORPUS
) -> Answer | None:
    """Counts, averages, best/worst and lists, computed exactly; None if not such a question.

    A question about works or an author reads their reviews; one about all reviews reads
    them all only in a corpus of at most ``small_corpus`` reviews, and is answered from
    the catalogue's corpus figures above that.
    """
    if question.intent is None:
        return None
    about_all = not question.works and not question.author
    if about_all and catalog.review_count > small_corpus and catalog.figures is not None:
        return _answer_from_figures(question, catalog, catalog.figures)
    scope = _scope(question, catalog)
    lang = question.language
    de = lang == "de"
    subject = _subject(question)
    if question.intent == "list":
        summaries = summarize_works(scope)
        labels = [f"{s.work.label()} – {len(s.reviews)}" for s in summaries]
        head = f"{len(summaries)} Werke" if de else f"{len(summaries)} works"
        text = head + ":\n" + "\n".join(f"• {label}" for label in labels)
        return _metadata_answer(question, text, scope)
    if question.intent == "count":
        n = len(scope)
        if question.author and not question.works:
            text = (
                f"{question.author} hat {n} Rezension{'en' * (n != 1)} geschrieben."
                if de
                else f"{question.author} wrote {n} review{'s' * (n != 1)}."
            )
        elif de:
            text = f"{subject}: {n} Rezension{'en' * (n != 1)}."
        else:
            text = f"{subject}: {n} review{'s' * (n != 1)}."
        if question.ambiguous or (not question.works and not question.author):
            text += "\n" + "\n".join(
                f"• {s.work.label()}: {len(s.reviews)}" for s in summarize_works(scope)
            )
        return _metadata_answer(question, text, scope)
    rated = [r for r in scope if r.rating]
    if not rated:
        text = (
            f"{subject}: keine der Rezensionen enthält eine Bewertung."
            if de
            else f"{subject}: none of the reviews gives a rating."
        )
        return _metadata_answer(question, text, scope)
    if question.intent == "ratings":
        if not question.works and not question.author:
            return None  # "Wie bewertet der Kritiker die Musik?" asks the text, not the stars
        listed = "; ".join(
            f"{r.work.label() if r.work else r.review_id}"
            f"{f' ({r.author})' if r.author else ''}: {r.rating.display()}"
            for r in rated
            if r.rating
        )
        text = f"{'Bewertungen' if de else 'Ratings'}: {listed}."
        return _metadata_answer(question, text, rated)
    if question.intent == "average":
        average = mean(r.rating.normalized for r in rated if r.rating)
        ratings = ", ".join(r.rating.display() for r in rated if r.rating)
        text = (
            f"{subject}: Durchschnittsbewertung {average:.0%} "
            f"({len(rated)} bewertete Rezension{'en' * (len(rated) != 1)}: {ratings})."
            if de
            else f"{subject}: average rating {average:.0%} "
            f"({len(rated)} rated review{'s' * (len(rated) != 1)}: {ratings})."
        )
        return _metadata_answer(question, text, rated)
    pick = max if question.intent == "best" else min
    extreme = pick(r.rating.normalized for r in rated if r.rating)
    winners = [r for r in rated if r.rating and r.rating.normalized == extreme]
    text = _extreme_line(question, winners, extreme)
    return _metadata_answer(question, text, winners)


def _answer_from_figures(
    question: Question, catalog: Catalog, figures: CorpusFigures
) -> Answer | None:
    """The answer about all reviews of a large corpus: exact figures, short lists."""
    de = question.language == "de"
    subject = _subject(question)
    if question.intent == "list":
        text = (
            f"{len(figures.reviews_per_work)} Werke"
            if de
            else f"{len(figures.reviews_per_work)} works"
        ) + ":\n"
        return _metadata_answer(question, text + _most_reviewed(catalog, figures, de=de), [])
    if question.intent == "count":
        n = catalog.review_count
        text = (
            f"{subject}: {n} Rezension{'en' * (n != 1)}."
            if de
            else f"{subject}: {n} review{'s' * (n != 1)}."
        )
        return _metadata_answer(
            question, text + "\n" + _most_reviewed(catalog, figures, de=de, dash=":"), []
        )
    average = figures.average_rating
    if average is None or figures.best is None or figures.worst is None:
        text = (
            f"{subject}: keine der Rezensionen enthält eine Bewertung."
            if de
            else f"{subject}: none of the reviews gives a rating."
        )
        return _metadata_answer(question, text, [])
    if question.intent == "ratings":
        return None  # "Wie bewertet der Kritiker die Musik?" asks the text, not the stars
    rated = figures.rated
    if question.intent == "average":
        text = (
            f"{subject}: Durchschnittsbewertung {average:.0%} "
            f"({rated} bewertete Rezension{'en' * (rated != 1)})."
            if de
            else f"{subject}: average rating {average:.0%} "
            f"({rated} rated review{'s' * (rated != 1)})."
        )
        return _metadata_answer(question, text, [])
    extreme = figures.best if question.intent == "best" else figures.worst
    return _extreme_answer(question, catalog, extreme)


def _most_reviewed(catalog: Catalog, figures: CorpusFigures, *, de: bool, dash: str = " –") -> str:
    """The most-reviewed works with their review counts, one a line, and how many more."""

    def order(item: tuple[Work, int]) -> tuple[int, str, int, str]:
        work, count = item
        return (-count, work.title.casefold(), work.year or 0, work.work_id)

    counted = [
        (catalog.works[w], n) for w, n in figures.reviews_per_work.items() if w in catalog.works
    ]
    lines = [
        f"• {work.label()}{dash} {n}" for work, n in nsmallest(LISTED_WORKS, counted, key=order)
    ]
    more = len(counted) - LISTED_WORKS
    if more > 0:
        lines.append(
            f"… und {more} weitere Werk{'e' * (more != 1)}"
            if de
            else f"… and {more} more work{'s' * (more != 1)}"
        )
    return "\n".join(lines)


def _extreme_line(question: Question, reviews: Sequence[Review], rating: float) -> str:
    """ "Am besten bewertet: X: 5/5 (100%); …" for the reviews that give the extreme rating."""
    described = "; ".join(
        f"{r.work.label() if r.work else r.review_id}: {r.rating.display()} ({rating:.0%})"
        for r in reviews
        if r.rating
    )
    word = {
        "best": ("Am besten bewertet", "Best rated"),
        "worst": ("Am schlechtesten bewertet", "Worst rated"),
    }[question.intent or "best"]
    return f"{word[0] if question.language == 'de' else word[1]}: {described}."


def _extreme_answer(question: Question, catalog: Catalog, extreme: RatingExtreme) -> Answer:
    """The best (or worst) rating, the first reviews that give it and how many do in all."""
    de = question.language == "de"
    named = [r for r in catalog.reviews_with_ids(extreme.review_ids[:NAMED_EXTREMES]) if r.rating]
    text = _extreme_line(question, named, extreme.rating)
    if extreme.total > len(named):
        text += (
            f"\n{extreme.total} Rezensionen geben {extreme.rating:.0%}; "
            f"genannt sind die ersten {len(named)}."
            if de
            else f"\n{extreme.total} reviews give {extreme.rating:.0%}; "
            f"the first {len(named)} are named."
        )
    return _metadata_answer(question, text, named)


def _scope(question: Question, catalog: Catalog) -> list[Review]:
    if question.works:
        scope = catalog.reviews_of(list(dict.fromkeys(w.work_id for w in question.works)))
    elif question.author:
        scope = catalog.reviews_by(question.author)
    else:
        scope = catalog.reviews()
    if question.author:
        scope = [r for r in scope if r.author == question.author]
    return scope


def _subject(question: Question) -> str:
    if question.works and not question.ambiguous:
        return ", ".join(w.label() for w in question.works)
    if question.works:
        return (
            f"„{question.works[0].title}“"
            if question.language == "de"
            else (f"“{question.works[0].title}”")
        )
    if question.author:
        return question.author
    return "Alle Rezensionen" if question.language == "de" else "All reviews"


def _metadata_answer(
    question: Question, text: str, reviews: Sequence[Review], *, status: str = "answered"
) -> Answer:
    sources = [
        Source(
            n=i,
            review_id=r.review_id,
            work=r.work.label() if r.work else r.review_id,
            title=r.work.title if r.work else r.title,
            year=r.work.year if r.work else r.year,
            director=r.work.director if r.work else r.director,
            author=r.author,
            source=r.source,
            quote=r.rating.raw if r.rating and r.rating.raw in r.text else "",
            score=1.0,
        )
        for i, r in enumerate(reviews, start=1)
    ]
    return Answer(
        question=question.text,
        answer=text,
        status="answered" if status == "answered" else "not_found",
        language=question.language,
        works=list(dict.fromkeys(s.work for s in sources)),
        sources=sources,
        kind="metadata",
        work_ids=list(dict.fromkeys(r.work.work_id for r in reviews if r.work)),
    )


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and value else None


def _str(value: object) -> str | None:
    return str(value) if value else None
