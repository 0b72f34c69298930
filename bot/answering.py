"""Answers a question from the reviews: metadata facts exactly, passages by quoting them."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from statistics import mean

from bot.answers import LANGUAGES_UNDERSTOOD, NOT_FOUND, Answer, Passage, Source
from bot.engine.ranking import SentenceRanker
from bot.questions import GENERIC_WORDS, SYNONYMS, Question
from bot.screening import SentenceScreen
from bot.sentences import (
    HEADER_BONUS,
    MIN_SUPPORT,
    NUMERIC_QUESTION,
    Candidate,
    asks_field,
    candidates,
    naming_words,
    sentences_of,
    term_groups,
)
from index.catalog import summarize_works
from index.keyword import tokenize
from index.lexicon import Lexicon
from index.metadata import find_header_fields
from index.records import Review, Work
from index.search import Hit, HybridSearch
from index.works import normalize

MAX_SENTENCES_PER_WORK = 3
# A further sentence is shown only when it scores at least this share of the best one.
RELATIVE_SUPPORT = 0.5
# Shorter than this, a further quote is left out rather than cut to nothing.
MIN_EXCERPT = 100
# Chunks per work whose sentences are weighed for an offline answer.
SENTENCE_POOL = 40
# The best candidates per work screened in one batch for sentences that must not be quoted.
SCREENED = 5


_FIELD_LABELS = {
    "director": ("Regie", "Director"),
    "year": ("Jahr", "Year"),
}


def passages_from_hits(hits: Sequence[Hit], *, start: int = 1) -> list[Passage]:
    """Number the hits and label each with its work."""
    passages = []
    for offset, hit in enumerate(hits):
        meta = hit.chunk.metadata
        work = Work(
            work_id=str(meta.get("work_id", "")),
            title=str(meta.get("work_title") or meta.get("title") or "?"),
            year=_int(meta.get("work_year")),
            director=_str(meta.get("work_director")),
        )
        passages.append(
            Passage(
                n=start + offset,
                chunk_id=hit.chunk.chunk_id,
                review_id=hit.review_id,
                work_id=work.work_id,
                work=work.label(),
                text=hit.chunk.text,
                language=str(meta.get("language", "de")),
                author=_str(meta.get("author")),
                source=_str(meta.get("source")),
                title=work.title,
                year=work.year,
                director=work.director,
                score=round(hit.score, 4),
            )
        )
    return passages


def retrieve(
    question: Question,
    search: HybridSearch,
    *,
    k: int,
    vector: Sequence[float] | None = None,
) -> tuple[list[Passage], list[Work]]:
    """Passages for the question: per work when it names several, else over its works.

    ``vector`` is the question's embedding when the caller has it already."""
    works = question.works
    if question.ambiguous:
        passages: list[Passage] = []
        for work in works:
            hits = search.search(
                question.text,
                language=question.language,
                k=k,
                work_ids=[work.work_id],
                keywords=expanded_keywords(question) or None,
                vector=vector,
            )
            passages.extend(passages_from_hits(hits, start=len(passages) + 1))
            if question.aspect:
                passages.extend(_header_passages(question, search, [work], start=len(passages) + 1))
        return passages, works
    work_ids = [w.work_id for w in works] or None
    hits = search.search(
        question.text,
        language=question.language,
        k=k,
        work_ids=work_ids,
        keywords=expanded_keywords(question) or None,
        vector=vector,
    )
    passages = passages_from_hits(hits)
    if question.aspect and works:
        passages.extend(_header_passages(question, search, works, start=len(passages) + 1))
    return passages, works


def leading_passages(
    passages: Sequence[Passage], *, k: int, quoted: Sequence[Source]
) -> list[Passage]:
    """The ``k`` best passages of each work, and any passage a quote of the answer is from."""
    quotes = [s.quote for s in quoted if s.quote]
    seen: Counter[str] = Counter()
    leading = []
    for passage in passages:
        seen[passage.work_id] += 1
        if seen[passage.work_id] <= k or any(q in passage.text for q in quotes):
            leading.append(passage)
    return leading


def _header_passages(
    question: Question, search: HybridSearch, works: Sequence[Work], *, start: int
) -> list[Passage]:
    """Chunks of the works' reviews whose header states the asked field (``Regie: …``)."""
    ids = {w.work_id for w in works}
    found = [
        Hit(chunk, 0.0, 0.0, 0.0)
        for chunk in search.chunks().values()
        if chunk.metadata.get("work_id") in ids
        and any(f.attribute == question.aspect for f in find_header_fields(chunk.text))
    ]
    found.sort(key=lambda h: (h.review_id, int(h.chunk.metadata.get("chunk_index", 0))))
    return passages_from_hits(found, start=start)


