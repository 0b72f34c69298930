"""Runs a gold set of questions and measures retrieval, answers and refusals."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.answers import Answer, WorkOpinion
from bot.conversation import Conversation
from index.errors import ReviewFileError

# Kinds the bot must refuse: nothing in the reviews answers it, the film is not indexed, or
# it is general knowledge no review is about. Every other kind is answerable.
REFUSED_KINDS = ("unanswerable", "out_of_corpus", "general")
# Kinds answered with opinions (tests/gold/opinions.jsonl), scored on the answer's structure:
# a work's majority polarity, quotes about an aspect, the best-liked work, the extreme review.
OPINION_KINDS = ("verdict", "aspect", "comparison", "extreme")
# An aspect answer is right when at least this share of its quotes name the aspect.
ASPECT_QUOTE_SHARE = 0.85
# Each question is in one split, drawn once (tests/gold/draw_splits.py): tuning looks at dev,
# the figures that count are test's. "all" is both.
SPLITS = ("dev", "test")
ALL = "all"


@dataclass(frozen=True)
class GoldQuestion:
    id: str
    question: str
    language: str
    kind: str
    split: str
    history: list[str]
    expected_review_ids: list[str]
    key_facts: list[str]
    any_facts: list[str]
    # The opinion set's fields (empty elsewhere): the indexed corpus the question is about;
    # a verdict's (or an aspect's) majority polarity; an aspect's name and the word stems a
    # sentence about it contains; an extreme's polarity; a comparison's works, by reviews.
    corpus: str = ""
    majority: str | None = None
    aspect: str | None = None
    aspect_terms: list[str] = field(default_factory=list)
    polarity: str | None = None
    winner_review_ids: list[str] = field(default_factory=list)
    candidate_review_ids: list[str] = field(default_factory=list)

    @property
    def answerable(self) -> bool:
        return self.kind not in REFUSED_KINDS

    @property
    def opinion(self) -> bool:
        return self.kind in OPINION_KINDS

    @property
    def cited_review_ids(self) -> list[str]:
        """The reviews a right answer cites: the expected ones, or a comparison's winner's."""
        return self.expected_review_ids or self.winner_review_ids

    @property
    def review_ids(self) -> list[str]:
        """Every review the question is about."""
        return list(dict.fromkeys(self.cited_review_ids + self.candidate_review_ids))


@dataclass
class Outcome:
    """How one gold question went."""

    item: GoldQuestion
    answer: Answer
    rank: int | None
    facts_ok: bool
    quotes_ok: bool
    # Opinion kinds: whether the structured answer is right (see ``score_opinion``), and,
    # where the question states a majority, whether the answer's majority is it.
    opinion_ok: bool = False
    majority_ok: bool | None = None

    @property
    def correct(self) -> bool:
        if not self.item.answerable:
            return self.answer.status == "not_found"
        if self.item.opinion:
            return self.answer.status == "answered" and self.opinion_ok
        found_review = not self.item.expected_review_ids or (
            self.rank is not None and self.rank <= 3
        )
        return self.answer.status == "answered" and self.facts_ok and found_review


@dataclass
class Scores:
    """Metrics over a group of outcomes."""

    questions: int = 0
    answerable: int = 0
    recall: float = 0.0
    mrr: float = 0.0
    accuracy: float = 0.0
    refusal: float | None = None
    quote_failures: int = 0
    # Share of the opinion questions with a stated majority whose answer states it.
    majority: float | None = None

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass
class Breakdown:
    """Metrics of one split: over all its questions, per language and per kind."""

    overall: Scores = field(default_factory=Scores)
    by_language: dict[str, Scores] = field(default_factory=dict)
    by_kind: dict[str, Scores] = field(default_factory=dict)

    def language_gap(self) -> float:
        """How far apart the accuracies of the languages are (0 for one language)."""
        accuracies = [s.accuracy for s in self.by_language.values()]
        return round(max(accuracies) - min(accuracies), 3) if accuracies else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "overall": self.overall.as_dict(),
            "by_language": {name: s.as_dict() for name, s in self.by_language.items()},
            "by_kind": {name: s.as_dict() for name, s in self.by_kind.items()},
            "language_gap": self.language_gap(),
        }


@dataclass
class EvalReport:
    outcomes: list[Outcome]
    k: int
    splits: dict[str, Breakdown] = field(default_factory=dict)
    """``dev``, ``test`` (those present) and ``all``."""
    skipped: list[GoldQuestion] = field(default_factory=list)
    """Questions about a corpus that is not indexed (none of their reviews is)."""

    def failures(self, split: str = ALL) -> list[Outcome]:
        return [
            o
            for o in self.outcomes
            if (split == ALL or o.item.split == split) and (not o.correct or not o.quotes_ok)
        ]


def load_gold(path: Path) -> list[GoldQuestion]:
    """Read a JSONL gold set; a malformed line is a ReviewFileError naming it."""
    items: list[GoldQuestion] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            items.append(
                GoldQuestion(
                    id=str(data["id"]),
                    question=str(data["question"]),
                    language=str(data.get("language", "")),
                    kind=str(data["kind"]),
                    split=_split_of(data),
                    history=list(data.get("history", [])),
                    expected_review_ids=list(data.get("expected_review_ids", [])),
                    key_facts=list(data.get("key_facts", [])),
                    any_facts=list(data.get("any_facts", [])),
                    corpus=str(data.get("corpus", "")),
                    majority=_optional(data, "majority"),
                    aspect=_optional(data, "aspect"),
                    aspect_terms=[str(t) for t in data.get("aspect_terms", [])],
                    polarity=_optional(data, "polarity"),
                    winner_review_ids=list(data.get("winner_review_ids", [])),
                    candidate_review_ids=list(data.get("candidate_review_ids", [])),
                )
            )
        except (ValueError, KeyError, TypeError) as error:
            raise ReviewFileError(
                f"{path}: line {number} is not a gold question: {error}"
            ) from error
    return items


def _optional(data: dict[str, object], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else str(value)


def _split_of(data: dict[str, object]) -> str:
    # A set that was never split was never tuned on: all of it is test.
    split = str(data.get("split", "test"))
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    return split


def contains_fact(text: str, fact: str) -> bool:
    """Case-insensitive, and whole words: "2" is not found in "2023"."""
    pattern = rf"(?<!\w){re.escape(fact.casefold())}(?!\w)"
    return re.search(pattern, text.casefold()) is not None


def evaluate(
    items: Sequence[GoldQuestion],
    ask: Callable[[str, Conversation], Answer],
    review_texts: Callable[[str], Iterable[str]],
    *,
    k: int,
    work_of: Callable[[str], str | None] | None = None,
) -> EvalReport:
    """Ask every question (after its history, in one conversation) and score the answers.

    ``review_texts(review_id)`` gives the stored passages of a review, against which
    every quote must be verbatim. A question that names its corpus is skipped when none
    of its reviews is indexed, so a set spanning several corpora runs against any one.
    ``work_of(review_id)`` is the id of a review's work; without it, opinion answers are
    matched to works through the sources they cite.
    """
    outcomes = []
    skipped = []
    for item in items:
        if item.corpus and not any(list(review_texts(r)) for r in item.review_ids):
            skipped.append(item)
            continue
        conversation = Conversation()
        for earlier in item.history:
            ask(earlier, conversation)
        answer = ask(item.question, conversation)
        outcome = _score(item, answer, review_texts, k=k)
        if item.opinion:
            outcome.opinion_ok, outcome.majority_ok = score_opinion(item, answer, work_of)
        outcomes.append(outcome)
    report = EvalReport(outcomes, k, skipped=skipped)
    for split in SPLITS:
        if chosen := [o for o in outcomes if o.item.split == split]:
            report.splits[split] = _breakdown(chosen)
    report.splits[ALL] = _breakdown(outcomes)
    return report


def _breakdown(outcomes: Sequence[Outcome]) -> Breakdown:
    breakdown = Breakdown(overall=_aggregate(outcomes))
    for language in sorted({o.item.language for o in outcomes}):
        breakdown.by_language[language] = _aggregate(
            [o for o in outcomes if o.item.language == language]
        )
    for kind in sorted({o.item.kind for o in outcomes}):
        breakdown.by_kind[kind] = _aggregate([o for o in outcomes if o.item.kind == kind])
    return breakdown


def _score(
    item: GoldQuestion, answer: Answer, review_texts: Callable[[str], Iterable[str]], *, k: int
) -> Outcome:
    cited = list(dict.fromkeys(s.review_id for s in answer.sources))[:k]
    rank = next(
        (i for i, review_id in enumerate(cited, start=1) if review_id in item.cited_review_ids),
        None,
    )
    text = answer.answer
    facts_ok = all(contains_fact(text, f) for f in item.key_facts) and (
        not item.any_facts or any(contains_fact(text, f) for f in item.any_facts)
    )
    quotes_ok = all(
        not s.quote or any(s.quote in passage for passage in review_texts(s.review_id))
        for s in answer.sources
    )
    return Outcome(item, answer, rank, facts_ok, quotes_ok)


def score_opinion(
    item: GoldQuestion, answer: Answer, work_of: Callable[[str], str | None] | None = None
) -> tuple[bool, bool | None]:
    """Whether an opinion answer is right for its kind, and whether it states the question's
    majority (None when the question states none). Not found is wrong.

    - verdict: the opinion of the work whose reviews are expected has the gold majority;
    - aspect: it quotes at least one sentence, and at least ``ASPECT_QUOTE_SHARE`` of its
      quotes contain an aspect term (a stem that starts a word, any case);
    - comparison: more than one work is compared and the first, the best liked, is the
      winner's;
    - extreme: its first source is one of the expected reviews.
    """
    if answer.status != "answered":
        return False, (False if item.majority else None)
    opinion = _opinion_of(answer.opinions, answer, item.expected_review_ids, work_of)
    majority_ok = None
    if item.majority:
        majority_ok = opinion is not None and opinion.majority == item.majority
    if item.kind == "verdict":
        return bool(majority_ok), majority_ok
    if item.kind == "aspect":
        quotes = [s.quote for s in answer.sources if s.quote]
        about = sum(mentions_any(quote, item.aspect_terms) for quote in quotes)
        return bool(quotes) and about >= ASPECT_QUOTE_SHARE * len(quotes), majority_ok
    if item.kind == "comparison":
        first = _opinion_of(answer.opinions[:1], answer, item.winner_review_ids, work_of)
        return len(answer.opinions) > 1 and first is not None, majority_ok
    if item.kind == "extreme":
        first_source = answer.sources[0].review_id if answer.sources else None
        return first_source in item.expected_review_ids, majority_ok
    raise ValueError(f"not an opinion kind: {item.kind}")


def mentions_any(text: str, stems: Iterable[str]) -> bool:
    """Whether one of ``stems`` starts a word of ``text``, in any case ("musik" is in
    "Musikalisch", not in "Filmmusik": a compound is a stem of its own)."""
    folded = text.casefold()
    return any(re.search(rf"(?<!\w){re.escape(stem.casefold())}", folded) for stem in stems)


def _opinion_of(
    opinions: Sequence[WorkOpinion],
    answer: Answer,
    review_ids: Sequence[str],
    work_of: Callable[[str], str | None] | None,
) -> WorkOpinion | None:
    """The one of ``opinions`` about the work these reviews are of: by work id where the
    index says which work a review is of, else by the work a source citing one of them names."""
    wanted = set(review_ids)
    work_ids = {w for w in map(work_of, review_ids) if w} if work_of else set()
    named = {s.work for s in answer.sources if s.review_id in wanted}
    for opinion in opinions:
        if work_ids and opinion.work_id in work_ids:
            return opinion
        if not work_ids and (opinion.work in named or opinion.work_id in named):
            return opinion
    return None


def _aggregate(outcomes: Sequence[Outcome]) -> Scores:
    answerable = [o for o in outcomes if o.item.answerable and o.item.cited_review_ids]
    with_majority = [o for o in outcomes if o.majority_ok is not None]
    unanswerable = [o for o in outcomes if not o.item.answerable]
    graded = [o for o in outcomes if o.item.answerable]
    return Scores(
        questions=len(outcomes),
        answerable=len(graded),
        recall=_share(o.rank is not None for o in answerable),
        mrr=round(sum(1 / o.rank for o in answerable if o.rank) / len(answerable), 3)
        if answerable
        else 0.0,
        accuracy=_share(o.correct for o in graded),
        refusal=_share(o.correct for o in unanswerable) if unanswerable else None,
        quote_failures=sum(not o.quotes_ok for o in outcomes),
        majority=_share(bool(o.majority_ok) for o in with_majority) if with_majority else None,
    )


def _share(values: Iterable[bool]) -> float:
    flags = list(values)
    return round(sum(flags) / len(flags), 3) if flags else 0.0
