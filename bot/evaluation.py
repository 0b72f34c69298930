"""Runs a gold set of questions and measures retrieval, answers and refusals."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.answers import Answer
from bot.conversation import Conversation
from index.errors import ReviewFileError

# Kinds the bot must refuse: nothing in the reviews answers it, the film is not indexed, or
# it is general knowledge no review is about. Every other kind is answerable.
REFUSED_KINDS = ("unanswerable", "out_of_corpus", "general")
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

    @property
    def answerable(self) -> bool:
        return self.kind not in REFUSED_KINDS


@dataclass
class Outcome:
    """How one gold question went."""

    item: GoldQuestion
    answer: Answer
    rank: int | None
    facts_ok: bool
    quotes_ok: bool

    @property
    def correct(self) -> bool:
        if not self.item.answerable:
            return self.answer.status == "not_found"
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
                )
            )
        except (ValueError, KeyError, TypeError) as error:
            raise ReviewFileError(
                f"{path}: line {number} is not a gold question: {error}"
            ) from error
    return items


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
) -> EvalReport:
    """Ask every question (after its history, in one conversation) and score the answers.

    ``review_texts(review_id)`` gives the stored passages of a review, against which
    every quote must be verbatim.
    """
    outcomes = []
    for item in items:
        conversation = Conversation()
        for earlier in item.history:
            ask(earlier, conversation)
        answer = ask(item.question, conversation)
        outcomes.append(_score(item, answer, review_texts, k=k))
    report = EvalReport(outcomes, k)
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
        (i for i, review_id in enumerate(cited, start=1) if review_id in item.expected_review_ids),
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


def _aggregate(outcomes: Sequence[Outcome]) -> Scores:
    answerable = [o for o in outcomes if o.item.answerable and o.item.expected_review_ids]
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
    )


def _share(values: Iterable[bool]) -> float:
    flags = list(values)
    return round(sum(flags) / len(flags), 3) if flags else 0.0