def compose_offline(
    question: Question,
    passages: Sequence[Passage],
    works: Sequence[Work],
    *,
    max_chars: int,
    lexicon: Lexicon | None = None,
    screen: SentenceScreen | None = None,
    ranker: SentenceRanker | None = None,
) -> Answer:
    """Quote the sentences that best answer the question, numbered, per work if ambiguous.

    ``ranker`` scores the sentences by the fitted model and says when none answers;
    without it they are scored by the words they share with the question. Sentences
    ``screen`` holds back (instructions to a model, links, contact data) are never quoted.
    """
    screen = screen or SentenceScreen(None)
    if question.foreign and ranker is not None:
        # The ranker was fitted on German and English questions only.
        return not_found(question)
    chosen: list[Candidate] = []
    groups = [w.work_id for w in works] if question.ambiguous else [""]
    if ranker is not None:
        # Whether the reviews answer is decided once, over the passages of every work.
        ranked_all = ranker.rank(question, passages)
        field = asks_field(question, term_groups(question))
    for work_id in groups:
        pool = [p for p in passages if not work_id or p.work_id == work_id]
        if ranker is not None:
            ranked = [c for c in ranked_all if not work_id or c.passage.work_id == work_id]
            if field:
                # The asked field first ("Regie: Len Wiseman"), stated by a header line.
                ranked.sort(key=lambda c: c.asked, reverse=True)
            answered = ranker.answers or (field and any(c.asked for c in ranked))
            # Sentences beside the best one need not reach the threshold themselves.
            supported = _quotable(ranked, screen) if answered else []
        else:
            found = candidates(question, pool, lexicon)
            # The asked field first ("Regie: Len Wiseman"), then at most one sentence beside it.
            ranked = sorted(found, key=lambda c: (c.asked, c.score), reverse=True)
            supported = _quotable([c for c in ranked if c.score >= MIN_SUPPORT], screen)
        if supported:
            best = supported[0].score
            supported = [c for c in supported if c.asked or c.score >= RELATIVE_SUPPORT * best]
        limit = 2 if supported and supported[0].asked else MAX_SENTENCES_PER_WORK
        chosen.extend(_pick(supported, limit=limit))
    chosen = _with_metadata_facts(question, chosen, passages, works)
    chosen = [c for c in _with_players(question, chosen, passages) if screen.allows(c.quote)]
    if NUMERIC_QUESTION.search(question.text) and not any(
        re.search(r"\d", c.quote or c.fact or "") for c in chosen
    ):
        chosen = []
    if not chosen or question.unknown_title:
        return not_found(question)
    fitted = _fit(question, chosen, max_chars)
    chosen = [c for c, _ in fitted]
    sources = [
        Source(
            n=i,
            review_id=c.passage.review_id,
            work=c.passage.work,
            title=c.passage.title,
            year=c.passage.year,
            director=c.passage.director,
            author=c.passage.author,
            source=c.passage.source,
            quote=c.quote,
            score=round(c.score, 3),
            fact=c.fact,
        )
        for i, c in enumerate(chosen, start=1)
    ]
    text = _format(question, sources, [(c, budget) for c, budget in fitted])
    shown_works = list(dict.fromkeys(s.work for s in sources))
    return Answer(
        question=question.text,
        answer=text,
        status="answered",
        language=question.language,
        works=shown_works,
        sources=sources,
        kind="passages",
        work_ids=list(dict.fromkeys(c.passage.work_id for c in chosen)),
    )


def _with_metadata_facts(
    question: Question,
    chosen: list[Candidate],
    passages: Sequence[Passage],
    works: Sequence[Work],
) -> list[Candidate]:
    """Add the asked director or year of each work whose passages did not state it.

    Reviews from JSON, CSV or front matter carry these as fields, not as text; the
    answer then cites the review and shows the field instead of a quote.
    """
    if question.aspect not in _FIELD_LABELS or not asks_field(question, term_groups(question)):
        return chosen
    label = _FIELD_LABELS[question.aspect][0 if question.language == "de" else 1]
    result = list(chosen)
    for work in works:
        value = work.director if question.aspect == "director" else work.year
        stated = any(c.asked and c.passage.work_id == work.work_id for c in chosen)
        cited = next((p for p in passages if p.work_id == work.work_id), None)
        if value and not stated and cited is not None:
            result.append(Candidate(cited, "", HEADER_BONUS, True, f"{label}: {value}"))
    return result


