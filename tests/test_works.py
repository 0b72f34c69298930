"""Grouping reviews into works, with work that grows with the reviews, not their square."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import index.works
from index.metadata import parse_review
from index.records import Review, SourceRecord
from index.works import assign_works


def review(number: int, text: str, **fields: str) -> Review:
    record = SourceRecord(f"reviews/k.csv#{number}", "/reviews/k.csv", str(number), text, fields)
    return parse_review(record)


@pytest.fixture
def normalize_calls(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """How often the grouping normalises a name or a text."""
    calls = 0
    real = index.works.normalize

    def counting(text: str) -> str:
        nonlocal calls
        calls += 1
        return real(text)

    monkeypatch.setattr(index.works, "normalize", counting)
    return lambda: calls


def test_many_films_of_one_title_are_grouped_without_comparing_each_pair(
    normalize_calls: Callable[[], int],
) -> None:
    reviews = [review(n, "Gut.", title="Ballerina", director=f"Regisseur {n}") for n in range(400)]
    reviews.append(review(400, "Gut.", title="Ballerina"))

    assign_works(reviews)

    works = {r.work.work_id for r in reviews if r.work}
    assert len(works) == 400
    # The review without a director joins the first film of that title.
    assert reviews[-1].work == reviews[0].work
    assert normalize_calls() < 10 * len(reviews)


def test_reviews_without_a_title_are_attached_without_rereading_each_work(
    normalize_calls: Callable[[], int],
) -> None:
    titled = [
        review(n, "Okju, Minhee und Choi kämpfen. Okju siegt über Choi.", title="Ballerina")
        for n in range(50)
    ]
    untitled = [
        review(100 + n, "In Ballerina sind Okju, Minhee und Choi stark.") for n in range(300)
    ]

    assign_works([*titled, *untitled])

    assert {r.work.title for r in untitled if r.work} == {"Ballerina"}
    assert all(r.attached_by and "name: okju" in r.attached_by.evidence for r in untitled)
    assert normalize_calls() < 10 * (len(titled) + len(untitled))
