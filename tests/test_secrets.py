"""The bot token and the LLM key never reach a terminal or a log, at any log level, even when
a server echoes them back in its error."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.cli import EXIT_USAGE
from bot.redaction import Redactor
from bot.settings import load_settings
from index.errors import ConfigurationError

REVIEWBOT = Path(sys.executable).with_name("reviewbot")
API_KEY = "sk-test-0nlyF0rTests-5ecretKey"
BOT_TOKEN = "123456789:AAtest-0nlyF0rTests_5ecretT0ken"
TOKEN_SECRET = BOT_TOKEN.split(":", 1)[1]
REJECTED = "error: Telegram rejected the bot token; check REVIEWBOT_TELEGRAM_TOKEN\n"


class EchoingServer(ThreadingHTTPServer):
    """Answers every request with 401 and a body that repeats the request: its path (where
    Telegram's API puts the token), its Authorization header and its body."""

    seen: list[str]


class _Echo(BaseHTTPRequestHandler):
    server: EchoingServer

    def _reject(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = f"{self.path} {self.headers.get('Authorization')} {self.rfile.read(length)!r}"
        self.server.seen.append(request)
        body = json.dumps(
            {
                "ok": False,
                "error_code": 401,
                "description": f"Unauthorized: {request}",
                "error": {"message": f"Incorrect API key provided: {request}"},
            }
        ).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _reject

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def echoing_server() -> Iterator[EchoingServer]:
    server = EchoingServer(("127.0.0.1", 0), _Echo)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def url_of(server: EchoingServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}"


def run_reviewbot(
    args: list[str], folder: Path, **settings: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVIEWBOT_")}
    env.update(REVIEWBOT_DICTIONARY="", **settings)
    return subprocess.run(
        [str(REVIEWBOT), *args], cwd=folder, env=env, capture_output=True, text=True, timeout=120
    )


def assert_no_secret(*outputs: str) -> None:
    for output in outputs:
        for secret in (API_KEY, BOT_TOKEN, TOKEN_SECRET):
            assert secret not in output


# --------------------------------------------------------------------------------------------
# The installed command against servers that echo the secret


@pytest.mark.parametrize("verbosity", ["-v", "-vv"])
def test_an_llm_endpoint_echoing_the_key_does_not_get_it_printed(
    echoing_server: EchoingServer, indexed_data: Path, tmp_path: Path, verbosity: str
) -> None:
    result = run_reviewbot(
        [verbosity, "ask", "Wer hat bei Ballerina Regie geführt?"],
        tmp_path,
        REVIEWBOT_DATA_DIR=str(indexed_data),
        REVIEWBOT_LLM_BASE_URL=f"{url_of(echoing_server)}/v1",
        REVIEWBOT_LLM_API_KEY=API_KEY,
        REVIEWBOT_LLM_RETRIES="0",
    )
    assert any(API_KEY in request for request in echoing_server.seen)  # it was sent, and echoed
    assert result.returncode == 0  # the offline answer, with a note
    assert "401" in result.stderr  # the failure is logged …
    assert_no_secret(result.stdout, result.stderr)  # … without the key


@pytest.mark.parametrize("verbosity", [[], ["-v"], ["-vv"]])
def test_a_rejected_bot_token_is_one_line_without_the_token(
    echoing_server: EchoingServer, tmp_path: Path, verbosity: list[str]
) -> None:
    result = run_reviewbot(
        [*verbosity, "telegram"],
        tmp_path,
        REVIEWBOT_TELEGRAM_TOKEN=BOT_TOKEN,
        REVIEWBOT_TELEGRAM_API_URL=url_of(echoing_server),
    )
    assert any(BOT_TOKEN in request for request in echoing_server.seen)
    assert result.returncode == EXIT_USAGE
    assert_no_secret(result.stdout, result.stderr)
    if verbosity:
        assert result.stderr.endswith(REJECTED)
    else:
        assert result.stderr == REJECTED
    if verbosity == ["-vv"]:
        assert "<secret>" in result.stderr  # PTB's debug lines, masked where the token was


# --------------------------------------------------------------------------------------------
# The redacting filter


def _logged(redactor: Redactor, emit: object) -> str:
    """What a handler filtered by ``redactor`` prints for records logged by ``emit(logger)``."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(redactor)
    logger = logging.getLogger("tests.secrets")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        assert callable(emit)
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_secrets_are_masked_in_messages_arguments_and_tracebacks() -> None:
    redactor = Redactor([API_KEY, BOT_TOKEN])

    def emit(logger: logging.Logger) -> None:
        logger.warning("key %s", API_KEY)
        logger.warning(f"url https://api.telegram.org/bot{BOT_TOKEN}/getMe")
        logger.warning("quoted %s", BOT_TOKEN.replace(":", "%3A"))
        logger.warning("half %s", TOKEN_SECRET)
        try:
            raise RuntimeError(f"server said: {API_KEY}")
        except RuntimeError:
            logger.exception("failed")
        logger.warning("where", stack_info=True, extra={"note": API_KEY})

    printed = _logged(redactor, emit)
    assert_no_secret(printed)
    assert printed.count("<secret>") == 5
    assert "RuntimeError: server said: <secret>" in printed


def test_secrets_added_later_are_masked_too() -> None:
    redactor = Redactor()
    redactor.add([API_KEY])
    assert redactor.redact(f"Bearer {API_KEY}") == "Bearer <secret>"
    assert redactor.redact("nothing to hide") == "nothing to hide"


def test_a_malformed_token_is_refused_without_showing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWBOT_TELEGRAM_TOKEN", f"oops {TOKEN_SECRET}")
    with pytest.raises(ConfigurationError) as refused:
        load_settings(_env_file=None)
    assert str(refused.value).startswith("REVIEWBOT_TELEGRAM_TOKEN: must look like")
    assert TOKEN_SECRET not in str(refused.value)


def test_a_rejected_token_is_never_logged_as_started(
    echoing_server: EchoingServer, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVIEWBOT_")}
    env.update(
        REVIEWBOT_DICTIONARY="",
        REVIEWBOT_TELEGRAM_TOKEN=BOT_TOKEN,
        REVIEWBOT_TELEGRAM_API_URL=url_of(echoing_server),
    )
    result = subprocess.run(
        [str(REVIEWBOT), "-v", "telegram"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "INFO bot.telegram: connecting to Telegram (long polling)" in result.stderr
    assert "started" not in result.stderr
    assert result.stderr.endswith(REJECTED)
