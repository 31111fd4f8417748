"""The CLI as a user runs it: a real subprocess, real PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import subprocess
import sys
import time
import uuid

from alembic.script import ScriptDirectory

from gamesched.db import engine as db_engine
from gamesched.db import migrate, tokens
from gamesched.settings import Settings
from tests.conftest import RABBITMQ_URL, SERVER_URL, database_url, delete_broker_objects
from tests.scheduler._helpers import free_port


def run_cli(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-m", "gamesched", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
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

    from tests.scheduler._helpers import free_ports_for_run

    name = f"gst_run_{uuid.uuid4().hex[:8]}"
    # the scheduler's metrics on metrics_port, the bot's on the next one: both must be free
    # (two free_port() calls once gave an API port just above the metrics port)
    api_port, metrics_port = free_ports_for_run()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(name),
        "GAMESCHED_EXCHANGE": f"gamesched.test.{run_id}.run",
        "RABBITMQ_URL": RABBITMQ_URL,
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


def wait_for_log_line(proc: subprocess.Popen[str], text: str, timeout: float) -> None:
    """Read the process's stderr (on a thread, so a silent process cannot hang the test) until a
    line containing ``text``, or fail at the deadline."""
    import queue
    import threading

    lines: queue.Queue[str] = queue.Queue()
    assert proc.stderr is not None
    stream = proc.stderr

    def pump() -> None:
        with contextlib.suppress(ValueError, OSError):  # closed at the end of the test
            for line in stream:
                lines.put(line)
                if text in line:
                    return

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout
    seen = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        seen.append(line)
        if text in line:
            return
    raise AssertionError(f"no {text!r} within {timeout}s: {''.join(seen)}")


def test_api_stops_on_sigterm_with_exit_0_after_finishing_a_request_in_flight(
    fresh_settings: Settings,
) -> None:
    """SIGTERM is a clean stop, as for the other daemons: a request already being received is
    answered, then the process exits 0 (not killed by the signal) within 10 s."""
    import signal
    import socket

    import httpx

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gamesched", "api"],
        env={
            **os.environ,
            "DATABASE_URL": fresh_settings.database_url,
            "API_PORT": str(port),
            "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "text",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the API did not come up"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        body = b'{"type": 1}'
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            # a request in flight: its head and half its body sent when the signal arrives
            sock.sendall(
                b"POST /discord/interactions HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body[:5]
            )
            start = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            # uvicorn says so once it is shutting down (and waits for the request)
            wait_for_log_line(proc, "Shutting down", timeout=10)
            sock.sendall(body[5:])
            answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 401"), answer  # unsigned, but answered
        assert proc.wait(10) == 0
        assert time.monotonic() - start < 10
    finally:
        stop(proc)


# -- one-line configuration errors (issue 7, findings 11-13) -----------------------------------


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a configuration error (exit status 2)."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def empty_database() -> str:
    name = f"gst_empty_{uuid.uuid4().hex[:8]}"
    db_engine.create_database(Settings(database_url=database_url(name)))
    return name


def test_api_and_tokens_on_an_unmigrated_database_are_one_line() -> None:
    name = empty_database()
    env = {"DATABASE_URL": database_url(name), "API_PORT": str(free_port())}
    try:
        for args in (("api",), ("token", "create", "--name", "x"), ("token", "revoke", "x")):
            line = one_line(run_cli(*args, timeout=20, **env))
            assert "no gamesched schema" in line and "gamesched migrate" in line, args
    finally:
        db_engine.drop_database(SERVER_URL, name)


def test_missing_database_says_that_migrate_creates_it() -> None:
    name = f"gst_missing_{uuid.uuid4().hex[:8]}"
    env = {"DATABASE_URL": database_url(name), "API_PORT": str(free_port())}
    for args in (("api",), ("scheduler",), ("token", "revoke", "x")):
        line = one_line(run_cli(*args, timeout=20, **env))
        assert f"database {name} does not exist" in line, args
        assert "`gamesched migrate` creates it" in line, args


def test_wrong_rabbitmq_vhost_is_one_clear_line(fresh_settings: Settings) -> None:
    env = {
        "DATABASE_URL": fresh_settings.database_url,
        "RABBITMQ_URL": "amqp://guest:guest@127.0.0.1:5672/nosuchvhost",
        "METRICS_PORT": "0",
    }
    line = one_line(run_cli("scheduler", **env))
    assert "vhost not found or access refused" in line
    assert "guest:***@" in line and "OpenOk" not in line and "object at" not in line


def test_run_with_a_bad_broker_fails_before_migrating_or_serving() -> None:
    name = f"gst_run_{uuid.uuid4().hex[:8]}"
    env = {
        "DATABASE_URL": database_url(name),
        "RABBITMQ_URL": "amqp://guest:s3cret@127.0.0.1:5672/nosuchvhost",
        "API_PORT": str(free_port()),
        "METRICS_PORT": "0",
    }
    try:
        line = one_line(run_cli("run", **env))
        assert "RabbitMQ" in line and "vhost" in line and "s3cret" not in line
        assert not db_engine.database_exists(Settings(database_url=database_url(name)))
    finally:
        db_engine.drop_database(SERVER_URL, name)


def test_json_logs_carry_no_ansi_colour_copies(fresh_settings: Settings) -> None:
    import signal

    import httpx

    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": fresh_settings.database_url,
        "API_PORT": str(port),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gamesched", "api"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "api did not come up"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    records = [json.loads(line) for line in stderr.splitlines()]
    assert any(r["logger"].startswith("uvicorn") for r in records), stderr
    assert not [r for r in records if "color_message" in r], stderr
    assert "\x1b" not in stderr and "\\u001b" not in stderr


# -- the daemons' metrics server: METRICS_HOST, METRICS_PORT=0, a busy port --------------------


def scheduler_env(settings: Settings, exchange: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "RABBITMQ_URL": RABBITMQ_URL,
        "GAMESCHED_EXCHANGE": exchange,
        "METRICS_PORT": str(port),
        "LOG_LEVEL": "INFO",
    }


def start_scheduler(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gamesched", "scheduler"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def logged_metrics_address(proc: subprocess.Popen[str], timeout: float = 30) -> tuple[str, int]:
    """Read the daemon's log (on a thread) until its "metrics on HOST:PORT" start-up line."""
    import queue
    import re
    import threading

    lines: queue.Queue[str] = queue.Queue()
    assert proc.stderr is not None
    stream = proc.stderr

    def pump() -> None:
        with contextlib.suppress(ValueError, OSError):  # closed by stop() at the end
            for line in stream:
                lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout
    seen = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        seen.append(line)
        if found := re.search(r"metrics on (\S+):(\d+)", line):
            return found[1], int(found[2])
    raise AssertionError(f"no metrics line within {timeout}s: {''.join(seen)}")


