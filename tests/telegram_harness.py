"""A real Bot API test server for end-to-end tests of the bot (``@pytest.mark.telegram``).

The server is the npm package telegram-test-api, pinned in ``tests/telegram_server/package.json``
and started by ``tests/telegram_server/start.js``, which adds the fixes python-telegram-bot 22
needs (see that file). The bot under test talks to it like to api.telegram.org::

    server = TelegramTestServer()
    server.start()                      # or: with TelegramTestServer() as server:
    token = server.new_bot_token()      # each token is an isolated bot: own updates and chats
    app = (
        ApplicationBuilder()
        .token(token)
        .base_url(server.api_base_url)        # http://127.0.0.1:PORT/bot   (PTB appends token)
        .base_file_url(server.file_base_url)  # http://127.0.0.1:PORT/file/bot
        .build()
    )

and a test plays the users through an async client (same event loop as the bot)::

    async with server.client(token) as telegram:
        alice = TgUser(1001, "Alice")
        await telegram.send_message(alice, "hi")
        [reply] = await telegram.wait_for_bot_messages(alice, count=1)
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal, Self

import httpx

from tests.ports import free_port

SERVER_DIR = Path(__file__).resolve().parent / "telegram_server"
PACKAGE_NAME = "telegram-test-api"
BOT_USERNAME = "TestNameBot"
"""The bot's @username in getMe (mention it as ``f"@{BOT_USERNAME}"``)."""

JSON = dict[str, Any]
ChatType = Literal["private", "group", "supergroup"]


class TelegramServerError(RuntimeError):
    """The test server could not be installed, started or asked."""


# --------------------------------------------------------------------------------------------
# Installation


def _wanted_version() -> str:
    package = json.loads((SERVER_DIR / "package.json").read_text(encoding="utf-8"))
    return str(package["dependencies"][PACKAGE_NAME])


def _installed_version() -> str | None:
    manifest = SERVER_DIR / "node_modules" / PACKAGE_NAME / "package.json"
    if not manifest.is_file():
        return None
    return str(json.loads(manifest.read_text(encoding="utf-8")).get("version"))


def ensure_installed(timeout: float = 600.0) -> None:
    """Runs ``npm ci`` in tests/telegram_server unless the pinned package is installed already."""
    if _installed_version() == _wanted_version():
        return
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise TelegramServerError("node and npm are needed for the Telegram end-to-end tests")
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=SERVER_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0 or _installed_version() != _wanted_version():
        raise TelegramServerError(
            f"npm ci in {SERVER_DIR} failed ({result.returncode}):\n"
            f"{result.stdout}\n{result.stderr}"
        )


# --------------------------------------------------------------------------------------------
# Users, chats and the bot's messages


@dataclass(frozen=True)
class TgUser:
    """A Telegram user the test plays; messages go to its private chat unless told otherwise."""

    id: int
    first_name: str
    username: str | None = None

    def as_json(self) -> JSON:
        user: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.username:
            user["username"] = self.username
        return user

    @property
    def private_chat(self) -> TgChat:
        return TgChat(self.id, "private", first_name=self.first_name, username=self.username)


@dataclass(frozen=True)
class TgChat:
    """A chat: a user's private chat (id = the user's id) or a group (negative id)."""

    id: int
    type: ChatType
    title: str | None = None
    first_name: str | None = None
    username: str | None = None

    @classmethod
    def group(cls, chat_id: int = -1001, title: str = "Test group") -> TgChat:
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        return cls(chat_id, "group", title=title)

    def as_json(self) -> JSON:
        chat: JSON = {"id": self.id, "type": self.type}
        for key in ("title", "first_name", "username"):
            value = getattr(self, key)
            if value is not None:
                chat[key] = value
        return chat


ChatRef = TgChat | TgUser | int


def _chat_id(chat: ChatRef) -> int:
    return chat if isinstance(chat, int) else chat.id


@dataclass(frozen=True)
class BotMessage:
    """A message the bot sent, as it is now (after any edits)."""

    message_id: int
    chat_id: int
    text: str | None
    """The text (or document caption) as the bot last sent it: HTML source if parse_mode=HTML."""
    parse_mode: str | None
    plain_text: str | None
    """The text as Telegram shows it: markup parsed, HTML entities decoded."""
    entities: list[JSON]
    edits: list[str | None]
    """The text after each edit, oldest first (empty if never edited)."""
    original_text: str | None
    document: JSON | None
    reply_markup: JSON | None
    reply_to_message_id: int | None
    deleted: bool
    raw: JSON = field(repr=False)
    """The Message object the server returned to the bot."""

    @classmethod
    def from_history(cls, stored: JSON) -> BotMessage:
        result: JSON = stored["result"]
        versions: list[JSON] = stored["versions"]
        reply_to = result.get("reply_to_message")
        return cls(
            message_id=int(stored["messageId"]),
            chat_id=int(stored["message"]["chat_id"]),
            text=versions[-1]["text"],
            parse_mode=versions[-1]["parse_mode"],
            plain_text=result.get("text", result.get("caption")),
            entities=list(result.get("entities") or result.get("caption_entities") or []),
            edits=[version["text"] for version in versions[1:]],
            original_text=versions[0]["text"],
            document=result.get("document"),
            reply_markup=result.get("reply_markup"),
            reply_to_message_id=reply_to["message_id"] if reply_to else None,
            deleted=bool(stored.get("deleted")),
            raw=result,
        )