# "Min-hee (Park Yu-rim)": a character and, in parentheses, who plays her.
_PLAYED_BY = re.compile(
    r"\b([A-ZÄÖÜ][\w-]+(?: [A-ZÄÖÜ][\w-]+)?)\s*\(([A-ZÄÖÜ][\w'-]+(?: (?:de |van |von )?"
    r"[A-ZÄÖÜ][\w'-]+){1,2})\)"
)
_WHO_PLAYS = re.compile(r"\bwho plays\b|\bwer spielt\b|\bplayed by\b|\bgespielt\b", re.I)
MAX_PLAYERS_PER_WORK = 2


def _with_players(
    question: Question, chosen: list[Candidate], passages: Sequence[Passage]
) -> list[Candidate]:
    """For "Who plays the friend who dies?": who plays the characters the quotes name.

    Reviews introduce a character once as "Min-hee (Park Yu-rim)"; a quote that later
    names her says who she is, that sentence who plays her. The player comes first, shown
    as written, citing the sentence that says it.
    """
    if not _WHO_PLAYS.search(question.text) or not chosen:
        return chosen
    roles: dict[tuple[str, str], tuple[Passage, str, str]] = {}
    for passage in passages:
        for sentence in sentences_of(passage.text, passage.language):
            quote = passage.text[sentence.start : sentence.end].strip()
            for match in _PLAYED_BY.finditer(quote):
                key = (passage.work_id, _character_key(match.group(1)))
                roles.setdefault(key, (passage, quote, match.group(0)))
    players: list[Candidate] = []
    for candidate in chosen:
        words = {_character_key(w) for w in re.findall(r"[\w-]+", candidate.quote)}
        for (work_id, character), (passage, quote, shown) in roles.items():
            if (
                work_id == candidate.passage.work_id
                and character in words
                and not any(p.fact == shown for p in players)
                and sum(p.passage.work_id == work_id for p in players) < MAX_PLAYERS_PER_WORK
                and shown not in candidate.quote
            ):
                players.append(Candidate(passage, quote, candidate.score, fact=shown))
    return players + chosen


def _character_key(name: str) -> str:
    """ "Ok-ju", "Okju" and "OKJU" are one character."""
    return normalize(name.split()[0]).replace("-", "").replace(" ", "")


def not_found(question: Question) -> Answer:
    """The reviews say nothing on it, or the film it names is not indexed; or, for a question
    in a language other than German or English, which languages the bot reads."""
    text = NOT_FOUND.get(question.language, NOT_FOUND["en"])
    if question.unknown_title:
        title = question.unknown_title
        text = (
            f"Zu „{title}“ gibt es hier keine Rezension."
            if question.language == "de"
            else f"There is no review of “{title}” here."
        )
    return Answer(
        question=question.text,
        answer=LANGUAGES_UNDERSTOOD if question.foreign else text,
        status="not_found",
        language=question.language,
        works=[w.label() for w in question.works],
        work_ids=[w.work_id for w in question.works],
    )


def expanded_keywords(question: Question) -> str:
    """The question's content words with cross-language synonyms, for keyword matching.

    Words that only name the work (its title, its year) are left out: every passage
    of the work has them.
    """
    words = [w for w in re.findall(r"\w+", question.text.lower()) if w not in GENERIC_WORDS]
    naming = naming_words(question)
    words = [w for w in words if w not in naming]
    expanded = list(words)
    for word in words:
        expanded.extend(SYNONYMS.get(word, ()))
    return " ".join(expanded)


def _quotable(ranked: Sequence[Candidate], screen: SentenceScreen) -> list[Candidate]:
    """The best ``SCREENED`` candidates that ``screen`` does not hold back, best first.

    An answer quotes at most three per work; screening every sentence would take long.
    """
    screen.reasons(
        (c.quote for c in ranked[:SCREENED]),
        vectors={c.quote: c.vector for c in ranked[:SCREENED] if c.vector is not None},
    )
    kept: list[Candidate] = []
    for candidate in ranked:
        if screen.allows(candidate.quote):
            kept.append(candidate)
            if len(kept) == SCREENED:
                break
    return kept


