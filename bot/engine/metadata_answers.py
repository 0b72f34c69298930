"""Counts, averages, best and worst ratings and lists of works, exact from the metadata."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from datetime import date
from heapq import nsmallest
from pathlib import Path
from statistics import mean
from typing import Protocol, runtime_checkable

from rapidfuzz import fuzz

from bot.answers import Answer, Source
from bot.engine.reading import Question
from index.catalog import Catalog, CorpusFigures, RatingExtreme, summarize_works
from index.chunking import split_sentences
from index.keyword import tokenize
from index.records import Review, Work
from index.store import StoredChunk
from index.works import normalize

# Above this many reviews, a question about all of them is answered from the catalogue's
# corpus figures: no review is read but those the answer names, and lists are cut short.
SMALL_CORPUS = 1000
# The most-reviewed works listed for all reviews of a large corpus.
LISTED_WORKS = 30
# The reviews named (and cited) with the best or worst rating of a large corpus.
NAMED_EXTREMES = 10
# The reviews whose date or author a question about several of them lists.
LISTED_REVIEWS = 10
# A described review is picked when its match outweighs the next review's this many times.
DESCRIBED_LEAD = 1.5
# A word of the description meets a review word it is close to as a misspelling of it
# ("landweilig", "langweilig"), if both are this long and this similar (rapidfuzz ratio).
FUZZY_MIN_LENGTH = 6
FUZZY_MIN_RATIO = 85.0
FUZZY_STRENGTH = 0.5
# A word of the description meets a compound it is part of ("schleim", "Schleimspur").
PART_MIN_LENGTH = 5


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
    if question.intent == "field":
        return _field_answer(question, catalog)
    about_all = not question.works and not question.author
    # A count of the reviews giving one rating reads every review's metadata (a rare scan).
    by_figures = question.stars is None
    if about_all and by_figures and catalog.review_count > small_corpus and catalog.figures:
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
    if question.intent == "count" and question.stars is not None:
        return _count_with_rating(question, subject, scope)
    if question.intent == "count" and question.counts_works:
        summaries = summarize_works(scope)
        n = len(summaries)
        head = f"{n} Werk{'e' * (n != 1)}" if de else f"{n} work{'s' * (n != 1)}"
        lines = [f"• {s.work.label()}: {len(s.reviews)}" for s in summaries]
        return _metadata_answer(question, f"{head}:\n" + "\n".join(lines), scope)
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
        return _metadata_answer(question, _average_line(question, subject, rated), rated)
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
    if question.intent == "count" and question.counts_works:
        n = len(figures.reviews_per_work)
        text = (f"{n} Werk{'e' * (n != 1)}" if de else f"{n} work{'s' * (n != 1)}") + ":\n"
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


def _gives(review: Review, stars: float | None, scale: int | None) -> bool:
    """Whether the review gives ``stars`` on its own scale (on ``scale``, if one is said)."""
    rating = review.rating
    return bool(
        rating and rating.on_own_scale() == stars and (scale is None or rating.scale == scale)
    )


def _count_with_rating(question: Question, subject: str, scope: Sequence[Review]) -> Answer:
    """How many of the reviews give the rating asked ("Wie viele geben Crank 5 Sterne?")."""
    de = question.language == "de"
    stars, scale = question.stars, question.stars_scale
    giving = [r for r in scope if _gives(r, stars, scale)]
    shown = f"{stars:g}/{scale}" if scale else f"{stars:g}"
    rated = sum(1 for r in scope if r.rating)
    text = (
        f"{subject}: {len(giving)} von {rated} bewerteten Rezensionen geben {shown}"
        f"{'' if scale else ' Stern' + 'e' * (stars != 1)}."
        if de
        else f"{subject}: {len(giving)} of {rated} rated reviews give {shown}"
        f"{'' if scale else ' star' + 's' * (stars != 1)}."
    )
    return _metadata_answer(question, text, giving)


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


def _average_line(question: Question, subject: str, rated: Sequence[Review]) -> str:
    """ "X: Durchschnittsbewertung Ø 1,43 von 5 Sternen (29%; 7 bewertete Rezensionen: …)".

    The average is given on the reviews' own scale; when their scales differ, on the most
    common one, and the answer says that the ratings were converted to it.
    """
    de = question.language == "de"
    ratings = [r.rating for r in rated if r.rating]
    average = mean(r.normalized for r in ratings)
    scales = Counter(r.scale for r in ratings)
    scale = scales.most_common(1)[0][0]
    shown = ", ".join(r.display() for r in ratings)
    n = len(ratings)
    counted = (
        f"{n} bewertete Rezension{'en' * (n != 1)}: {shown}"
        if de
        else f"{n} rated review{'s' * (n != 1)}: {shown}"
    )
    if scale == 100:
        head = f"Durchschnittsbewertung {average:.0%}" if de else f"average rating {average:.0%}"
        return f"{subject}: {head} ({counted})."
    value = _decimal(average * scale, de=de)
    unit = _unit(question.text, scale, de=de)
    head = (
        f"Durchschnittsbewertung Ø {value} von {scale}{unit} ({average:.0%}; {counted})"
        if de
        else f"average rating {value} of {scale}{unit} ({average:.0%}; {counted})"
    )
    if len(scales) > 1:
        others = ", ".join(str(s) for s in sorted(scales))
        head += (
            f"; die Bewertungen haben verschiedene Skalen ({others}), umgerechnet auf {scale}"
            if de
            else f"; the ratings use different scales ({others}), converted to {scale}"
        )
    return f"{subject}: {head}."


def _decimal(value: float, *, de: bool) -> str:
    """ "1,43", "3,5", "5": two places at most, no trailing zeros; a comma in German."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") if de else text


