from __future__ import annotations

import pytest

from gamesched import errors
from gamesched.settings import Settings, load_settings, mask_url


def test_defaults_match_design(monkeypatch: pytest.MonkeyPatch):
    for var in (
        "DATABASE_URL",
        "RABBITMQ_URL",
        "GAMESCHED_EXCHANGE",
        "METRICS_PORT",
        "METRICS_HOST",
        "DISCORD_TOKEN",
        "LOG_LEVEL",
        "LOG_FORMAT",
        "API_PORT",
        "GAMESCHED_DATA_DIR",
    ):
        monkeypatch.delenv(var, raising=False)
    s = Settings()
    assert s.database_url is None and s.embedded  # the embedded PostgreSQL
    assert s.gamesched_data_dir is None  # embedded.default_data_dir()
    assert s.rabbitmq_url is None
    assert s.transport == "postgres"  # no broker configured: the PostgreSQL transport
    assert s.gamesched_exchange == "gamesched"
    assert s.discord_token is None
    assert s.discord_api_base == "https://discord.com/api/v10"
    assert (s.api_host, s.api_port) == ("127.0.0.1", 8000)
    assert s.scheduler_max_wait_seconds == 300
    assert s.scheduler_batch_size == 500
    assert s.scheduler_concurrency == 4
    assert s.metrics_port_for("scheduler") == 9101
    assert s.metrics_port_for("bot") == 9102
    assert s.metrics_host == "127.0.0.1"
    assert (s.log_level, s.log_format) == ("INFO", "text")
    with pytest.raises(errors.ConfigError, match="DATABASE_URL is unset"):
        _ = s.sqlalchemy_url  # only once a command has started the embedded server
    resolved = s.with_database("postgresql://postgres@127.0.0.1:5999/gamesched")
    assert resolved.sqlalchemy_url == "postgresql+psycopg://postgres@127.0.0.1:5999/gamesched"
    assert not resolved.embedded and resolved.database_name == "gamesched"


def test_empty_database_url_and_data_dir_are_unset(monkeypatch: pytest.MonkeyPatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "")
    monkeypatch.setenv("GAMESCHED_DATA_DIR", "")
    s = load_settings()
    assert (s.database_url, s.gamesched_data_dir) == (None, None)
    monkeypatch.setenv("GAMESCHED_DATA_DIR", str(tmp_path))
    assert load_settings().gamesched_data_dir == tmp_path


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GAMESCHED_EXCHANGE", "x.y")
    monkeypatch.setenv("METRICS_PORT", "0")
    monkeypatch.setenv("METRICS_HOST", "0.0.0.0")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("LOG_FORMAT", "JSON")
    s = load_settings()
    assert s.gamesched_exchange == "x.y"
    assert s.metrics_port_for("bot") == 0  # any free port
    assert s.metrics_host == "0.0.0.0"
    assert (s.log_level, s.log_format) == ("DEBUG", "json")


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("DATABASE_URL", "mysql://x/y", "DATABASE_URL: must be a postgresql:// URL"),
        ("DATABASE_URL", "postgresql://host", "DATABASE_URL: must name a database"),
        ("RABBITMQ_URL", "http://x", "RABBITMQ_URL: must be an amqp://"),
        ("API_PORT", "70000", "API_PORT"),
        ("SCHEDULER_BATCH_SIZE", "0", "SCHEDULER_BATCH_SIZE"),
        ("SCHEDULER_MAX_WAIT_SECONDS", "soon", "SCHEDULER_MAX_WAIT_SECONDS"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT"),
        ("GAMESCHED_EXCHANGE", "amq.topic", "GAMESCHED_EXCHANGE"),
        ("DISCORD_PUBLIC_KEY", "abc", "DISCORD_PUBLIC_KEY: must be 64 hexadecimal"),
    ],
)
def test_bad_variable_is_named(monkeypatch: pytest.MonkeyPatch, var: str, value: str, message: str):
    monkeypatch.setenv(var, value)
    with pytest.raises(errors.ConfigError) as info:
        load_settings()
    assert message in info.value.message
    assert "\n" not in info.value.message


def test_mask_url_hides_passwords():
    assert mask_url("amqp://guest:secret@host:5672/") == "amqp://guest:***@host:5672/"
    assert mask_url("postgresql://u:p%40ss@h/db") == "postgresql://u:***@h/db"
    assert mask_url("postgresql://h/db") == "postgresql://h/db"


def test_transport_follows_rabbitmq_url_unless_chosen(monkeypatch: pytest.MonkeyPatch):
    for var in ("RABBITMQ_URL", "GAMESCHED_TRANSPORT"):
        monkeypatch.delenv(var, raising=False)
    amqp = "amqp://guest:guest@127.0.0.1:5672/"
    assert Settings(rabbitmq_url=amqp).transport == "rabbitmq"
    assert Settings(rabbitmq_url="").transport == "postgres"
    assert Settings(rabbitmq_url=amqp, gamesched_transport="postgres").transport == "postgres"
    monkeypatch.setenv("GAMESCHED_TRANSPORT", " PostgreS ")
    assert Settings(rabbitmq_url=amqp).transport == "postgres"


def test_rabbitmq_transport_without_its_url_is_one_clear_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("RABBITMQ_URL", raising=False)
    monkeypatch.setenv("GAMESCHED_TRANSPORT", "rabbitmq")
    with pytest.raises(errors.ConfigError, match="GAMESCHED_TRANSPORT=rabbitmq needs RABBITMQ_URL"):
        load_settings()
    monkeypatch.setenv("GAMESCHED_TRANSPORT", "kafka")
    with pytest.raises(errors.ConfigError, match="GAMESCHED_TRANSPORT"):
        load_settings()