# --------------------------------------------------------------------------------------------
# The test user's side


class TelegramTestClient:
    """Plays users towards one bot (one token). Async: the bot runs on the same event loop."""

    def __init__(self, base_url: str, token: str, *, poll_interval: float = 0.05) -> None:
        self.base_url = base_url
        self.token = token
        self.poll_interval = poll_interval
        self._http: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Self:
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=30.0)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            raise TelegramServerError("use the client as `async with server.client(token) as c:`")
        return self._http

    async def _result(self, response: httpx.Response) -> Any:
        try:
            body = response.json()
        except ValueError as error:
            raise TelegramServerError(f"{response.status_code}: {response.text[:500]}") from error
        if response.status_code != 200 or not body.get("ok"):
            raise TelegramServerError(f"{response.status_code}: {body}")
        return body["result"]

    # -- what users do --------------------------------------------------------------------

    async def send_message(
        self,
        user: TgUser,
        text: str,
        *,
        chat: TgChat | None = None,
        reply_to_message_id: int | None = None,
    ) -> JSON:
        """``user`` writes ``text`` in ``chat`` (default: their private chat with the bot).

        Telegram's own entities (/commands, @mentions, URLs) are added. Returns the Message.
        """
        body: JSON = {
            "botToken": self.token,
            "from": user.as_json(),
            "chat": (chat or user.private_chat).as_json(),
            "text": text,
        }
        if reply_to_message_id is not None:
            body["reply_to_message_id"] = reply_to_message_id
        result: JSON = await self._result(await self.http.post("/sendMessage", json=body))
        return result

    async def send_document(
        self,
        user: TgUser,
        filename: str,
        data: bytes,
        *,
        chat: TgChat | None = None,
        caption: str | None = None,
        mime_type: str | None = None,
    ) -> JSON:
        """``user`` sends a file; returns the Message, whose ``document`` has the file_id."""
        params: dict[str, str] = {
            "botToken": self.token,
            "from": json.dumps(user.as_json()),
            "chat": json.dumps((chat or user.private_chat).as_json()),
            "file_name": filename,
        }
        if caption is not None:
            params["caption"] = caption
        if mime_type is not None:
            params["mime_type"] = mime_type
        response = await self.http.post(
            "/sendDocument",
            params=params,
            content=data,
            headers={"content-type": "application/octet-stream"},
        )
        result: JSON = await self._result(response)
        return result

    async def press_button(self, user: TgUser, message: BotMessage, data: str) -> str:
        """``user`` presses an inline button with callback ``data``; returns the query id."""
        body = {
            "botToken": self.token,
            "from": user.as_json(),
            "chat_id": message.chat_id,
            "message_id": message.message_id,
            "data": data,
        }
        result: JSON = await self._result(await self.http.post("/sendCallback", json=body))
        return str(result["id"])

    # -- what the bot did ----------------------------------------------------------------

    async def history(self) -> list[JSON]:
        """Every stored user and bot message of this bot (the package's raw records)."""
        response = await self.http.post("/getUpdatesHistory", json={"token": self.token})
        result: list[JSON] = await self._result(response)
        return result

    async def get_bot_messages(self, chat: ChatRef | None = None) -> list[BotMessage]:
        """The bot's messages (in ``chat`` if given), oldest first, with their edits."""
        messages = [
            BotMessage.from_history(item)
            for item in await self.history()
            if "chat_id" in item.get("message", {}) and "result" in item
        ]
        if chat is not None:
            messages = [m for m in messages if m.chat_id == _chat_id(chat)]
        return sorted(messages, key=lambda m: m.message_id)

    async def wait_until(
        self,
        predicate: Callable[[list[BotMessage]], bool],
        chat: ChatRef | None = None,
        timeout: float = 10.0,
    ) -> list[BotMessage]:
        """Polls the bot's messages (in ``chat``) until ``predicate`` holds; returns them."""
        deadline = time.monotonic() + timeout
        while True:
            messages = await self.get_bot_messages(chat)
            if predicate(messages):
                return messages
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"bot messages did not satisfy the condition within {timeout} s; got: "
                    + repr([(m.message_id, m.chat_id, m.text) for m in messages])
                )
            await asyncio.sleep(self.poll_interval)

    async def wait_for_bot_messages(
        self, chat: ChatRef | None = None, count: int = 1, timeout: float = 10.0
    ) -> list[BotMessage]:
        """Waits until the bot has sent at least ``count`` messages (in ``chat``); returns all."""
        return await self.wait_until(lambda messages: len(messages) >= count, chat, timeout)

    async def download_file(self, file_id: str) -> bytes:
        """The bytes of any stored file, e.g. a document the bot sent."""
        response = await self.http.get("/downloadFile", params={"file_id": file_id})
        if response.status_code != 200:
            raise TelegramServerError(f"no file {file_id!r}: {response.status_code}")
        return response.content

    async def bot_commands(self) -> list[JSON]:
        """The command list the bot set with setMyCommands."""
        state: JSON = await self._result(
            await self.http.post("/getBotState", json={"token": self.token})
        )
        return list(state["commands"])

    async def chat_actions(self, chat: ChatRef | None = None) -> list[str]:
        """The chat actions ("typing", ...) the bot sent (to ``chat``), oldest first."""
        state: JSON = await self._result(
            await self.http.post("/getBotState", json={"token": self.token})
        )
        return [
            action["action"]
            for action in state["chat_actions"]
            if chat is None or action["chat_id"] == _chat_id(chat)
        ]

    async def callback_answers(self) -> list[JSON]:
        """The bot's answers to pressed buttons (callback_query_id, text, show_alert)."""
        state: JSON = await self._result(
            await self.http.post("/getBotState", json={"token": self.token})
        )
        return list(state["callback_answers"])

    async def wait_for_callback_answer(self, query_id: str, timeout: float = 10.0) -> JSON:
        """Waits until the bot answered the button press ``query_id``; returns that answer."""
        deadline = time.monotonic() + timeout
        while True:
            for answer in await self.callback_answers():
                if answer["callback_query_id"] == query_id:
                    return answer
            if time.monotonic() >= deadline:
                raise TimeoutError(f"the bot did not answer the button press {query_id}")
            await asyncio.sleep(self.poll_interval)

    async def call_bot_api(self, method: str, **params: Any) -> httpx.Response:
        """Calls a Bot API method as the bot would (form-encoded), for testing the server."""
        data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
        return await self.http.post(f"/bot{self.token}/{method}", data=data)


