"""The one settings object, read from the environment once per entry point and passed down.

Never build ``Settings()`` at import time: tests construct it directly with the values they need,
and every process (CLI, Alembic's ``env.py``) builds exactly one.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gamesched import errors

#: Default ports for the processes that serve /metrics, /healthz and /readyz.
DEFAULT_METRICS_PORTS = {"scheduler": 9101, "bot": 9102}

_EXCHANGE_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
_PG_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")


def mask_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``***`` (for logs and error lines)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


class Settings(BaseSettings):
    """Every environment variable gamesched reads, typed and validated (README: Configuration)."""

    model_config = SettingsConfigDict(
        env_prefix="", case_sensitive=False, extra="ignore", frozen=True
    )

    #: None (DATABASE_URL unset): the commands start or join the embedded PostgreSQL
    #: (``gamesched.embedded``) and run with ``with_database(its url)``.
    database_url: str | None = None
    #: where the embedded PostgreSQL keeps its data; None: ``embedded.default_data_dir()``
    gamesched_data_dir: Path | None = None
    rabbitmq_url: str | None = None
    gamesched_transport: Literal["rabbitmq", "postgres"] | None = None
    gamesched_exchange: str = "gamesched"
    discord_token: str | None = None
    discord_api_base: str = "https://discord.com/api/v10"
    discord_public_key: str | None = None
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    scheduler_max_wait_seconds: float = Field(default=300.0, gt=0, le=86400)
    scheduler_batch_size: int = Field(default=500, ge=1, le=10000)
    scheduler_concurrency: int = Field(default=4, ge=1, le=32)
    # done rows older than this are pruned by the scheduler daemon; 0 keeps everything
    gamesched_retention_days: int = Field(default=30, ge=0, le=36500)
    metrics_host: str = Field(default="127.0.0.1", min_length=1)
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_format(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if scheme not in _PG_SCHEMES:
            raise ValueError("must be a postgresql:// URL")
        if not urlsplit(value).path.strip("/"):
            raise ValueError("must name a database (postgresql://host/dbname)")
        return value

    @field_validator("gamesched_data_dir", mode="before")
    @classmethod
    def _empty_dir_is_unset(cls, value: object) -> object:
        return value or None

    @field_validator("rabbitmq_url")
    @classmethod
    def _check_rabbitmq_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("amqp://", "amqps://")):
            raise ValueError("must be an amqp:// or amqps:// URL")
        return value

    @field_validator("gamesched_transport", mode="before")
    @classmethod
    def _lower_transport(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip().lower() or None
        return value

    @model_validator(mode="after")
    def _transport_needs_its_url(self) -> Settings:
        if self.gamesched_transport == "rabbitmq" and self.rabbitmq_url is None:
            raise ValueError("GAMESCHED_TRANSPORT=rabbitmq needs RABBITMQ_URL")
        return self

    @field_validator("gamesched_exchange")
    @classmethod
    def _check_exchange(cls, value: str) -> str:
        if not _EXCHANGE_RE.match(value) or value.startswith("amq."):
            raise ValueError(
                "must be 1-200 characters of letters, digits, '_', '.', ':' or '-' "
                "and must not start with 'amq.'"
            )
        return value

    @field_validator("discord_public_key")
    @classmethod
    def _check_public_key(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not re.fullmatch(r"[0-9a-fA-F]{64}", value):
            raise ValueError("must be 64 hexadecimal characters (an Ed25519 public key)")
        return value.lower()

    @field_validator("discord_token")
    @classmethod
    def _empty_token_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("discord_api_base")
    @classmethod
    def _check_api_base(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    # -- derived values -------------------------------------------------------------------

    @property
    def embedded(self) -> bool:
        """True when DATABASE_URL is unset: the embedded PostgreSQL is the database."""
        return self.database_url is None

    def with_database(self, url: str) -> Settings:
        """These settings with ``url`` as the database (the embedded server's, once started)."""
        return self.model_copy(update={"database_url": url})

    @property
    def url(self) -> str:
        """DATABASE_URL, or the embedded server's URL once the command has started it."""
        if self.database_url is None:
            raise errors.ConfigError(
                "DATABASE_URL is unset: set it, or use a gamesched command, which starts the "
                "embedded PostgreSQL"
            )
        return self.database_url

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL with SQLAlchemy's psycopg 3 driver selected."""
        return "postgresql+psycopg://" + self.url.split("://", 1)[1]

    @property
    def libpq_url(self) -> str:
        """The database URL as libpq (and so raw psycopg) understands it."""
        return "postgresql://" + self.url.split("://", 1)[1]

    @property
    def transport(self) -> Literal["rabbitmq", "postgres"]:
        """``GAMESCHED_TRANSPORT``, or by default RabbitMQ when ``RABBITMQ_URL`` is set."""
        if self.gamesched_transport is not None:
            return self.gamesched_transport
        return "rabbitmq" if self.rabbitmq_url else "postgres"

    @property
    def amqp_url(self) -> str:
        """``RABBITMQ_URL``, for code that runs only on the RabbitMQ transport."""
        if self.rabbitmq_url is None:
            raise errors.ConfigError("RABBITMQ_URL is not set")
        return self.rabbitmq_url

    @property
    def database_name(self) -> str:
        return urlsplit(self.url).path.strip("/")

    def metrics_port_for(self, role: str) -> int:
        """``METRICS_PORT`` if set (0: any free port), else the role's default (9101 scheduler,
        9102 bot)."""
        if self.metrics_port is not None:
            return self.metrics_port
        return DEFAULT_METRICS_PORTS[role]

    def masked(self, url: str) -> str:
        return mask_url(url)


def load_settings(**overrides: object) -> Settings:
    """Build Settings from the environment, turning validation errors into one clear message."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = str(err["loc"][0]).upper() if err["loc"] else "settings"
            msg = str(err["msg"]).removeprefix("Value error, ")
            problems.append(f"{name}: {msg}")
        raise errors.ConfigError("bad configuration: " + "; ".join(problems)) from None
