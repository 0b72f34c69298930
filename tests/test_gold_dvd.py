"""The DVD gold set's test split through the real service: real Amazon.de reviews nobody here
wrote, questions never tuned on. Floors are the level reached when the set was written, less a
small margin, so later work cannot fall below it (tests/gold/README.md has the figures)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.evaluation import EvalReport, evaluate, load_gold
from bot.service import ReviewService
from bot.settings import Settings
from tests.conftest import REPO, SHARED_DATA, CliResult, RememberingEmbedder
from tests.gold.dvd_corpus import chosen_ids, write_dvd_corpus

GOLD = REPO / "tests" / "gold"
DVD_DATA = SHARED_DATA / "webis_cls10" / "de_dvd.jsonl"
K = 5

# Test split of dvd.jsonl, measured with the ranker refitted by scripts/fit_ranker.py
# (accuracy 0.77, recall@5 0.89, refusal 0.80, German 0.71 and English 0.82; when the set was
# written: 0.44, 0.56, 0.47, 0.54 and 0.34), less 0.05. The refusal floor is 11 of its 15
# questions, one below the 12 measured: a question is worth 0.067 there.
FLOORS = {"accuracy": 0.72, "recall": 0.84, "refusal": 0.73}
LANGUAGE_FLOORS = {"de": 0.66, "en": 0.77}

pytestmark = pytest.mark.skipif(not DVD_DATA.exists(), reason=f"{DVD_DATA} is not there")


@pytest.fixture(scope="module")
def dvd_service(
    tmp_path_factory: pytest.TempPathFactory, embedder: RememberingEmbedder
) -> Iterator[ReviewService]:
    """The chosen DVD reviews, indexed once for the module."""
    folder = tmp_path_factory.mktemp("dvd")
    settings = Settings(_env_file=None, data_dir=folder / "data")  # type: ignore[call-arg]
    service = ReviewService(settings, embedder=embedder)
    report = service.index([write_dvd_corpus(folder / "reviews")])
    assert not report.failed and len(report.added) == len(chosen_ids())
    yield service


@pytest.fixture(scope="module")
def test_split_report(dvd_service: ReviewService) -> EvalReport:
    items = [q for q in load_gold(GOLD / "dvd.jsonl") if q.split == "test"]
    passages: dict[str, list[str]] = {}
    for chunk in dvd_service.search.chunks().values():
        passages.setdefault(chunk.review_id, []).append(chunk.text)
    return evaluate(
        items,
        lambda question, conversation: dvd_service.ask(question, conversation=conversation),
        lambda review_id: passages.get(review_id, []),
        k=K,
    )


def test_every_expected_review_is_indexed_under_the_gold_ids(dvd_service: ReviewService) -> None:
    indexed = {review.review_id for review in dvd_service.reviews()}
    expected = {rid for q in load_gold(GOLD / "dvd.jsonl") for rid in q.expected_review_ids}
    assert expected <= indexed, sorted(expected - indexed)[:5]


def test_test_split_holds_its_floors(test_split_report: EvalReport) -> None:
    scores = test_split_report.splits["test"]
    overall = scores.overall
    failed = {
        metric: getattr(overall, metric)
        for metric, floor in FLOORS.items()
        if (getattr(overall, metric) or 0.0) < floor
    }
    failed |= {
        language: scores.by_language[language].accuracy
        for language, floor in LANGUAGE_FLOORS.items()
        if scores.by_language[language].accuracy < floor
    }
    assert not failed, f"below the floors {FLOORS | LANGUAGE_FLOORS}: {failed}"


def test_test_split_quotes_are_verbatim(test_split_report: EvalReport) -> None:
    assert test_split_report.splits["all"].overall.quote_failures == 0


def test_test_split_counts_are_exact(test_split_report: EvalReport) -> None:
    counts = [o for o in test_split_report.outcomes if o.item.kind == "count"]
    wrong = [(o.item.question, o.answer.answer[:120]) for o in counts if not o.correct]
    # Measured when the set was written: 2 of the 5 test-split count questions right.
    assert len(counts) - len(wrong) >= 2, wrong


def test_eval_floors_apply_to_the_chosen_split(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    """A gold set whose dev question is answered and whose test question is not: the floor
    fails on test (the default) and holds on dev; both splits are reported."""
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        '{"id": "d", "question": "Wer spielt Ok-ju in Ballerina?", "language": "de", '
        '"kind": "factual", "split": "dev", "expected_review_ids": '
        '["seeds/001_404a93345931fd65.txt"], "key_facts": ["Jeon Jong-seo"]}\n'
        '{"id": "t", "question": "Wer spielt Ok-ju in Ballerina?", "language": "de", '
        '"kind": "factual", "split": "test", "expected_review_ids": '
        '["seeds/001_404a93345931fd65.txt"], "key_facts": ["Zebrafink"]}\n',
        encoding="utf-8",
    )
    assert cli("index", str(SHARED_DATA / "seeds")).exit_code == 0

    on_test = cli("eval", str(gold), "--min-accuracy", "1")
    assert on_test.exit_code == 1
    assert "FAILED (test): accuracy 0.0 < 1.0" in on_test.err
    header = on_test.out.splitlines()[0]
    assert "dev" in header and "test" in header

    on_dev = cli("eval", str(gold), "--min-accuracy", "1", "--split", "dev", "--json")
    assert on_dev.exit_code == 0, on_dev.err
    report = on_dev.json()
    assert isinstance(report, dict)
    assert report["split"] == "dev"
    assert report["splits"]["dev"]["overall"]["accuracy"] == 1.0
    assert report["splits"]["test"]["overall"]["accuracy"] == 0.0