# --------------------------------------------------------------------------------------------
# The server process


class TelegramTestServer:
    """Runs ``node start.js`` on a free loopback port; ``start()``/``stop()`` or ``with``."""

    def __init__(self, *, startup_timeout: float = 30.0, install: bool = True) -> None:
        self.startup_timeout = startup_timeout
        self.install = install
        self.port: int | None = None
        self.startup_seconds: float | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._tokens = itertools.count(1)

    # -- URLs ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: the client API and the root of the Bot API."""
        if self.port is None:
            raise TelegramServerError("the server is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``: PTB appends the token and ``/method``."""
        return f"{self.base_url}/bot"

    @property
    def file_base_url(self) -> str:
        """For ``ApplicationBuilder().base_file_url(...)``: PTB appends token and file path."""
        return f"{self.base_url}/file/bot"

    def new_bot_token(self) -> str:
        """A token no other test used, so the bot starts with no updates, chats or history."""
        return f"{next(self._tokens)}00{os.getpid()}:TEST-{uuid.uuid4().hex}"

    def client(self, token: str) -> TelegramTestClient:
        """The test users' side for the bot with ``token`` (use with ``async with``)."""
        return TelegramTestClient(self.base_url, token)

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        if self._process is not None:
            return
        if self.install:
            ensure_installed()
        node = shutil.which("node")
        if node is None:
            raise TelegramServerError("node is needed for the Telegram end-to-end tests")
        began = time.monotonic()
        last_error = ""
        for _attempt in range(3):  # the free port may be taken between picking and binding
            self.port = free_port()
            # Lives as long as the process: closed in stop().
            self._log = tempfile.TemporaryFile()  # noqa: SIM115
            self._process = subprocess.Popen(
                [node, "start.js", str(self.port), "--exit-with-parent"],
                cwd=SERVER_DIR,
                stdin=subprocess.PIPE,
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )
            try:
                self._wait_until_ready()
            except TelegramServerError as error:
                last_error = str(error)
                self.stop()
                continue
            self.startup_seconds = time.monotonic() - began
            return
        raise TelegramServerError(f"the Telegram test server did not start: {last_error}")

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        with httpx.Client(timeout=2.0) as http:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise TelegramServerError(
                        f"node exited with {self._process.returncode}:\n{self.output()}"
                    )
                try:
                    response = http.get(f"{self.api_base_url}1:ready/getMe")
                    if response.status_code == 200 and response.json().get("ok"):
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.02)
        raise TelegramServerError(f"no answer within {self.startup_timeout} s:\n{self.output()}")

    def output(self) -> str:
        """What the node process printed so far (stdout and stderr)."""
        if self._log is None:
            return ""
        self._log.seek(0)
        text: str = self._log.read().decode("utf-8", "replace")
        return text

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.stdin is not None:
                process.stdin.close()  # start.js --exit-with-parent exits on EOF
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


__all__: Sequence[str] = (
    "BOT_USERNAME",
    "BotMessage",
    "TelegramServerError",
    "TelegramTestClient",
    "TelegramTestServer",
    "TgChat",
    "TgUser",
    "ensure_installed",
)
