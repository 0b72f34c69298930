"""The keyword index stays quiet: building it logs nothing a command would print."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from index.keyword import KeywordIndex
from index.store import StoredChunk


class Remembering(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def root_handler() -> Iterator[Remembering]:
    """A handler on the root logger at WARNING, as `reviewbot` sets it up without -v."""
    root = logging.getLogger()
    handler = Remembering()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_building_the_keyword_index_prints_nothing(root_handler: Remembering) -> None:
    chunks = [
        StoredChunk("a", "Ein dichter Krimi mit kalter Front.", {"language": "de"}),
        StoredChunk("b", "A dense thriller with a cold front.", {"language": "en"}),
    ]
    index = KeywordIndex.build(chunks)
    assert index.search("Krimi", k=1)[0][0] == "a"
    assert [r.getMessage() for r in root_handler.records] == []
