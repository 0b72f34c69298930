"""The opinion gold set (tests/gold/opinions.jsonl) through the offline service: verdicts,
aspects, comparisons and most-positive/negative reviews over the seeds, the examples and real
DVD reviews, and the scoring that judges them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.answers import Answer, Source, Status, WorkOpinion
from bot.evaluation import GoldQuestion, Outcome, evaluate, load_gold, score_opinion
from bot.service import ReviewService
from bot.settings import Settings
from tests.conftest import EXAMPLES, REPO, SEEDS, SHARED_DATA, CliResult, RememberingEmbedder
from tests.gold.dvd_corpus import write_dvd_corpus

GOLD = REPO / "tests" / "gold" / "opinions.jsonl"
DVD_DATA = SHARED_DATA / "webis_cls10" / "de_dvd.jsonl"
K = 5

# The floors, on the test split: the stated majority is the truth, aspect answers
# quote sentences about the aspect, the best-liked work (or the extreme review) is right.
FLOORS = {"verdict": 0.90, "aspect": 0.85, "comparison": 0.90}
# Most-positive/negative questions count with the comparisons.
FLOOR_GROUP = {"verdict": "verdict", "aspect": "aspect", "comparison": "comparison"}
FLOOR_GROUP["extreme"] = "comparison"


def _indexed(folder: Path, corpus: Path, embedder: RememberingEmbedder) -> ReviewService:
    settings = Settings(_env_file=None, data_dir=folder / "data")  # type: ignore[call-arg]
    service = ReviewService(settings, embedder=embedder)
    report = service.index([corpus])
    assert not report.failed and report.added
    return service


@pytest.fixture(scope="module")
def corpus_services(
    tmp_path_factory: pytest.TempPathFactory, embedder: RememberingEmbedder
) -> Iterator[dict[str, ReviewService]]:
    """Each corpus of the set in an index of its own, built once for the module."""
    if not DVD_DATA.exists():
        pytest.skip(f"{DVD_DATA} is not there")
    folder = tmp_path_factory.mktemp("opinions")
    dvd = write_dvd_corpus(folder / "dvd-reviews")
    yield {
        name: _indexed(folder / name, corpus, embedder)
        for name, corpus in (("seeds", SEEDS), ("examples", EXAMPLES), ("dvd", dvd))
    }


def _work_of(service: ReviewService) -> Callable[[str], str | None]:
    works = {r.review_id: r.work.work_id for r in service.catalog() if r.work}
    return works.get


def _run(service: ReviewService, items: list[GoldQuestion]) -> list[Outcome]:
    passages: dict[str, list[str]] = {}
    for chunk in service.search.chunks().values():
        passages.setdefault(chunk.review_id, []).append(chunk.text)
    report = evaluate(
        items,
        lambda question, conversation: service.ask(question, conversation=conversation),
        lambda review_id: passages.get(review_id, []),
        k=K,
        work_of=_work_of(service),
    )
    assert not report.skipped
    return report.outcomes


@pytest.fixture(scope="module")
def test_split_outcomes(corpus_services: dict[str, ReviewService]) -> list[Outcome]:
    items = [q for q in load_gold(GOLD) if q.split == "test"]
    return [
        outcome
        for name, service in corpus_services.items()
        for outcome in _run(service, [q for q in items if q.corpus == name])
    ]


def test_gold_reviews_are_the_indexed_works_reviews(
    corpus_services: dict[str, ReviewService],
) -> None:
    """Every id is indexed under that name; a verdict's or aspect's reviews are all the
    reviews of one work, a comparison's candidates all the reviews of its works."""
    problems = []
    for name, service in corpus_services.items():
        members: dict[str, set[str]] = {}
        work_of = {}
        for review in service.catalog():
            assert review.work is not None
            work_of[review.review_id] = review.work.work_id
            members.setdefault(review.work.work_id, set()).add(review.review_id)
        for q in (q for q in load_gold(GOLD) if q.corpus == name):
            unknown = [r for r in q.review_ids if r not in work_of]
            if unknown:
                problems.append((q.id, "not indexed", unknown))
                continue
            works = {work_of[r] for r in q.review_ids}
            whole = set().union(*(members[w] for w in works))
            if q.kind in ("verdict", "aspect") and (len(works) != 1 or whole != set(q.review_ids)):
                problems.append((q.id, "not all the reviews of one work", sorted(works)))
            if q.kind == "comparison":
                winners = {work_of[r] for r in q.winner_review_ids}
                if len(works) < 2 or len(winners) != 1 or whole != set(q.review_ids):
                    problems.append((q.id, "candidates are not whole works", sorted(works)))
    assert not problems, problems