def _pick(ranked: Sequence[Candidate], *, limit: int) -> list[Candidate]:
    picked: list[Candidate] = []
    for candidate in ranked:
        if any(candidate.quote in p.quote or p.quote in candidate.quote for p in picked):
            continue
        picked.append(candidate)
        if len(picked) == limit:
            break
    return picked


_INTRO = {
    "de": "Mehrere Werke heißen „{title}“:",
    "en": "Several works are called “{title}”:",
}


def _format(
    question: Question, sources: Sequence[Source], fitted: Sequence[tuple[Candidate, int]]
) -> str:
    shown = {
        s.n: c.fact or _excerpt(c, budget) for s, (c, budget) in zip(sources, fitted, strict=True)
    }
    if question.ambiguous:
        lines = [_INTRO.get(question.language, _INTRO["en"]).format(title=question.works[0].title)]
        for work in question.works:
            label = work.label()
            quotes = [f"{shown[s.n]} [{s.n}]" for s in sources if s.work == label]
            if quotes:
                lines.append(f"• {label}: " + " ".join(quotes))
        return "\n".join(lines)
    works = list(dict.fromkeys(s.work for s in sources))
    if len(works) == 1:
        body = " ".join(f"{shown[s.n]} [{s.n}]" for s in sources)
        return f"{works[0]}: {body}"
    return "\n".join(f"• {s.work}: {shown[s.n]} [{s.n}]" for s in sources)


def _fit(
    question: Question, chosen: Sequence[Candidate], max_chars: int
) -> list[tuple[Candidate, int]]:
    """Characters for each chosen sentence, best first: the best one whole if it can be,
    the next ones in what is left; one that would get too little is left out."""
    groups = [w.work_id for w in question.works] if question.ambiguous else [""]
    share = max_chars // len(groups)
    remaining = {work_id: share for work_id in groups}
    fitted = []
    for candidate in chosen:
        group = candidate.passage.work_id if question.ambiguous else ""
        left = remaining.get(group, share)
        need = len(" ".join((candidate.fact or candidate.quote).split()))
        first = left == share
        if not first and left < MIN_EXCERPT:
            continue
        budget = min(need, left) if not first else min(need, max(left, MIN_EXCERPT))
        remaining[group] = left - budget
        fitted.append((candidate, budget))
    return fitted


def _excerpt(candidate: Candidate, limit: int) -> str:
    """The sentence, or the part of it around the words that matched the question."""
    text = " ".join(candidate.quote.split())
    if len(text) <= limit:
        return text
    language = candidate.passage.language
    words = [
        (m.start(), m.end(), bool(set(tokenize(m.group(0), language=language)) & candidate.focus))
        for m in re.finditer(r"\w+", text)
    ]
    marked = [(start, end) for start, end, hit in words if hit]
    if not marked:
        return _clip(text, limit)
    centre = (marked[0][0] + marked[-1][1]) / 2
    best: tuple[int, float, int] | None = None
    for start, _, _ in [(0, 0, False), *words]:
        covered = sum(1 for a, b in marked if a >= start and b <= start + limit - 2)
        key = (covered, -abs(start + limit / 2 - centre), start)
        if best is None or key[:2] > best[:2]:
            best = key
    assert best is not None
    start = best[2]
    window = text[start:]
    clipped = _clip(window, limit - (2 if start else 0))
    return f"… {clipped}" if start else clipped


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + " …"


# -- answers from metadata ----------------------------------------------------------------


def answer_from_metadata(question: Question, reviews: Sequence[Review]) -> Answer | None:
    """Counts, averages, best/worst and lists, computed exactly; None if not such a question."""
    if question.intent is None:
        return None
    scope = _scope(question, reviews)
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
    described = "; ".join(
        f"{r.work.label() if r.work else r.review_id}: {r.rating.display()} ({extreme:.0%})"
        for r in winners
        if r.rating
    )
    word = {
        "best": ("Am besten bewertet", "Best rated"),
        "worst": ("Am schlechtesten bewertet", "Worst rated"),
    }[question.intent]
    text = f"{word[0] if de else word[1]}: {described}."
    return _metadata_answer(question, text, winners)


def _scope(question: Question, reviews: Sequence[Review]) -> list[Review]:
    scope = list(reviews)
    if question.works:
        ids = {w.work_id for w in question.works}
        scope = [r for r in scope if r.work and r.work.work_id in ids]
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
