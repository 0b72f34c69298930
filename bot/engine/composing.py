"""The offline answer: the sentences that answer a question, quoted and numbered."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.answers import LANGUAGES_UNDERSTOOD, NOT_FOUND, Answer, Passage, Source
from bot.engine.overlap import (
    HEADER_BONUS,
    MIN_SUPPORT,
    NUMERIC_QUESTION,
    Candidate,
    StoredBounds,
    asks_field,
    candidates,
    sentences_in,
    term_groups,
)
from bot.engine.ranking import SentenceRanker
from bot.engine.reading import Question
from bot.screening import SentenceScreen
from index.keyword import tokenize
from index.lexicon import Lexicon
from index.records import Work
from index.works import normalize

MAX_SENTENCES_PER_WORK = 3
# A further sentence is shown only when it scores at least this share of the best one.
RELATIVE_SUPPORT = 0.5
# Shorter than this, a further quote is left out rather than cut to nothing.
MIN_EXCERPT = 100
# The best candidates per work screened in one batch for sentences that must not be quoted.
SCREENED = 5


_FIELD_LABELS = {
    "director": ("Regie", "Director"),
    "year": ("Jahr", "Year"),
}


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
    stored = ranker.sentences if ranker is not None else None
    chosen = _with_players(question, chosen, passages, stored)
    chosen = [c for c in chosen if screen.allows(c.quote)]
    if NUMERIC_QUESTION.search(question.text) and not any(
        _states_number(question, c) for c in chosen
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


# "der 3. Teil", "am 2. Tag": a place in a row, no amount; dates are asked by "wann", "when".
_ORDINAL = re.compile(r"\b\d{1,2}\.(?=\s+[^\W\d])")
# "06.10.2023", "2023-10-06": a date, no amount either.
_DATE = re.compile(r"\b\d{1,2}\.\d{1,2}\.(?:\d{2,4})?|\b\d{4}-\d{2}-\d{2}\b")
_ASKS_DATE = re.compile(r"^\s*(?:wann|when)\b|welchem jahr|what year", re.I)
_ASKS_YEAR = re.compile(r"\b(?:welchem jahr|what year|which year)\b", re.I)
_YEAR = re.compile(r"\b(?:1[89]|20)\d\d\b")


def _states_number(question: Question, candidate: Candidate) -> bool:
    """Whether the quote has a number that could answer: a year when a year is asked, not
    one of its film's title ("Teil 3" of *Shrek 3*), and, unless a date is asked, no
    ordinal or date."""
    text = candidate.quote or candidate.fact or ""
    if _ASKS_YEAR.search(question.text):
        return bool(_YEAR.search(text))
    if not _ASKS_DATE.search(question.text):
        text = _ORDINAL.sub(" ", _DATE.sub(" ", text))
    numbers = set(re.findall(r"\d+", text))
    if candidate.fact:
        return bool(numbers)
    return bool(numbers - set(re.findall(r"\d+", candidate.passage.title or "")))


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
    question: Question,
    chosen: list[Candidate],
    passages: Sequence[Passage],
    stored: StoredBounds | None = None,
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
        for sentence in sentences_in(passage, stored):
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
