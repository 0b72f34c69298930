"""One function that wires the bot (builder, handlers, error handler), and one that runs it."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from telegram import BotCommand, BotCommandScopeChat, Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    PersistenceInput,
    PicklePersistence,
    TypeHandler,
    filters,
)

from bot.feedback import FeedbackStore, feedback_path
from bot.redaction import Redactor
from bot.service import ReviewService
from bot.settings import Settings
from bot.telegram import handlers
from bot.telegram.phrases import ADMIN_COMMANDS, COMMANDS
from bot.telegram.rendering import FEEDBACK, NARROW, SOURCES
from bot.telegram.state import BotData, ChatState, RateLimit, ReviewContext
from index.errors import ConfigurationError, ReviewbotError

log = logging.getLogger("bot.telegram")

CONCURRENT_UPDATES = 32
POLL_TIMEOUT_SECONDS = 30
WEBHOOK_LISTEN = "0.0.0.0"  # behind a TLS reverse proxy, which Telegram requires
WEBHOOK_PORT = 8443
SEND_RETRIES = 3
"""How often a request Telegram answered with "retry after" is sent again."""
CHAT_STATE_FILE = "telegram"
"""The prefix of the state files (PTB adds ``_chat_data``)."""


def chat_state_path(settings: Settings) -> Path:
    """Where the chats' conversations are kept between runs: beside the index."""
    return settings.data_dir / CHAT_STATE_FILE


async def start_bot(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Once Telegram accepted the token (getMe answered): register the commands, say so, and
    load the index before the first update is read."""
    await register_commands(application)
    log.info("Telegram bot @%s started", application.bot.username)
    service = application.bot_data.service
    if service is not None:
        # Before polling starts: questions sent meanwhile wait at Telegram, then find it loaded.
        await asyncio.to_thread(service.warm_up)


async def register_commands(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Tell Telegram the commands, so clients list them (admins also see /reindex)."""
    bot = application.bot
    admins = application.bot_data.admins
    for language in ("de", "en"):
        code = language if language != "en" else None
        public = [BotCommand(c, d) for c, d in COMMANDS[language]]
        admin = public + [BotCommand(c, d) for c, d in ADMIN_COMMANDS[language]]
        for admin_id in admins:
            try:
                await bot.set_my_commands(
                    admin, scope=BotCommandScopeChat(admin_id), language_code=code
                )
            except TelegramError as error:  # e.g. the admin never started the bot
                log.warning("could not set the admin commands for %s: %s", admin_id, error)
        await bot.set_my_commands(public, language_code=code)


def build_application(
    service: ReviewService,
    *,
    base_url: str | None = None,
    base_file_url: str | None = None,
    rate_limit: RateLimit | None = None,
    state_file: Path | None = None,
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The bot for ``service``: handlers, access check, error handler, command registration.

    ``state_file``: where each chat's conversation is kept across restarts (in
    ``<state_file>_chat_data``; not kept if None).
    """
    settings = service.settings
    if settings.telegram_token is None or not settings.telegram_token.get_secret_value():
        raise ConfigurationError(
            "no Telegram bot token: set REVIEWBOT_TELEGRAM_TOKEN (from @BotFather) in .env"
        )
    context_types = ContextTypes(context=ReviewContext, chat_data=ChatState, bot_data=BotData)
    builder = (
        Application.builder()
        .token(settings.telegram_token.get_secret_value())
        .context_types(context_types)
        .rate_limiter(AIORateLimiter(max_retries=SEND_RETRIES))
        .concurrent_updates(CONCURRENT_UPDATES)
        .connect_timeout(10)
        .read_timeout(20)
        .write_timeout(30)
        .pool_timeout(10)
        .connection_pool_size(CONCURRENT_UPDATES)
        .get_updates_connect_timeout(10)
        .get_updates_read_timeout(POLL_TIMEOUT_SECONDS + 10)
        .post_init(start_bot)
    )
    if state_file is not None:
        state_file.parent.mkdir(parents=True, exist_ok=True)
        only_chats = PersistenceInput(bot_data=False, user_data=False, callback_data=False)
        builder = builder.persistence(
            PicklePersistence(
                state_file, store_data=only_chats, single_file=False, context_types=context_types
            )
        )
    if base_url is None and settings.telegram_api_url:
        base_url = f"{settings.telegram_api_url}/bot"
        base_file_url = base_file_url or f"{settings.telegram_api_url}/file/bot"
    if base_url is not None:
        builder = builder.base_url(base_url)
    if base_file_url is not None:
        builder = builder.base_file_url(base_file_url)
    application = builder.build()

    shared: BotData = application.bot_data
    shared.service = service
    shared.feedback = FeedbackStore(feedback_path(settings.data_dir))
    shared.allowed_users = frozenset(settings.telegram_allowed_users)
    shared.admins = frozenset(settings.telegram_admins)
    if rate_limit is not None:
        shared.rate_limit = rate_limit

    only_messages = filters.UpdateType.MESSAGE
    text = only_messages & filters.TEXT & ~filters.COMMAND
    application.add_handler(TypeHandler(Update, handlers.check_access), group=-1)
    application.add_handlers(
        [
            CommandHandler("start", handlers.start),
            CommandHandler("help", handlers.show_help),
            CommandHandler("ask", handlers.ask),
            CommandHandler("sources", handlers.show_sources),
            CommandHandler("works", handlers.show_works),
            CommandHandler("stats", handlers.show_stats),
            CommandHandler("reset", handlers.reset),
            CommandHandler("reindex", handlers.reindex),
            MessageHandler(text & filters.ChatType.PRIVATE, handlers.answer_private),
            MessageHandler(text & filters.ChatType.GROUPS, handlers.answer_group),
            MessageHandler(
                only_messages & filters.Document.ALL & filters.ChatType.PRIVATE,
                handlers.receive_upload,
            ),
            CallbackQueryHandler(handlers.show_answer_sources, pattern=f"^{SOURCES}:"),
            CallbackQueryHandler(handlers.rate_answer, pattern=f"^{FEEDBACK}:"),
            CallbackQueryHandler(handlers.narrow_to_work, pattern=f"^{NARROW}:"),
        ]
    )
    application.add_error_handler(handlers.report_error)
    return application


class _StartFailureDemoted(logging.Filter):
    """Makes python-telegram-bot's traceback for a failed start (a rejected token, Telegram
    out of reach) a debug line: run_bot reports that failure itself, in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        at_start = "(Bootstrap" in record.getMessage()  # PTB's retry loop while starting
        if isinstance(error, InvalidToken) or (isinstance(error, TelegramError) and at_start):
            record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return True


