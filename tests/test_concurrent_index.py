"""A running bot keeps answering from one index run at a time while other processes re-index."""

from __future__ import annotations

import gc
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.answers import Answer
from bot.service import ReviewService
from bot.settings import Settings
from tests.chroma_server import chroma_server
from tests.conftest import REPO, SEEDS, RememberingEmbedder

# The seed review the question below is answered from, and one the other process edits.
DELETED = "002_8bc465d4c9f8ae35.txt"
EDITED = "001_404a93345931fd65.txt"
QUESTION = "Welche Rolle spielt Keanu Reeves in Ballerina?"
ADDED = "Nachtrag: Die Szene im verschneiten Gewächshaus ist die schönste des ganzen Films."


def reviewbot(*args: str, data_dir: Path, chroma_url: str | None) -> subprocess.Popen[str]:
    """`reviewbot ARGS` in a process of its own, on ``data_dir`` and maybe a Chroma server."""
    env = {**os.environ, "REVIEWBOT_DATA_DIR": str(data_dir), "REVIEWBOT_EMBED_BATCH": "1"}
    env.pop("REVIEWBOT_CHROMA_URL", None)
    if chroma_url:
        env["REVIEWBOT_CHROMA_URL"] = chroma_url
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=600)
    return process.returncode, out, err


@pytest.fixture(params=["embedded", "server"])
def chroma_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """None for the embedded store, or the URL of a real Chroma server."""
    if request.param == "embedded":
        yield None
    else:
        with chroma_server(tmp_path / "server") as url:
            yield url


def test_bot_answers_from_what_another_process_indexed(
    chroma_url: str | None, seeds_copy: Path, tmp_path: Path, embedder: RememberingEmbedder
) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        chroma_url=chroma_url,
    )
    bot = ReviewService(settings, embedder=embedder)
    bot.index([seeds_copy])
    deleted_id = next(r.review_id for r in bot.reviews() if r.source_path.endswith(DELETED))
    assert deleted_id in {s.review_id for s in bot.ask(QUESTION).sources}
    deleted_text = (seeds_copy / DELETED).read_text(encoding="utf-8")

    (seeds_copy / DELETED).unlink()
    edited = seeds_copy / EDITED
    edited.write_text(edited.read_text(encoding="utf-8") + f"\n{ADDED}\n", encoding="utf-8")
    code, out, err = finish(
        reviewbot("index", str(seeds_copy), data_dir=tmp_path / "data", chroma_url=chroma_url)
    )
    assert code == 0, err
    assert "1 updated, 1 removed" in out

    # The running bot, and a new one in the same process, answer from the reviews as
    # they are now: no error, no quote of the deleted review.
    for service in (bot, ReviewService(settings, embedder=embedder)):
        answer = service.ask(QUESTION)
        current = {r.review_id for r in service.reviews()}
        assert deleted_id not in current
        assert {s.review_id for s in answer.sources} <= current
        assert not [s.quote for s in answer.sources if s.quote and s.quote in deleted_text]
        nearest = service.store.query(embedder.embed_query(ADDED), k=1)
        assert ADDED in nearest[0].text, "the vector search sees the chunk the other run added"


def test_second_indexer_on_a_shared_server_is_refused(tmp_path: Path, seeds_copy: Path) -> None:
    with chroma_server(tmp_path / "server") as url:
        first = reviewbot("-v", "index", str(seeds_copy), data_dir=tmp_path / "one", chroma_url=url)
        assert first.stderr is not None
        for line in first.stderr:
            if "stored 1 of" in line:
                first.send_signal(signal.SIGSTOP)  # hold it mid-run, holding the store's lease
                break
        try:
            code, _, err = finish(
                reviewbot("index", str(seeds_copy), data_dir=tmp_path / "two", chroma_url=url)
            )
        finally:
            first.send_signal(signal.SIGCONT)
        first_code, _, first_err = finish(first)
        assert first_code == 0, first_err
        assert code == 1
        assert "another `reviewbot index`" in err
        assert "Traceback" not in err

        # Once the first run is done, the other data directory may index the store.
        code, out, err = finish(
            reviewbot("index", str(seeds_copy), data_dir=tmp_path / "two", chroma_url=url)
        )
        assert code == 0, err
        assert "3 unchanged" in out


def test_a_pinned_search_keeps_to_its_generation(service: ReviewService, seeds_copy: Path) -> None:
    service.index([seeds_copy])
    deleted_id = next(r.review_id for r in service.reviews() if r.source_path.endswith(DELETED))
    pinned = service.search.pinned()

    (seeds_copy / DELETED).unlink()
    assert service.index([seeds_copy]).removed == [deleted_id]

    before = pinned.search(QUESTION, language="de", k=10)
    assert deleted_id in {h.review_id for h in before}, "the pinned generation still has it"
    assert {h.chunk.chunk_id for h in before} <= set(pinned.chunks())
    after = service.search.search(QUESTION, language="de", k=10)
    assert after
    assert deleted_id not in {h.review_id for h in after}


def test_a_bot_that_sees_many_generations_keeps_its_open_files_few(
    service: ReviewService, seeds_copy: Path
) -> None:
    service.index([seeds_copy])
    assert service.ask(QUESTION).status == "answered"
    opened = len(os.listdir("/proc/self/fd"))
    edited = seeds_copy / EDITED
    for round_ in range(8):
        edited.write_text(edited.read_text(encoding="utf-8") + f"\n{ADDED} ({round_})", "utf-8")
        assert service.index([seeds_copy]).updated
        assert service.ask(QUESTION).status == "answered"
    # Each generation's snapshot (and store client) holds files open; those of replaced
    # generations are closed once nothing uses them.
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) <= opened + 4


def test_many_questions_while_another_process_reindexes(
    service: ReviewService, tmp_path: Path
) -> None:
    """Two versions of the reviews with the same texts under other names take turns."""
    folder = tmp_path / "reviews"
    folder.mkdir()
    for seed in SEEDS.iterdir():
        shutil.copy(seed, folder / f"a-{seed.name}")
    versions: list[set[str]] = [set(), set()]
    for version, prefix in enumerate(("a-", "b-")):
        rename_all(folder, prefix)
        service.index([folder])
        versions[version] = {r.review_id for r in service.reviews()}
    assert not versions[0] & versions[1]

    errors: list[BaseException] = []
    answers: list[Answer] = []
    reindexing = threading.Event()

    def ask_until_done() -> None:
        while reindexing.is_set():
            for question in QUESTIONS:
                try:
                    answers.append(service.ask(question))
                except BaseException as error:
                    errors.append(error)

    reindexing.set()
    askers = [threading.Thread(target=ask_until_done) for _ in range(4)]
    for asker in askers:
        asker.start()
    try:
        for prefix in ("a-", "b-"):
            rename_all(folder, prefix)
            code, _, err = finish(
                reviewbot("index", str(folder), data_dir=service.settings.data_dir, chroma_url=None)
            )
            assert code == 0, err
    finally:
        reindexing.clear()
        for asker in askers:
            asker.join()

    assert not errors, errors[:3]
    assert len(answers) >= len(QUESTIONS) * 4
    for answer in answers:
        cited = {s.review_id for s in answer.sources}
        assert cited <= versions[0] or cited <= versions[1], f"one answer, two generations: {cited}"


QUESTIONS = [
    QUESTION,
    "Wer führt Regie bei Ballerina von 2025?",
    "Wie finden die Kritiken die Action in Ballerina?",
    "Wie viele Kritiken gibt es?",
]


def rename_all(folder: Path, prefix: str) -> None:
    for path in folder.iterdir():
        path.rename(folder / (prefix + path.name[2:]))