_POINTS_ASKED = re.compile(r"\b(?:punkte?n?|points?)\b", re.I)


def _unit(question: str, scale: int, *, de: bool) -> str:
    """ " Sternen" for a scale of five stars, " Punkten" when the question counts points."""
    if _POINTS_ASKED.search(question) or scale != 5:
        return " Punkten" if de else " points"
    return " Sternen" if de else " stars"


_FIELD_OF: dict[str, tuple[str, str]] = {
    "rating": ("Bewertung", "rating"),
    "date": ("Datum", "date"),
    "author": ("Autor", "author"),
}
# Month names by language, from Unicode CLDR (bot/data/month_names.json says how).
_MONTHS: dict[str, list[str]] = json.loads(
    (Path(__file__).resolve().parent.parent / "data" / "month_names.json").read_text(
        encoding="utf-8"
    )
)["months"]


def _field_answer(question: Question, catalog: Catalog) -> Answer | None:
    """One review's rating, date or author, from its metadata.

    The review is the one the question describes ("der Rezensent, dem X zu schleimig war"),
    found by the words of the description in the reviews of the named works, with the
    sentence that matches quoted; or the only review in scope. Without one, every review in
    scope is listed with its value. None when no review in scope has the field (the text
    may still say it) or the question names neither a work, an author nor a review.
    """
    field = question.field or "rating"
    if not question.works and not question.author and not question.described:
        return None
    scope = _scope(question, catalog)
    if question.stars is not None:
        scope = [r for r in scope if _gives(r, question.stars, question.stars_scale)] or scope
    if not any(_field_value(r, field, question.language) for r in scope):
        return None
    picked = None
    if len(scope) > 1 and question.described:
        picked = _described_review(question, scope, _texts(scope, catalog))
    if picked is None and len(scope) == 1:
        picked = (scope[0], "")
    de = question.language == "de"
    if picked is not None:
        review, quote = picked
        value = _field_value(review, field, question.language)
        name = review.work.label() if review.work else review.review_id
        if value is None:
            label = _FIELD_OF[field][0 if de else 1]
            text = (
                f"{name}: die Rezension nennt keine Angabe zu {label}."
                if de
                else f"{name}: the review gives no {label}."
            )
        else:
            text = f"{name}: {_field_line(field, value, de=de)}."
        if quote:
            text += f"\n„{quote}“ [1]" if de else f"\n“{quote}” [1]"
        return _metadata_answer(question, text, [review], quotes={review.review_id: quote})
    listed = [r for r in scope if _field_value(r, field, question.language)][:LISTED_REVIEWS]
    lines = [
        f"• {r.work.label() if r.work else r.review_id}: "
        f"{_field_value(r, field, question.language)}"
        f"{f' ({r.rating.display()})' if r.rating and field != 'rating' else ''} [{i}]"
        for i, r in enumerate(listed, start=1)
    ]
    more = len(scope) - len(listed)
    head = (
        f"{len(scope)} Rezensionen; {_FIELD_OF[field][0]}:"
        if de
        else f"{len(scope)} reviews; {_FIELD_OF[field][1]}:"
    )
    if more:
        lines.append(f"… und {more} weitere" if de else f"… and {more} more")
    return _metadata_answer(question, head + "\n" + "\n".join(lines), listed)


def _field_line(field: str, value: str, *, de: bool) -> str:
    if field == "rating":
        return f"die Rezension vergibt {value}" if de else f"the review gives {value}"
    if field == "date":
        return f"Rezension vom {value}" if de else f"review written on {value}"
    return f"Rezension von {value}" if de else f"review by {value}"


def _field_value(review: Review, field: str, language: str) -> str | None:
    if field == "rating":
        return review.rating.display() if review.rating else None
    if field == "date":
        return _written_date(review.date, language) if review.date else None
    return review.author


