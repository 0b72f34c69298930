"""Every edge of the command line ends in one line and an exit code, never a traceback: bad
settings, bad questions, a store failing under a command, escape sequences in review text."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.cli import EXIT_ERROR, EXIT_PARTIAL, EXIT_USAGE
from bot.question_input import EmptyQuestionError, QuestionTooLongError, clean_question
from bot.service import ReviewService
from bot.settings import Settings, load_settings
from tests.chroma_server import chroma_server
from tests.conftest import REPO, SEEDS, CliResult, run_cli

REVIEWBOT = Path(sys.executable).with_name("reviewbot")
QUESTION = "Wer hat bei Ballerina Regie geführt?"
DIRECTORS = ("Lee Chung-hyun", "Len Wiseman")
OVER_ALL_WORKS = "Welche Kritik lobt die Action?"

COMMANDS: dict[str, tuple[str, ...]] = {
    "ask": ("ask", QUESTION),
    "stats": ("stats",),
    "works": ("works",),
    "reviews": ("reviews",),
    "index": ("index",),
    "telegram": ("telegram",),
    "chat": ("chat",),
}

# Values the settings refuse when they are read, so every command refuses to start.
REFUSED: list[tuple[str, str]] = [
    ("chroma_url", "http://[::1"),
    ("chroma_url", "localhost:8000"),
    ("collection", "x"),
    ("collection", "my reviews!"),
    ("embedder", "word2vec"),
    ("embed_threads", "many"),
    ("embed_threads", "0"),
    ("embed_batch", "-1"),
    ("embeddings_url", "ftp://embed.example/v1"),
    ("embeddings_batch", "0"),
    ("embeddings_concurrency", "0"),
    ("embeddings_timeout", "inf"),
    ("embeddings_retries", "-1"),
    ("chunk_chars", "1e9"),
    ("chunk_chars", "10"),
    ("max_file_mb", "nan"),
    ("max_file_mb", "-5"),
    ("csv_columns", "{bad"),
    ("csv_columns", "[1]"),
    ("follow_links", "maybe"),
    ("top_k", "0"),
    ("top_k", "999"),
    ("answer_chars", "viel"),
    ("max_question_chars", "0"),
    ("llm_base_url", "http://[::1/v1"),
    ("llm_base_url", "ftp://llm.example/v1"),
    ("llm_timeout", "abc"),
    ("llm_timeout", "inf"),
    ("llm_max_tokens", "-1"),
    ("llm_retries", "1000000"),
    ("telegram_token", "not a token"),
    ("telegram_allowed_users", "1,alice"),
    ("telegram_admins", "abc"),
    ("telegram_webhook_url", "http://insecure.example/hook"),
    ("telegram_api_url", "not a url"),
]

ALL = frozenset(COMMANDS)
STORE_USERS = ALL - {"telegram"}  # telegram fails anyway here: there is no token


def _runtime_cases(folder: Path) -> list[tuple[str, str, frozenset[str], dict[str, str]]]:
    """Values of the right type that fail (or must not fail) when used: the setting, its
    value, the commands that must exit non-zero with it, other settings it needs."""
    a_file = folder / "a-file"
    a_file.write_text("not a folder", encoding="utf-8")
    binary = folder / "binary.dict"
    binary.write_bytes(bytes(range(256)) * 64)
    no_llm = {"REVIEWBOT_LLM_BASE_URL": "http://127.0.0.1:9/v1", "REVIEWBOT_LLM_RETRIES": "0"}
    only_telegram = frozenset({"telegram"})  # which has no token here
    return [
        ("data_dir", str(a_file), ALL, {}),
        ("reviews_dir", str(folder / "missing"), frozenset({"index", "telegram"}), {}),
        ("chroma_url", "http://127.0.0.1:9", ALL, {}),
        ("dictionary", str(binary), only_telegram, {}),
        ("cache_dir", "/proc/no/such/folder", only_telegram, {"REVIEWBOT_DICTIONARY": str(binary)}),
        ("llm_model", "no-such-model", only_telegram, no_llm),
        ("llm_api_key", "sk-wrong", only_telegram, no_llm),
        ("embeddings_api_key", "sk-any", only_telegram, {}),
        ("embeddings_query_prefix", "query: ", only_telegram, {}),
        ("embeddings_passage_prefix", "passage: ", only_telegram, {}),
    ]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No REVIEWBOT_ setting from outside the test, no .env, no dictionary to load, and a
    cache of its own, so a dictionary a case loads is parsed into no cache a bot shares."""
    for name in [n for n in os.environ if n.startswith("REVIEWBOT_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REVIEWBOT_DICTIONARY", "")
    monkeypatch.setenv("REVIEWBOT_CACHE_DIR", str(tmp_path / "cache"))
    return monkeypatch


@pytest.fixture
def run_main(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., CliResult]:
    """`reviewbot ARGS` in this process, its settings read from the environment like the
    installed command's; ``stdin`` is what the user types."""

    def run(*args: str, stdin: str = "", service: ReviewService | None = None) -> CliResult:
        clean_env.setattr(sys, "stdin", io.StringIO(stdin))
        return run_cli(args, service, capsys)

    return run


def assert_one_line_error(result: CliResult) -> None:
    assert "Traceback" not in result.out + result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert result.err.startswith("error: ")
    assert result.exit_code != 0


def env_name(field: str) -> str:
    return f"REVIEWBOT_{field.upper()}"


# --------------------------------------------------------------------------------------------
# Settings


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(("field", "value"), REFUSED)
def test_a_refused_setting_stops_every_command_with_one_line_naming_it(
    run_main: Callable[..., CliResult],
    clean_env: pytest.MonkeyPatch,
    indexed_data: Path,
    command: str,
    field: str,
    value: str,
) -> None:
    clean_env.setenv("REVIEWBOT_DATA_DIR", str(indexed_data))
    clean_env.setenv(env_name(field), value)
    result = run_main(*COMMANDS[command], stdin=f"{QUESTION}\n")
    assert_one_line_error(result)
    assert result.exit_code == EXIT_USAGE
    assert result.err.startswith(f"error: {env_name(field)}: ")
    assert result.out == ""


def test_a_wrong_setting_is_explained_like_a_person_would(
    run_main: Callable[..., CliResult], clean_env: pytest.MonkeyPatch
) -> None:
    messages = {}
    for field, value in [("llm_timeout", "abc"), ("telegram_admins", "abc"), ("top_k", "0")]:
        clean_env.setenv(env_name(field), value)
        messages[field] = run_main("stats").err
        clean_env.delenv(env_name(field))
    assert messages == {
        "llm_timeout": "error: REVIEWBOT_LLM_TIMEOUT: must be a valid number (got 'abc')\n",
        "telegram_admins": "error: REVIEWBOT_TELEGRAM_ADMINS: must be Telegram user ids "
        "(numbers) separated by commas (got 'abc')\n",
        "top_k": "error: REVIEWBOT_TOP_K: must be greater than or equal to 1 (got '0')\n",
    }


@pytest.mark.parametrize("command", COMMANDS)
def test_a_setting_that_fails_when_used_ends_in_one_line(
    run_main: Callable[..., CliResult],
    clean_env: pytest.MonkeyPatch,
    indexed_data: Path,
    tmp_path: Path,
    command: str,
) -> None:
    clean_env.setenv("REVIEWBOT_DATA_DIR", str(indexed_data))
    clean_env.setenv("REVIEWBOT_REVIEWS_DIR", str(SEEDS))
    for field, value, failing, needs in _runtime_cases(tmp_path):
        wrong = {env_name(field): value, **needs}
        with clean_env.context() as env:
            for name, setting in wrong.items():
                env.setenv(name, setting)
            result = run_main(*COMMANDS[command], stdin=f"{QUESTION}\n")

        case = f"{field}={value!r}: {result}"
        assert "Traceback" not in result.out + result.err, case
        assert len(result.err.strip().splitlines()) <= 1, case
        if command in failing:
            assert result.exit_code != 0 and result.err.startswith("error: "), case
        else:
            assert result.exit_code == 0, case


def test_every_setting_is_tried_with_a_bad_value(tmp_path: Path) -> None:
    tried = {field for field, _ in REFUSED} | {c[0] for c in _runtime_cases(tmp_path)}
    assert tried == set(Settings.model_fields)


def test_env_example_lists_every_setting_and_is_valid(clean_env: pytest.MonkeyPatch) -> None:
    example = REPO / ".env.example"
    listed = {line.split("=", 1)[0] for line in example.read_text().splitlines() if "=" in line}
    assert {env_name(field) for field in Settings.model_fields} <= listed
    load_settings(_env_file=example)  # every value in it is accepted


def test_the_installed_command_explains_a_bad_setting_in_one_line(tmp_path: Path) -> None:
    result = _run_installed(["stats"], tmp_path, REVIEWBOT_TELEGRAM_ADMINS="abc")
    assert result.returncode == EXIT_USAGE
    assert result.stderr == (
        "error: REVIEWBOT_TELEGRAM_ADMINS: must be Telegram user ids (numbers) separated by "
        "commas (got 'abc')\n"
    )
    assert result.stdout == ""


def test_help_documents_the_exit_codes(run_main: Callable[..., CliResult]) -> None:
    result = run_main("--help")
    assert result.exit_code == 0
    for code, meaning in [
        (EXIT_ERROR, "an error"),
        (EXIT_USAGE, "a wrong option, setting"),
        (EXIT_PARTIAL, "some review files could not be read"),
    ]:
        assert f"{code}  {meaning}" in result.out


@pytest.mark.parametrize("command", [*COMMANDS, "eval", "watch"])
def test_help_works_whatever_the_settings(
    run_main: Callable[..., CliResult], clean_env: pytest.MonkeyPatch, command: str
) -> None:
    clean_env.setenv("REVIEWBOT_TOP_K", "0")
    clean_env.setenv("REVIEWBOT_TELEGRAM_ADMINS", "abc")
    result = run_main(command, "--help")
    assert result.exit_code == 0, result.err
    assert result.out.startswith(f"Usage: reviewbot {command} ")
    assert result.err == ""


def test_a_usage_error_is_reported_before_a_bad_setting(
    run_main: Callable[..., CliResult], clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("REVIEWBOT_TOP_K", "0")
    result = run_main("ask")
    assert result.exit_code == EXIT_USAGE
    assert "Missing argument 'QUESTION'" in result.err
    assert "REVIEWBOT_TOP_K" not in result.err


# --------------------------------------------------------------------------------------------
# Logging


@pytest.fixture(scope="module")
def server_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The settings of a Chroma server holding the seed reviews (its client logs every
    HTTP request at INFO)."""
    folder = tmp_path_factory.mktemp("server")
    with chroma_server(folder / "chroma") as url:
        settings = {"REVIEWBOT_CHROMA_URL": url, "REVIEWBOT_DATA_DIR": str(folder / "data")}
        indexed = _run_installed(["index", str(SEEDS)], folder, **settings)
        assert indexed.returncode == 0, indexed.stderr
        yield settings


def test_verbose_shows_reviewbots_steps_and_not_the_libraries_info(
    tmp_path: Path, server_data: dict[str, str]
) -> None:
    result = _run_installed(["-v", "ask", QUESTION], tmp_path, **server_data)
    assert result.returncode == 0, result.stderr
    assert any(name in result.stdout for name in DIRECTORS)
    lines = result.stderr.splitlines()
    assert any(line.startswith("INFO index.search: opened the snapshot") for line in lines)
    assert all(line.split(" ", 1)[0] in {"INFO", "WARNING"} for line in lines), lines
    assert not [line for line in lines if line.startswith(("INFO httpx", "INFO chromadb"))]


def test_very_verbose_shows_the_libraries_debug_lines_too(
    tmp_path: Path, server_data: dict[str, str]
) -> None:
    # A question that names no work searches the Chroma server (one about a named work is
    # answered from the snapshot alone).
    result = _run_installed(["-vv", "ask", OVER_ALL_WORKS], tmp_path, **server_data)
    assert result.returncode == 0, result.stderr
    assert "INFO httpx: HTTP Request: " in result.stderr
    assert "DEBUG httpcore" in result.stderr


# --------------------------------------------------------------------------------------------
# Questions


def test_bytes_from_a_latin1_terminal_become_letters() -> None:
    # What Python makes of b"gef\xfchrt" from argv or stdin on a UTF-8 system.
    typed = b"Wer hat gef\xfchrt?".decode("utf-8", "surrogateescape")
    assert clean_question(typed, max_chars=100) == "Wer hat geführt?"


def test_surrogates_and_control_characters_are_repaired() -> None:
    assert clean_question("Ballerina \ud83c\udfac gut?", max_chars=100) == "Ballerina 🎬 gut?"
    assert clean_question("Ballerina \ud83d gut?", max_chars=100) == "Ballerina \ufffd gut?"
    assert clean_question("Wer\x00 spielt\x1b[31m\tmit?\r\n", max_chars=100) == (
        "Wer spielt [31m mit?"
    )


def test_an_empty_or_overlong_question_is_refused() -> None:
    with pytest.raises(EmptyQuestionError):
        clean_question(" \x00\n ", max_chars=100)
    with pytest.raises(QuestionTooLongError, match="at most 100") as refused:
        clean_question("x" * 101, max_chars=100)
    assert (refused.value.length, refused.value.limit) == (101, 100)


def test_the_service_answers_a_question_with_a_lone_surrogate(
    service: ReviewService,
) -> None:
    service.index([SEEDS])
    answer = service.ask("Wer hat bei Ballerina Regie geführt? \ud83d")
    assert any(name in answer.answer for name in DIRECTORS)
    json.dumps(answer.as_dict())  # what --json and Telegram do with it: no encoding error


def test_an_overlong_question_is_refused_in_one_line(
    cli: Callable[..., CliResult], service: ReviewService
) -> None:
    service.index([SEEDS])
    result = cli("ask", "Wer hat Regie geführt? " + "x" * 1000)
    assert_one_line_error(result)
    assert result.exit_code == EXIT_USAGE
    assert "too long (1023 characters); please ask in at most 1000" in result.err


def test_the_chat_refuses_an_overlong_question_and_answers_the_next(
    run_main: Callable[..., CliResult], clean_env: pytest.MonkeyPatch, indexed_data: Path
) -> None:
    clean_env.setenv("REVIEWBOT_DATA_DIR", str(indexed_data))
    result = run_main("chat", stdin="y" * 1001 + "\n" + QUESTION + "\n")
    assert result.exit_code == 0
    assert (
        result.err
        == "error: the question is too long (1001 characters); please ask in at most 1000\n"
    )
    assert any(name in result.out for name in DIRECTORS)


def test_the_installed_command_answers_latin1_bytes_with_nothing_on_stderr(
    tmp_path: Path, indexed_data: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(indexed_data, data)
    question = "Wer hat bei Ballerina Regie geführt?".encode("latin-1")
    result = _run_installed([b"ask", question], tmp_path, REVIEWBOT_DATA_DIR=str(data))
    assert result.returncode == 0, result.stderr
    assert any(name in result.stdout for name in DIRECTORS)
    assert result.stderr == ""  # no "DEBUG bm25s: Building index from tokens"


# --------------------------------------------------------------------------------------------
# The store failing under a command


def test_a_chroma_error_after_connecting_is_one_line(
    run_main: Callable[..., CliResult], service: ReviewService
) -> None:
    service.index([SEEDS])
    service.stats()  # connected, the collection opened
    service.store._client.delete_collection("reviews")  # e.g. another program's doing
    result = run_main("stats", service=service)
    assert_one_line_error(result)
    assert result.exit_code == EXIT_ERROR
    assert result.err.startswith(f"error: the Chroma store at {service.settings.data_dir} failed")


# --------------------------------------------------------------------------------------------
# Escape sequences in review text


@pytest.fixture
def hostile_titles(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    folder = tmp_path / "reviews"
    folder.mkdir()
    review = {
        "title": "\x1b[31mRot\x1b]0;pwned\x07 Film\x9b2J",
        "author": "\x1b[2JMallory",
        "year": 2024,
        "text": "Ein Film über Farben. Die Kamera ist ruhig, die Musik laut. " * 3,
    }
    (folder / "hostile.json").write_text(json.dumps(review), encoding="utf-8")
    assert cli("index", str(folder)).exit_code == 0


@pytest.mark.parametrize("command", ["works", "reviews"])
def test_escape_sequences_in_titles_never_reach_the_terminal(
    cli: Callable[..., CliResult], hostile_titles: None, command: str
) -> None:
    result = cli(command)
    assert result.exit_code == 0
    assert "Rot" in result.out and "Film" in result.out
    for control in ("\x1b", "\x07", "\x9b"):
        assert control not in result.out


@pytest.mark.parametrize("command", ["works", "reviews"])
def test_json_output_escapes_control_characters_and_keeps_the_data(
    cli: Callable[..., CliResult], hostile_titles: None, command: str
) -> None:
    result = cli(command, "--json")
    for control in ("\x1b", "\x07", "\x9b"):
        assert control not in result.out
    assert "\x1b[31mRot\x1b]0;pwned\x07 Film\x9b2J" in _strings(result.json())


def _strings(data: object) -> set[str]:
    """Every string anywhere in parsed JSON."""
    if isinstance(data, str):
        return {data}
    if isinstance(data, dict):
        data = list(data.values())
    if isinstance(data, list):
        return set().union(*(_strings(item) for item in data))
    return set()


# --------------------------------------------------------------------------------------------


def _run_installed(
    args: list[str] | list[bytes], folder: Path, **settings: str
) -> subprocess.CompletedProcess[str]:
    """The installed `reviewbot` in its own process, with only the settings given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVIEWBOT_")}
    env.update(REVIEWBOT_DICTIONARY="", **settings)
    return subprocess.run(
        [os.fsencode(REVIEWBOT), *[os.fsencode(a) for a in args]],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
