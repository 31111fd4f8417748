"""The CLI as a user runs it: a real subprocess, real PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

from alembic.script import ScriptDirectory

from gamesched.db import engine as db_engine
from gamesched.db import migrate, tokens
from gamesched.settings import Settings
from tests.conftest import SERVER_URL, database_url


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-m", "gamesched", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_migrate_creates_database_and_is_idempotent():
    name = f"gst_cli_{uuid.uuid4().hex[:8]}"
    try:
        for _ in range(2):
            result = run_cli("migrate", DATABASE_URL=database_url(name))
            assert result.returncode == 0, result.stderr
        with db_engine.connect(database_url(name)) as conn:
            head = ScriptDirectory(str(migrate.MIGRATIONS_DIR)).get_current_head()
            assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (head,)
    finally:
        db_engine.drop_database(SERVER_URL, name)


def test_unreachable_database_is_one_line_with_masked_password():
    start = time.monotonic()
    result = run_cli("migrate", DATABASE_URL="postgresql://u:hunter2@127.0.0.1:1/x")
    assert time.monotonic() - start < 15
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "cannot connect to PostgreSQL" in lines[0]
    assert "hunter2" not in result.stderr and "***" in lines[0]


def test_bad_variable_is_one_line():
    result = run_cli("migrate", SCHEDULER_BATCH_SIZE="-3")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "SCHEDULER_BATCH_SIZE" in result.stderr
    assert "Traceback" not in result.stderr


def test_token_create_prints_token_last_and_revoke(fresh_settings: Settings) -> None:
    env = {"DATABASE_URL": fresh_settings.database_url}
    created = run_cli("token", "create", "--name", "ops", **env)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    with db_engine.connect(fresh_settings.libpq_url) as conn:
        stored = conn.execute("SELECT token_hash FROM api_tokens WHERE name = 'ops'").fetchone()
    assert stored == (tokens.hash_token(token),)
    revoked = run_cli("token", "revoke", "ops", **env)
    assert revoked.returncode == 0, revoked.stderr
    unknown = run_cli("token", "revoke", "nobody", **env)
    assert unknown.returncode == 2
    assert unknown.stderr.strip().count("\n") == 0 and "nobody" in unknown.stderr


def test_token_for_unregistered_guild_is_one_line_error(fresh_settings: Settings) -> None:
    result = run_cli(
        "token", "create", "--name", "g", "--guild", "123", DATABASE_URL=fresh_settings.database_url
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "123" in result.stderr and "not registered" in result.stderr


def test_run_serves_api_and_scheduler_and_stops_on_sigterm(run_id: str):
    import signal

    import httpx

    from tests.scheduler._helpers import free_port

    name = f"gst_run_{uuid.uuid4().hex[:8]}"
    api_port, metrics_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(name),
        "GAMESCHED_EXCHANGE": f"gamesched.test.{run_id}.run",
        "API_PORT": str(api_port),
        "METRICS_PORT": str(metrics_port),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gamesched", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        ready = set()
        while ready != {"api", "scheduler"}:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, f"only {ready} came up"
            for what, url in (
                ("api", f"http://127.0.0.1:{api_port}/readyz"),
                ("scheduler", f"http://127.0.0.1:{metrics_port}/readyz"),
            ):
                try:
                    if httpx.get(url, timeout=1).status_code == 200:
                        ready.add(what)
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert time.monotonic() - start < 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
        db_engine.drop_database(SERVER_URL, name)
        import asyncio

        from tests.conftest import delete_broker_objects

        asyncio.run(delete_broker_objects(f"gamesched.test.{run_id}.run"))