def webhook_secret(token: str) -> str:
    """What Telegram sends back with every webhook update, so forged requests are refused."""
    return hashlib.sha256(token.encode()).hexdigest()[:64]


def run_bot(service: ReviewService, *, redactor: Redactor | None = None) -> None:
    """Run the bot until interrupted: long polling, or a webhook when
    REVIEWBOT_TELEGRAM_WEBHOOK_URL is set. Secrets are masked in every log line from before
    the bot is built (``redactor``: the one already installed, if any); a token Telegram
    rejects raises a ConfigurationError."""
    if redactor is None:
        redactor = Redactor()
        redactor.install()
    redactor.add(service.settings.secrets())
    token = service.settings.telegram_token
    if token is not None:
        redactor.add([webhook_secret(token.get_secret_value())])
    logging.getLogger("telegram.ext").addFilter(_StartFailureDemoted())
    application = build_application(service, state_file=chat_state_path(service.settings))
    try:
        _run(application, service.settings.telegram_webhook_url)
    except InvalidToken:
        raise ConfigurationError(
            "Telegram rejected the bot token; check REVIEWBOT_TELEGRAM_TOKEN"
        ) from None
    except TelegramError as error:
        raise ReviewbotError(f"the Telegram bot could not start: {error}") from error


def _run(application: Application[Any, Any, Any, Any, Any, Any], webhook_url: str | None) -> None:
    if webhook_url is None:
        log.info("connecting to Telegram (long polling)")
        application.run_polling(
            allowed_updates=Update.ALL_TYPES,
            timeout=POLL_TIMEOUT_SECONDS,
            bootstrap_retries=5,
        )
        return
    try:
        import tornado  # noqa: F401 - PTB's webhook server
    except ImportError as error:
        raise ConfigurationError(
            "webhook mode needs python-telegram-bot[webhooks]; install it or unset "
            "REVIEWBOT_TELEGRAM_WEBHOOK_URL to use long polling"
        ) from error
    log.info("connecting to Telegram (webhook on port %d)", WEBHOOK_PORT)
    application.run_webhook(
        listen=WEBHOOK_LISTEN,
        port=WEBHOOK_PORT,
        url_path=urlsplit(webhook_url).path.lstrip("/"),
        webhook_url=webhook_url,
        secret_token=webhook_secret(application.bot.token),
        allowed_updates=Update.ALL_TYPES,
        bootstrap_retries=5,
    )
