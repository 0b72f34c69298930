"""The Telegram bot: thin handlers over ReviewService, wired by one function.

Questions are answered by the same ``ReviewService.ask_stream`` the CLI uses; the handlers only
check access, keep each chat's conversation (PTB's ``chat_data``), run the blocking work off
the event loop and reply with escaped HTML, split below Telegram's limit, with buttons for the
sources, feedback and narrowing to one work under each answer.

    phrases    the fixed texts, German and English
    rendering  HTML replies, splitting, the answer's keyboard
    replies    sending: replies, "typing…", what a group message asks
    state      per-chat and bot-wide state, the typed context
    streaming  an answer shown as it is written
    handlers   the handlers
    app        the wiring, and running the bot
"""

from bot.telegram.app import build_application, run_bot, webhook_secret
from bot.telegram.state import RateLimit

__all__ = ["RateLimit", "build_application", "run_bot", "webhook_secret"]