def _written_date(value: str, language: str) -> str:
    """ "2008-01-30" as "30. Januar 2008" or "January 30, 2008"; other forms as written."""
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        return value
    if language == "de":
        return f"{day.day}. {_MONTHS['de'][day.month - 1]} {day.year}"
    return f"{_MONTHS['en'][day.month - 1]} {day.day}, {day.year}"


@runtime_checkable
class ChunkSource(Protocol):
    """A review source that also gives the stored passages of works (an index snapshot)."""

    def chunks_of_works(self, work_ids: Sequence[str]) -> list[StoredChunk]: ...


def _texts(reviews: Sequence[Review], catalog: Catalog) -> dict[str, list[str]]:
    """Each review's text in pieces: the review's own, or, where the catalogue keeps
    metadata only, its stored passages."""
    texts = {r.review_id: [r.text] for r in reviews if r.text}
    missing = {r.work.work_id for r in reviews if r.review_id not in texts and r.work}
    if not missing:
        return texts
    try:
        source = catalog.source
    except RuntimeError:
        return texts
    if isinstance(source, ChunkSource):
        wanted = {r.review_id for r in reviews} - texts.keys()
        for chunk in source.chunks_of_works(sorted(missing)):
            if chunk.review_id in wanted:
                texts.setdefault(chunk.review_id, []).append(chunk.text)
    return texts


def _described_review(
    question: Question, reviews: Sequence[Review], texts: dict[str, list[str]]
) -> tuple[Review, str] | None:
    """The review the question describes and its sentence that matches best, if one review
    matches the description clearly better than every other.

    A word of the description counts by how few of the reviews use it (a word in all of
    them tells none apart); it meets a review word that is the same stem or a compound it
    is part of, and half as much a word it could be a misspelling of ("landweilig"), since
    one letter also tells words apart ("bezeichnet", "gezeichnet"). The review must match
    at least as much as one word of the description that only it uses.
    """
    if not question.described:
        return None
    language = Counter(r.language or "de" for r in reviews).most_common(1)[0][0]
    title_words = {
        t for w in question.works for t in tokenize(normalize(w.title), language=language)
    }
    asked = set(tokenize(question.described, language=language)) - title_words
    if not asked:
        return None
    sentences = {
        r.review_id: _stemmed_sentences(texts.get(r.review_id, []), r.language or language)
        for r in reviews
    }

    def strength(sentence_words: Sequence[str], word: str) -> float:
        return max((_meets(word, w) for w in sentence_words), default=0.0)

    used = {
        r.review_id: {
            a: m
            for a in asked
            if (m := max((strength(ws, a) for _, ws in sentences[r.review_id]), default=0.0))
        }
        for r in reviews
    }
    frequency = Counter(a for found in used.values() for a in found)
    weight = {a: math.log((len(reviews) + 1) / n) for a, n in frequency.items()}
    scores = sorted(
        (
            (sum(weight[a] * m for a, m in used[r.review_id].items()), i)
            for i, r in enumerate(reviews)
        ),
        reverse=True,
    )
    best, index = scores[0]
    runner_up = scores[1][0] if len(scores) > 1 else 0.0
    if best < math.log(len(reviews) + 1) or best < DESCRIBED_LEAD * runner_up:
        return None
    review = reviews[index]
    found = used[review.review_id]
    quote = max(
        sentences[review.review_id],
        key=lambda item: sum(weight[a] * strength(item[1], a) for a in found),
    )[0]
    return review, quote


def _stemmed_sentences(pieces: Sequence[str], language: str) -> list[tuple[str, list[str]]]:
    """The sentences of a review's pieces, each with its stemmed words."""
    found = []
    for piece in pieces:
        for span in split_sentences(piece, language=language):
            sentence = piece[span.start : span.end].strip()
            if sentence:
                found.append((sentence, tokenize(sentence, language=language)))
    return found


def _meets(asked: str, word: str) -> float:
    """1 for the same stem or a compound holding it, 0.5 for a likely misspelling, else 0."""
    if asked == word or (len(asked) >= PART_MIN_LENGTH and asked in word):
        return 1.0
    close = (
        min(len(asked), len(word)) >= FUZZY_MIN_LENGTH
        and fuzz.ratio(asked, word) >= FUZZY_MIN_RATIO
    )
    return FUZZY_STRENGTH if close else 0.0


def _metadata_answer(
    question: Question,
    text: str,
    reviews: Sequence[Review],
    *,
    status: str = "answered",
    quotes: dict[str, str] | None = None,
) -> Answer:
    quotes = quotes or {}
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
            quote=quotes.get(r.review_id)
            or (r.rating.raw if r.rating and r.rating.raw in r.text else ""),
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
