"""Telegram replies without a server: HTML splitting, previews, the answer's buttons, phrases."""

from __future__ import annotations

import pytest

from bot.answers import Answer
from bot.telegram.phrases import PHRASES, phrase
from bot.telegram.rendering import (
    MAX_MESSAGE_CHARS,
    ButtonPress,
    Span,
    answer_keyboard,
    format_added,
    parse_button,
    preview_html,
    render,
    split_message,
    telegram_length,
)
from bot.uploads import Added, AddResult
from tests.telegram_fixtures import html_plain_text

TELEGRAM_LIMIT = 4096


@pytest.mark.parametrize(
    "paragraphs",
    [
        [[Span("Kurz & <gut>.")]],
        [[Span("Satz eins. " * 900)]],  # one paragraph, cut on sentences
        [[Span("x" * 9000, "i")]],  # no boundary at all: a hard cut, still inside <i>…</i>
        [
            [
                Span("[1] "),
                Span("Ballerina", "b"),
                Span("\n"),
                Span("Zitat & mehr. " * 700, "blockquote"),
            ]
        ],
        [[Span(f"Absatz {i} mit <b> & Text. " * 12)] for i in range(60)],
        [[Span("🎬 Emoji zählen doppelt. " * 400, "i")]],
        [[Span("Wort " * 5000, "b")], [Span("Ende.")]],
    ],
)
def test_split_message_keeps_tags_whole_and_parts_short(paragraphs: list[list[Span]]) -> None:
    parts = split_message(paragraphs)
    whole = "\n\n".join("".join(span.text for span in p) for p in paragraphs)
    for part in parts:
        assert telegram_length(part) <= MAX_MESSAGE_CHARS < TELEGRAM_LIMIT
    # Nothing lost or added but whitespace where a message ends.
    shown = " ".join(html_plain_text(part) for part in parts)
    assert "".join(shown.split()) == "".join(whole.split())
    if telegram_length(whole) < MAX_MESSAGE_CHARS - 100:
        assert len(parts) == 1


def test_split_message_prefers_paragraph_then_sentence_boundaries() -> None:
    paragraphs = [[Span("A" * 3000 + ".")], [Span("B" * 3000 + ".")]]
    assert split_message(paragraphs) == ["A" * 3000 + ".", "B" * 3000 + "."]
    [first, second] = split_message([[Span(("Erster Satz hier. " * 150) + "Letzter.")]], limit=2000)
    assert first.endswith("hier.") and second.endswith("Letzter.")


def test_split_message_counts_escaped_markup() -> None:
    parts = split_message([[Span("&" * 5000)]])  # 25 000 characters once escaped
    assert all(telegram_length(p) <= MAX_MESSAGE_CHARS for p in parts)
    assert "".join(html_plain_text(p) for p in parts) == "&" * 5000


def test_the_preview_is_escaped_and_fits_one_message() -> None:
    assert preview_html("  <b>Tom & Jerry</b>\n") == "&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;"
    long = preview_html("Satz. " * 2000)
    assert 0 < len(long) <= 4000 and html_plain_text(long).startswith("Satz. Satz.")


def _answer(works: list[str], work_ids: list[str]) -> Answer:
    return Answer(
        "Wer hat bei Ballerina Regie geführt?", "…", "answered", "de", works, [], work_ids=work_ids
    )


def _buttons(answer: Answer, language: str) -> list[list[tuple[str, str]]]:
    markup = answer_keyboard(7, answer, language)
    return [[(b.text, str(b.callback_data)) for b in row] for row in markup.inline_keyboard]


def test_every_answer_gets_sources_and_feedback_buttons_in_the_users_language() -> None:
    one = _answer(["Ballerina (2025, Len Wiseman)"], ["ballerina-2025-len-wiseman"])
    assert _buttons(one, "de") == [
        [("Quellen", "sources:7"), ("👍", "feedback:7:up"), ("👎", "feedback:7:down")]
    ]
    assert _buttons(one, "en")[0][0] == ("Sources", "sources:7")


def test_an_answer_about_several_works_offers_one_button_per_work() -> None:
    both = _answer(
        ["Ballerina (2023, Lee Chung-hyun)", "Ballerina (2025, Len Wiseman)"],
        ["ballerina-2023-lee-chunghyun", "ballerina-2025-len-wiseman"],
    )
    assert _buttons(both, "de")[1:] == [
        [("Ballerina (2023, Lee Chung-hyun)", "narrow:7:0")],
        [("Ballerina (2025, Len Wiseman)", "narrow:7:1")],
    ]
    for row in answer_keyboard(2**40, both, "de").inline_keyboard:
        for button in row:  # Telegram refuses callback data over 64 bytes
            assert len(str(button.callback_data).encode()) <= 64


@pytest.mark.parametrize(
    ("data", "press"),
    [
        ("sources:3", ButtonPress("sources", 3)),
        ("feedback:12:down", ButtonPress("feedback", 12, "down")),
        ("narrow:4:1", ButtonPress("narrow", 4, "1")),
        ("narrow:x:1", None),
        ("other:1", None),
        ("", None),
    ],
)
def test_button_data_is_read_back(data: str, press: ButtonPress | None) -> None:
    assert parse_button(data) == press


def test_both_languages_have_every_phrase() -> None:
    assert PHRASES["de"].keys() == PHRASES["en"].keys()
    assert phrase("fr", "sources_button") == "Sources"  # unknown languages get English


def test_what_became_of_an_added_file_is_worded() -> None:
    def text(result: AddResult, language: str = "en") -> str:
        return html_plain_text(render(format_added(result, language)))

    assert text(AddResult(Added.SAME, "k.md"), "de") == (
        "k.md liegt schon im Kritiken-Ordner; nichts geändert."
    )
    assert text(AddResult(Added.UNREADABLE, "leer.json", reasons=["no reviews"])) == (
        "I did not add leer.json: it has no review I can read.\n\nno reviews"
    )
    assert (
        text(AddResult(Added.TOO_LARGE, "big.txt")) == "That file is too large: the limit is 5 MB."
    )
