"""SubjQA movies: does the offline answerer answer the answerable questions, and quote the span?

Run from the repo root: ``.venv/bin/python benchmarks/bench_subjqa.py [--limit N] [--json]``.
The data is read from ``../shared/data/subjqa`` and never copied into the repo. Figures are
given for the data's own ``dev`` and ``test`` splits side by side: tune on dev, report test.
"""

from __future__ import annotations

import argparse
import json
import re
import string
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SUBJQA = REPO.parent / "shared" / "data" / "subjqa"


@dataclass(frozen=True)
class Outcome:
    """One question–review pair: the gold spans and what the answerer said."""

    question: str
    split: str
    review_id: str
    gold: list[str]
    answered: bool
    quotes: list[str]
    cited_ids: list[str]

    @property
    def answerable(self) -> bool:
        return bool(self.gold)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in string.punctuation)
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def token_f1(prediction: str, gold: str) -> float:
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(gold).split()
    same = sum((Counter(predicted) & Counter(expected)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(expected)
    return 2 * precision * recall / (precision + recall)


def span_quoted(outcome: Outcome) -> bool:
    quotes = [normalize_answer(q) for q in outcome.quotes]
    return any(
        normalize_answer(g) and normalize_answer(g) in q for g in outcome.gold for q in quotes
    )


def write_corpus(pairs: list[dict[str, Any]], folder: Path, *, scope: str) -> Path:
    """The pairs' reviews as JSON lines; each item (or review, ``scope``) is one work."""
    wanted = {pair["review_id"] for pair in pairs}
    corpus = folder / "subjqa" / "reviews.jsonl"
    corpus.parent.mkdir(parents=True)
    with (SUBJQA / "subjqa_movies_reviews.jsonl").open(encoding="utf-8") as source:
        rows = [json.loads(line) for line in source if line.strip()]
    with corpus.open("w", encoding="utf-8") as out:
        for row in rows:
            if row["review_id"] in wanted:
                title = row["item_id"] if scope == "item" else row["review_id"]
                record = {"id": row["review_id"], "title": title, "language": "en"}
                out.write(json.dumps({**record, "text": row["text"]}) + "\n")
    return corpus


# Written in a kept data directory once its index is complete; the next run asks at once.
INDEXED_MARK = "indexed"


def run(
    pairs: list[dict[str, Any]], *, scope: str, threads: int, data_dir: Path | None = None
) -> tuple[list[Outcome], dict[str, float]]:
    """Index the pairs' reviews, then ask each question within its work as the bot does
    (``ReviewService.answer_offline``: retrieval, the fitted sentence ranker, no LLM).

    With ``data_dir`` the index is kept there (the reviews beside it, in
    ``<data_dir>-reviews``) and reused by the next run, as ``scripts/fit_ranker.py`` does."""
    if data_dir is not None:
        return _ask(pairs, scope=scope, threads=threads, data_dir=data_dir)
    with tempfile.TemporaryDirectory() as folder:
        return _ask(pairs, scope=scope, threads=threads, data_dir=Path(folder) / "data")


def _ask(
    pairs: list[dict[str, Any]], *, scope: str, threads: int, data_dir: Path
) -> tuple[list[Outcome], dict[str, float]]:
    from bot.engine.reading import read_question
    from bot.service import ReviewService
    from bot.settings import Settings

    outcomes: list[Outcome] = []
    reviews = data_dir.with_name(f"{data_dir.name}-reviews")
    corpus = reviews / "subjqa" / "reviews.jsonl"
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=data_dir, embed_threads=threads
    )
    service = ReviewService(settings)
    started = time.perf_counter()
    if not (data_dir / INDEXED_MARK).exists():
        if not corpus.exists():
            write_corpus(pairs, reviews, scope=scope)
        service.index([corpus])
        (data_dir / INDEXED_MARK).write_text("yes")
    indexed = time.perf_counter()
    view = service.view()
    works = {r.review_id.rsplit("#", 1)[1]: r.work for r in view.catalog.reviews() if r.work}
    for pair in pairs:
        question = read_question(pair["question"], view.catalog)
        question.works, question.ambiguous = [works[pair["review_id"]]], False
        question.unknown_title = None
        answer, _, _ = service.answer_offline(question, view=view)
        outcomes.append(
            Outcome(
                question=pair["question"],
                split=pair["split"],
                review_id=pair["review_id"],
                gold=[a["text"] for a in pair["answers"]],
                answered=answer.status == "answered",
                quotes=[s.quote for s in answer.sources if s.quote],
                cited_ids=[s.review_id.rsplit("#", 1)[1] for s in answer.sources],
            )
        )
    asked = time.perf_counter()
    return outcomes, {"index_s": indexed - started, "ask_s": asked - indexed}


def share(part: int, whole: int) -> float:
    return round(part / whole, 3) if whole else 0.0


SPLITS = ("dev", "test")


def figures(outcomes: list[Outcome]) -> dict[str, Any]:
    answerable = [o for o in outcomes if o.answerable]
    answered = [o for o in outcomes if o.answered]
    hits = [o for o in answered if o.answerable]
    f1 = [
        max(token_f1(" ".join(o.quotes), g) for g in o.gold) if o.answered else 0.0
        for o in answerable
    ]
    return {
        "pairs": len(outcomes),
        "answerable": len(answerable),
        "answered": len(answered),
        "answerability_accuracy": share(
            sum(o.answered == o.answerable for o in outcomes), len(outcomes)
        ),
        "majority_baseline": share(
            max(len(answerable), len(outcomes) - len(answerable)), len(outcomes)
        ),
        "answerable_precision": share(len(hits), len(answered)),
        "answerable_recall": share(len(hits), len(answerable)),
        "token_f1": round(sum(f1) / len(f1), 3) if f1 else 0.0,
        # The measure: of the answerable pairs answered, the gold span is quoted.
        "span_quoted_of_answered": share(sum(map(span_quoted, hits)), len(hits)),
        # Not answering counts as not quoting: recall and quoting in one figure.
        "span_quoted_of_answerable": share(sum(map(span_quoted, answerable)), len(answerable)),
        "own_review_cited": share(sum(o.review_id in o.cited_ids for o in answered), len(answered)),
    }


def figures_by_split(outcomes: list[Outcome], timings: dict[str, float]) -> dict[str, Any]:
    """The figures of each split, and the time it took (for all pairs)."""
    result: dict[str, Any] = {
        split: figures(chosen)
        for split in SPLITS
        if (chosen := [o for o in outcomes if o.split == split])
    }
    result["index_s"] = round(timings["index_s"], 1)
    result["ask_ms_per_question"] = round(1000 * timings["ask_s"] / len(outcomes), 1)
    return result


def print_side_by_side(result: dict[str, Any]) -> None:
    splits = [split for split in SPLITS if split in result]
    print(f"{'':>22}" + "".join(f"{split:>10}" for split in splits))
    for name in result[splits[0]]:
        print(f"{name:>22}" + "".join(f"{result[split][name]:>10}" for split in splits))
    for name in ("index_s", "ask_ms_per_question"):
        print(f"{name:>22}: {result[name]}")


def show_failures(outcomes: list[Outcome], count: int) -> None:
    # Failures of dev only: looking at test's would tune on it.
    outcomes = [o for o in outcomes if o.split == "dev"]
    kinds = {
        "answerable, not answered": [o for o in outcomes if o.answerable and not o.answered],
        "unanswerable, answered": [o for o in outcomes if o.answered and not o.answerable],
        "answered, gold span not quoted": [
            o for o in outcomes if o.answered and o.answerable and not span_quoted(o)
        ],
    }
    for kind, found in kinds.items():
        print(f"\n## {kind} ({len(found)})", file=sys.stderr)
        for o in found[:count]:
            print(f"- Q: {o.question}\n  gold: {o.gold}\n  quoted: {o.quotes}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, help="only the first N question–review pairs")
    parser.add_argument(
        "--scope",
        choices=["item", "review"],
        default="item",
        help="the work a question is asked within: the movie (default) or the pair's own review",
    )
    parser.add_argument("--threads", type=int, default=2, help="embedder threads")
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="keep the index here and reuse it on the next run (default: a temporary one)",
    )
    parser.add_argument(
        "--failures", type=int, default=0, help="print N dev failures of each kind to stderr"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args()

    with (SUBJQA / "subjqa_movies_qa.jsonl").open(encoding="utf-8") as source:
        pairs = [json.loads(line) for line in source if line.strip()][: args.limit]
    outcomes, timings = run(pairs, scope=args.scope, threads=args.threads, data_dir=args.data_dir)
    result = figures_by_split(outcomes, timings)
    if args.failures:
        show_failures(outcomes, args.failures)
    if args.json:
        print(json.dumps(result))
    else:
        print_side_by_side(result)


if __name__ == "__main__":
    main()