@pytest.mark.parametrize("group", ["verdict", "aspect", "comparison"])
def test_test_split_holds_the_opinion_floor(test_split_outcomes: list[Outcome], group: str) -> None:
    graded = [o for o in test_split_outcomes if FLOOR_GROUP[o.item.kind] == group]
    accuracy = round(sum(o.correct for o in graded) / len(graded), 3)
    floor = FLOORS[group]
    assert accuracy >= floor, f"{group}: {accuracy} on the test split, floor {floor}"


def test_test_split_quotes_are_verbatim(test_split_outcomes: list[Outcome]) -> None:
    assert [o.item.id for o in test_split_outcomes if not o.quotes_ok] == []


def test_eval_runs_the_questions_of_the_indexed_corpus_only(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    """One opinion set spans three corpora: against the seeds, only the seeds' questions
    count, each kind in a row of its own."""
    gold = tmp_path / "opinions.jsonl"
    gold.write_text(
        '{"id": "s", "question": "Lohnt sich die Netflix-Ballerina?", "language": "de", '
        '"kind": "verdict", "split": "test", "corpus": "seeds", "history": [], '
        '"expected_review_ids": ["seeds/000_20005b48146ddf91.txt", '
        '"seeds/001_404a93345931fd65.txt"], "majority": "mixed"}\n'
        '{"id": "d", "question": "Lohnt sich Van Helsing?", "language": "de", '
        '"kind": "verdict", "split": "test", "corpus": "dvd", "history": [], '
        '"expected_review_ids": ["dvd/de_dvd.jsonl#webis-cls10-de-dvd-test-0243"], '
        '"majority": "negative"}\n',
        encoding="utf-8",
    )
    assert cli("index", str(SEEDS)).exit_code == 0
    report = cli("eval", str(gold), "--json").json()
    assert isinstance(report, dict)
    assert report["splits"]["test"]["overall"]["questions"] == 1
    assert list(report["splits"]["test"]["by_kind"]) == ["verdict"]


# ----------------------------------------------------------------------------------------
# The scoring itself, on answers made by hand.

NETFLIX = ["seeds/000_20005b48146ddf91.txt", "seeds/001_404a93345931fd65.txt"]
WICK = "seeds/002_8bc465d4c9f8ae35.txt"
WORK_OF = {NETFLIX[0]: "netflix", NETFLIX[1]: "netflix", WICK: "wick"}


def _question(kind: str, expected: tuple[str, ...] | list[str] = (), **fields: Any) -> GoldQuestion:
    return GoldQuestion(
        id=kind,
        question="?",
        language="de",
        kind=kind,
        split="test",
        history=[],
        expected_review_ids=list(expected),
        key_facts=[],
        any_facts=[],
        corpus="seeds",
        **fields,
    )


def _opinion(work_id: str, positive: int, negative: int, mixed: int = 0) -> WorkOpinion:
    return WorkOpinion(
        work_id=work_id,
        work=f"Ballerina ({work_id})",
        positive=positive,
        negative=negative,
        mixed=mixed,
        from_rating=0,
        from_text=positive + negative + mixed,
        rated=0,
        average_rating=None,
    )


def _source(n: int, review_id: str, quote: str = "", work_id: str | None = None) -> Source:
    work = work_id or WORK_OF[review_id]
    return Source(
        n, review_id, f"Ballerina ({work})", "Ballerina", None, None, None, None, quote, 1.0
    )


def _answer(
    sources: list[Source], opinions: list[WorkOpinion], status: Status = "answered"
) -> Answer:
    return Answer("?", "…", status, "de", sources=sources, opinions=opinions)


VERDICT = _question("verdict", expected=NETFLIX, majority="mixed")
MUSIC = _question(
    "aspect", expected=NETFLIX, aspect="music", aspect_terms=["musik", "score", "filmmusik"]
)
COMPARE = _question("comparison", winner_review_ids=[WICK], candidate_review_ids=[*NETFLIX, WICK])
MOST_NEGATIVE = _question("extreme", expected=[NETFLIX[0]], polarity="negative")
ABOUT_MUSIC = "Die Musik als solche muss man nicht lieben."
NOT_MUSIC = "Der Apotheker nervt."

SCORING_TABLE = [
    (
        "verdict: the work's majority",
        VERDICT,
        _answer([_source(1, NETFLIX[0])], [_opinion("netflix", 1, 1)]),
        True,
    ),
    (
        "verdict: another majority",
        VERDICT,
        _answer([_source(1, NETFLIX[0])], [_opinion("netflix", 2, 0)]),
        False,
    ),
    (
        "verdict: the other film's opinion",
        VERDICT,
        _answer([_source(1, WICK)], [_opinion("wick", 1, 1)]),
        False,
    ),
    (
        "verdict: right majority, not found",
        VERDICT,
        _answer([], [_opinion("netflix", 1, 1)], "not_found"),
        False,
    ),
    ("verdict: no opinions", VERDICT, _answer([_source(1, NETFLIX[0])], []), False),
    (
        "aspect: every quote on the aspect",
        MUSIC,
        _answer(
            [
                _source(1, NETFLIX[0], ABOUT_MUSIC),
                _source(2, NETFLIX[1], "Der Hip-Hop-lastige Score bäumt sich auf."),
            ],
            [],
        ),
        True,
    ),
    (
        "aspect: 6 of 7 quotes (0.86)",
        MUSIC,
        _answer(
            [
                *(_source(i, NETFLIX[0], ABOUT_MUSIC) for i in range(6)),
                _source(7, NETFLIX[1], NOT_MUSIC),
            ],
            [],
        ),
        True,
    ),
    (
        "aspect: 4 of 5 quotes (0.80)",
        MUSIC,
        _answer(
            [
                *(_source(i, NETFLIX[0], ABOUT_MUSIC) for i in range(4)),
                _source(5, NETFLIX[1], NOT_MUSIC),
            ],
            [],
        ),
        False,
    ),
    (
        "aspect: no quote",
        MUSIC,
        _answer([_source(1, NETFLIX[0])], [_opinion("netflix", 1, 0)]),
        False,
    ),
    (
        "aspect: a stem inside a word does not count",
        MUSIC,
        _answer([_source(1, NETFLIX[0], "Ein Schmusikater.")], []),
        False,
    ),
    (
        "comparison: the winner first",
        COMPARE,
        _answer(
            [_source(1, WICK), _source(2, NETFLIX[1])],
            [_opinion("wick", 1, 0), _opinion("netflix", 1, 1)],
        ),
        True,
    ),
    (
        "comparison: the loser first",
        COMPARE,
        _answer(
            [_source(1, WICK), _source(2, NETFLIX[1])],
            [_opinion("netflix", 1, 1), _opinion("wick", 1, 0)],
        ),
        False,
    ),
    (
        "comparison: one work only",
        COMPARE,
        _answer([_source(1, WICK)], [_opinion("wick", 1, 0)]),
        False,
    ),
    (
        "comparison: not found",
        COMPARE,
        _answer(
            [_source(1, WICK)], [_opinion("wick", 1, 0), _opinion("netflix", 1, 1)], "not_found"
        ),
        False,
    ),
    (
        "extreme: the expected review first",
        MOST_NEGATIVE,
        _answer([_source(1, NETFLIX[0]), _source(2, NETFLIX[1])], []),
        True,
    ),
    (
        "extreme: another review first",
        MOST_NEGATIVE,
        _answer([_source(1, NETFLIX[1]), _source(2, NETFLIX[0])], []),
        False,
    ),
    ("extreme: no source", MOST_NEGATIVE, _answer([], []), False),
]


@pytest.mark.parametrize(
    ("question", "answer", "right"),
    [case[1:] for case in SCORING_TABLE],
    ids=[case[0] for case in SCORING_TABLE],
)
@pytest.mark.parametrize("by_work_id", [True, False], ids=["work ids", "sources"])
def test_scoring_marks_opinion_answers(
    question: GoldQuestion, answer: Answer, right: bool, by_work_id: bool
) -> None:
    work_of = WORK_OF.get if by_work_id else None
    correct, _ = score_opinion(question, answer, work_of)
    outcome = Outcome(question, answer, None, True, True, opinion_ok=correct)
    assert outcome.correct is right


def test_aspect_majority_is_reported_apart_from_the_quotes() -> None:
    question = _question(
        "aspect", expected=NETFLIX, aspect="music", aspect_terms=["musik"], majority="negative"
    )
    quoted = [_source(1, NETFLIX[0], ABOUT_MUSIC)]
    assert score_opinion(question, _answer(quoted, [_opinion("netflix", 0, 2)])) == (True, True)
    assert score_opinion(question, _answer(quoted, [_opinion("netflix", 2, 0)])) == (True, False)


def test_gold_set_loads_with_its_opinion_fields() -> None:
    items = load_gold(GOLD)
    assert len(items) >= 90
    kinds = {q.kind for q in items}
    assert kinds == {"verdict", "aspect", "comparison", "extreme"}
    assert all(q.majority for q in items if q.kind == "verdict")
    assert all(q.aspect_terms for q in items if q.kind == "aspect")
    assert all(
        q.winner_review_ids and q.candidate_review_ids for q in items if q.kind == "comparison"
    )
    assert {q.corpus for q in items} == {"seeds", "examples", "dvd"}