def stop(*procs: subprocess.Popen[str]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


def test_schedulers_on_port_zero_each_get_a_free_port_on_localhost(
    fresh_settings: Settings, run_id: str
) -> None:
    import httpx

    exchange = f"gamesched.test.{run_id}.ports"
    procs = [start_scheduler(scheduler_env(fresh_settings, exchange, 0)) for _ in range(2)]
    try:
        addresses = [logged_metrics_address(p) for p in procs]
        assert [host for host, _ in addresses] == ["127.0.0.1", "127.0.0.1"]
        assert addresses[0][1] != addresses[1][1]
        for _, port in addresses:
            assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    finally:
        stop(*procs)
        asyncio.run(delete_broker_objects(exchange))


def test_a_second_scheduler_on_a_busy_port_is_one_line(
    fresh_settings: Settings, run_id: str
) -> None:
    exchange = f"gamesched.test.{run_id}.busy"
    port = free_port()
    first = start_scheduler(scheduler_env(fresh_settings, exchange, port))
    try:
        assert logged_metrics_address(first)[1] == port
        second = subprocess.run(
            [sys.executable, "-m", "gamesched", "scheduler"],
            env=scheduler_env(fresh_settings, exchange, port),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        line = one_line(second)
        assert f"127.0.0.1:{port}" in line and "in use" in line
        assert first.poll() is None  # the first one is unharmed
    finally:
        stop(first)
        asyncio.run(delete_broker_objects(exchange))


def test_scheduler_refuses_a_schema_behind_this_release_and_runs_on_a_newer_one(
    fresh_settings: Settings,
) -> None:
    """Like the API and the bot: a database one migration behind is one line saying to run
    `gamesched migrate` (exit 2); a revision this release does not know is a newer release's
    (rolling upgrade), and the scheduler runs on it."""
    env = {
        **scheduler_env(fresh_settings, "unused", 0),
        "GAMESCHED_TRANSPORT": "postgres",
    }
    migrate.downgrade(fresh_settings, "-1")
    result = subprocess.run(
        [sys.executable, "-m", "gamesched", "scheduler"],
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    line = one_line(result)
    assert "behind" in line and "`gamesched migrate`" in line, line

    migrate.upgrade(fresh_settings)
    with db_engine.connect(fresh_settings.libpq_url) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
        conn.commit()
    proc = start_scheduler(env)
    try:
        logged_metrics_address(proc)  # started: it serves its metrics
    finally:
        stop(proc)
    assert proc.returncode == 0


# -- gamesched bot and gamesched dlq: one-line configuration errors ------------------------------


def test_bot_and_dlq_on_an_unmigrated_database_are_one_line() -> None:
    name = empty_database()
    env = {"DATABASE_URL": database_url(name), "GAMESCHED_TRANSPORT": "postgres"}
    try:
        for args in (("bot",), ("dlq", "list"), ("dlq", "replay", "--all")):
            line = one_line(run_cli(*args, timeout=20, **env))
            assert "no gamesched schema" in line and "gamesched migrate" in line, args
    finally:
        db_engine.drop_database(SERVER_URL, name)


def test_bot_on_a_busy_metrics_port_is_one_line(fresh_settings: Settings) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {
            "DATABASE_URL": fresh_settings.database_url,
            "GAMESCHED_TRANSPORT": "postgres",
            "METRICS_PORT": str(port),
        }
        line = one_line(run_cli("bot", timeout=20, **env))
    assert f"cannot listen on 127.0.0.1:{port}" in line


def test_bot_with_a_token_discord_refuses_is_one_line(fresh_settings: Settings) -> None:
    import asyncio

    from gamesched.testing.fake_discord import FakeDiscord

    async def refused() -> str:
        fake = FakeDiscord()
        fake.fail_next[("GET", "/users/@me")] = [401]
        await fake.start()
        env = {
            **os.environ,
            "DATABASE_URL": fresh_settings.database_url,
            "GAMESCHED_TRANSPORT": "postgres",
            "METRICS_PORT": "0",
            "DISCORD_TOKEN": "wrong",
            "DISCORD_API_BASE": fake.base_url,
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gamesched", "bot", env=env, stderr=asyncio.subprocess.PIPE
        )
        _, err = await asyncio.wait_for(proc.communicate(), 30)
        await fake.stop()
        assert proc.returncode == 2, err
        return err.decode()

    stderr = asyncio.run(refused())
    assert stderr.strip().splitlines()[-1].startswith("gamesched bot: Discord at "), stderr
    assert "refused DISCORD_TOKEN" in stderr


# -- --version, --help, and the bad configurations a newcomer meets (issue 10) ------------------


def test_version_is_the_installed_distributions() -> None:
    import importlib.metadata

    result = run_cli("--version", timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"gamesched {importlib.metadata.version('gamesched')}"


def help_of(*args: str) -> str:
    import pytest

    from gamesched import cli

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exited:
        cli.main([*args, "--help"])
    assert exited.value.code == 0
    return out.getvalue()


def test_help_names_every_command_and_the_variables_each_reads() -> None:
    top = help_of()
    for command in ("run", "demo", "migrate", "api", "scheduler", "bot", "token", "dlq"):
        assert f"\n    {command}" in top, command
    assert "--version" in top and "DATABASE_URL" in top and "GAMESCHED_DATA_DIR" in top
    expected = {
        ("run",): ["DATABASE_URL", "GAMESCHED_DATA_DIR", "RABBITMQ_URL", "DISCORD_TOKEN",
                   "DISCORD_PUBLIC_KEY", "API_PORT", "METRICS_PORT", "SCHEDULER_BATCH_SIZE"],
        ("demo",): ["--start-in SECONDS", "--no-follow", "DATABASE_URL", "API_PORT"],
        ("migrate",): ["DATABASE_URL", "GAMESCHED_DATA_DIR"],
        ("api",): ["DATABASE_URL", "API_HOST", "DISCORD_PUBLIC_KEY"],
        ("scheduler",): ["--kinds KINDS", "RABBITMQ_URL", "SCHEDULER_CONCURRENCY", "METRICS_PORT"],
        ("bot",): ["DISCORD_TOKEN", "DISCORD_API_BASE", "RABBITMQ_URL", "METRICS_PORT"],
        ("token",): ["DATABASE_URL", "create", "revoke"],
        ("token", "create"): ["--name NAME", "--guild DISCORD_GUILD_ID"],
        ("dlq",): ["RABBITMQ_URL", "list", "replay"],
        ("dlq", "replay"): ["--all", "ID"],
    }  # fmt: skip
    for args, words in expected.items():
        text = help_of(*args)
        for word in words:
            assert word in text, (args, word)
    assert "DISCORD_TOKEN" not in help_of("migrate")  # only what the command reads


def test_run_on_an_unreachable_database_is_one_line() -> None:
    env = {
        "DATABASE_URL": "postgresql://u:hunter2@127.0.0.1:1/x",
        "API_PORT": str(free_port()),
        "METRICS_PORT": "0",
    }
    for args in (("run",), ("demo", "--no-follow"), ("token", "create", "--name", "x")):
        line = one_line(run_cli(*args, timeout=30, **env))
        assert "cannot connect to PostgreSQL at postgresql://u:***@127.0.0.1:1/" in line, args
        assert "Connection refused" in line and "check that it runs and DATABASE_URL" in line
        assert "hunter2" not in line


def test_a_malformed_discord_public_key_is_one_line() -> None:
    for args in (("run",), ("api",)):
        line = one_line(run_cli(*args, timeout=30, DISCORD_PUBLIC_KEY="not-a-key"))
        assert "DISCORD_PUBLIC_KEY: must be 64 hexadecimal characters" in line, args


def test_a_busy_api_or_metrics_port_is_one_line(fresh_settings: Settings) -> None:
    import socket

    from tests.scheduler._helpers import free_ports_for_run

    # a busy port with a free one just below it (the run's scheduler takes that one below)
    _, below = free_ports_for_run()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", below + 1))
        busy.listen()
        port = busy.getsockname()[1]
        env = {
            "DATABASE_URL": fresh_settings.database_url or "",
            "API_PORT": str(port),
            "METRICS_PORT": "0",
            "GAMESCHED_TRANSPORT": "postgres",
        }
        for args in (("api",), ("run",)):
            line = one_line(run_cli(*args, timeout=30, **env))
            assert f"cannot listen on 127.0.0.1:{port} (API_HOST:API_PORT)" in line, args
            assert "in use" in line, args
        # gamesched run: the scheduler's METRICS_PORT and the bot's next one, before serving
        for metrics in (port, port - 1):
            env.update(API_PORT=str(free_port()), METRICS_PORT=str(metrics))
            line = one_line(run_cli("run", timeout=30, **env))
            assert f"cannot listen on 127.0.0.1:{port} (METRICS_HOST:METRICS_PORT)" in line
