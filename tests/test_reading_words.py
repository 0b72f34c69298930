"""The question words the answerer does not score are counted from dev questions, and the
shipped file is what the counting script writes."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from bot.engine.reading import GENERIC_WORDS, QUESTION_WORDS_FILE
from index.lexicon import DEFAULT_DICTIONARY, Lexicon

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
SCRIPT = REPO / "scripts" / "count_question_words.py"


def test_the_shipped_question_words_are_what_the_script_counts(tmp_path: Path) -> None:
    if not (SHARED_DATA / "subjqa").is_dir() or not DEFAULT_DICTIONARY.is_file():
        pytest.skip("needs ../shared/data and the Ding dictionary")
    spec = importlib.util.spec_from_file_location("count_question_words", SCRIPT)
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    lexicon = Lexicon.load(DEFAULT_DICTIONARY, cache_dir=tmp_path)
    counted = script.count(SHARED_DATA, lexicon)
    assert counted == json.loads(QUESTION_WORDS_FILE.read_text(encoding="utf-8"))


def test_asking_words_are_not_scored_and_content_words_are() -> None:
    assert {"wer", "whose", "rezension", "critics", "film"} <= GENERIC_WORDS
    assert not {"musik", "music", "ende", "ending", "regie"} & GENERIC_WORDS
