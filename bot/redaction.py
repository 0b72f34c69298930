"""Keeps secrets (the bot token, the LLM key) out of every log line and error message."""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Iterable
from urllib.parse import quote

MASK = "<secret>"

# Libraries that log request URLs, headers or error bodies, which can hold a secret.
CHATTY_LOGGERS = ("httpx", "httpcore", "telegram", "openai", "langchain_openai", "chromadb")


class Redactor(logging.Filter):
    """A logging filter that masks every known secret in a record: its message, its
    arguments and its traceback. Secrets can be added at any time; the filter stays."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Mask these too (and the forms a URL or a header would show them in)."""
        forms = {
            form
            for secret in secrets
            if secret
            for form in (secret, quote(secret, safe=""), *_token_parts(secret))
        }
        with self._lock:
            # Longest first, so a secret is masked whole before any part of it.
            self._secrets = tuple(sorted(set(self._secrets) | forms, key=lambda s: (-len(s), s)))

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by ``<secret>``."""
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        record.msg, record.args = self.redact(record.getMessage()), ()
        if record.exc_info:
            # Handlers print exc_text when it is set; keep no exception that could be
            # formatted again without the mask.
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
            record.exc_info = None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True

    def install(self) -> None:
        """Filter every handler there is now and the chatty loggers, in place of any Redactor
        installed before."""
        manager = logging.Logger.manager
        loggers = [logging.getLogger()] + [
            logger for logger in manager.loggerDict.values() if isinstance(logger, logging.Logger)
        ]
        for logger in loggers:
            for handler in logger.handlers:
                _add_once(handler, self)
        for name in CHATTY_LOGGERS:
            _add_once(logging.getLogger(name), self)


def _token_parts(secret: str) -> tuple[str, ...]:
    """The secret half of a Telegram token ("123456:ABC…" → "ABC…"), which alone is enough."""
    _, colon, rest = secret.partition(":")
    return (rest,) if colon and len(rest) >= 8 else ()


def _add_once(target: logging.Handler | logging.Logger, redactor: Redactor) -> None:
    for earlier in [f for f in target.filters if isinstance(f, Redactor) and f is not redactor]:
        target.removeFilter(earlier)
    if redactor not in target.filters:
        target.addFilter(redactor)
