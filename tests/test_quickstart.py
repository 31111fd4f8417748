"""The README's Quickstart as a new user meets it: nothing configured (the embedded PostgreSQL,
the PostgreSQL transport, the dry-run bot), `gamesched run` in the foreground, `gamesched demo`
beside it, the game carried through to COMPLETED, then Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from gamesched import demo, embedded
from gamesched.db import engine as db_engine
from gamesched.settings import Settings
from tests.scheduler._helpers import free_port

ROOT = Path(__file__).resolve().parent.parent
#: the console script of the virtualenv running the tests, as `make run` runs it
GAMESCHED = str(Path(sys.executable).parent / "gamesched")
#: what a new user has not set
UNSET = (
    "DATABASE_URL",
    "RABBITMQ_URL",
    "GAMESCHED_TRANSPORT",
    "GAMESCHED_DATA_DIR",
    "GAMESCHED_EXCHANGE",
    "DISCORD_TOKEN",
    "DISCORD_PUBLIC_KEY",
    "DISCORD_API_BASE",
    "API_HOST",
    "API_PORT",
    "METRICS_HOST",
    "METRICS_PORT",
    "LOG_FORMAT",
    "LOG_LEVEL",
)


def readme_block(heading: str) -> str:
    """The first ```sh block under a README heading."""
    text = (ROOT / "README.md").read_text()
    section = text.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```sh\n(.*?)```", section, re.S)
    assert found, f"no sh block under {heading}"
    return found[1]


def test_the_quickstart_is_two_make_targets_and_they_do_what_the_readme_says():
    commands = [
        line for line in readme_block("## Quickstart").splitlines() if line and line[0] != "#"
    ]
    assert commands == ["make run", "make test"]
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL")}
    for target, expected in (("run", "gamesched run"), ("test", "python -m pytest")):
        # -n: print the recipe; -B: as on a fresh clone (venv and install included)
        dry = subprocess.run(
            ["make", "-n", "-B", "--no-print-directory", "-C", str(ROOT), target],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert dry.returncode == 0, dry.stderr
        assert "-m venv .venv" in dry.stdout, dry.stdout
        assert "pip install" in dry.stdout and " -e " in dry.stdout, dry.stdout
        assert dry.stdout.strip().splitlines()[-1].endswith(expected), dry.stdout
    assert "tests.check_services" in dry.stdout


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # not under pytest's tmp_path: as root that is mode 700, and the server runs as another user
    path = Path(tempfile.mkdtemp(prefix="gamesched-quickstart-"))
    path.chmod(0o755)
    yield path / "data"
    pid = path / "data" / "pgdata" / "postmaster.pid"
    with contextlib.suppress(OSError, ValueError, IndexError, ProcessLookupError):
        os.kill(int(pid.read_text().splitlines()[0]), signal.SIGQUIT)  # a failed test's leftover
    shutil.rmtree(path, ignore_errors=True)


def new_user_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update(GAMESCHED_DATA_DIR=str(data_dir), LOG_LEVEL="INFO", **extra)
    return env


class Log:
    """A process's stderr, read on a thread, searchable while it runs."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        self.lines: list[str] = []
        self._stream = proc.stderr
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        with contextlib.suppress(ValueError, OSError):
            for line in self._stream:
                self.lines.append(line.rstrip("\n"))

    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if re.search(pattern, line):
                    return line
            time.sleep(0.1)
        raise AssertionError(f"no line matching {pattern!r} within {timeout}s:\n{self.text()}")


def postgres_of(pgdata: Path) -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    return [line for line in out.stdout.splitlines() if str(pgdata) in line and "postgres" in line]


def poll(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.slow
@pytest.mark.timeout(360)
def test_run_then_demo_on_nothing_configured_to_completed_then_ctrl_c(data_dir: Path):
    api_port = free_port()
    env = new_user_env(data_dir, API_PORT=str(api_port), METRICS_PORT="0")
    api = f"http://127.0.0.1:{api_port}"
    run = subprocess.Popen(
        [GAMESCHED, "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    log = Log(run)
    demo_proc: subprocess.Popen[str] | None = None
    try:
        poll(lambda: run.poll() is None and ready(f"{api}/readyz"), 90, "gamesched run ready")
        line = log.wait_for(r"running api on", 10)
        assert f"database: embedded PostgreSQL in {data_dir}" in line
        assert "started by this command" in line
        assert "events via PostgreSQL queue table" in line
        log.wait_for(rf"ready: API at {api} \(interactive docs at {api}/docs\)", 10)
        log.wait_for(r"bot started: .*Discord dry run", 30)

        # 70 s: the reminder 1 minute before is still ahead, the one 2 minutes before is not
        demo_proc = subprocess.Popen(
            [GAMESCHED, "demo", "--start-in", "70"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert demo_proc.stdout is not None
        printed: list[str] = []
        for out_line in demo_proc.stdout:
            printed.append(out_line)
            if out_line.startswith("following the game"):
                break
        output = "".join(printed)
        token = re.search(r"TOKEN=(\S+)", output)
        game_url = re.search(rf"curl -s ({re.escape(api)}/api/v1/games/[0-9a-f-]+) ", output)
        assert token and game_url, output
        headers = {"Authorization": f"Bearer {token[1]}"}
        game = httpx.get(game_url[1], headers=headers, timeout=10).json()
        states = [p["state"] for p in game["participants"]]
        assert states == ["confirmed", "confirmed", "waitlisted"]
        assert {r["reminder_minutes"]: r["state"] for r in game["reminders"]} == {
            2: "skipped",
            1: "pending",
        }
        schedule = httpx.get(f"{game_url[1]}/schedule", headers=headers, timeout=10)
        assert schedule.status_code == 200, schedule.text

        # meanwhile, the README's HTTP walk-through, verbatim but for the port, in a "second
        # terminal" (its `. .venv/bin/activate` finds this virtualenv)
        walk_through(env, api, data_dir.parent)

        # the demo follows the game until it is COMPLETED, then exits 0
        rest, demo_err = demo_proc.communicate(timeout=200)
        assert demo_proc.returncode == 0, demo_err
        assert "done: reminder 1 min before the start" in rest
        assert "done: the game becomes IN_PROGRESS" in rest
        assert "the demo game is COMPLETED" in rest
        assert "no embedded PostgreSQL" not in demo_err

        # the run's dry-run bot showed each step as one readable line
        title = game["title"]
        channel = demo.CHANNEL_ID
        log.wait_for(rf"dry-run: would post in channel {channel} .*'{title}' \[Scheduled\]", 5)
        for user in (demo.HOST_ID, *demo.PLAYER_IDS):
            dm = log.wait_for(rf"dry-run: would DM user {user}: Reminder: {title} starts ", 5)
            assert "<t:" not in dm and "**" not in dm and "in 1 min" in dm
        log.wait_for(r"dry-run: would edit message \S+ in channel .*\[In progress\]", 5)
        log.wait_for(rf"dry-run: would edit message .*'{title} \(completed\)' \[Completed\]", 30)

        start = time.monotonic()
        run.send_signal(signal.SIGINT)
        assert run.wait(30) == 0, log.text()
        assert time.monotonic() - start < 20
        log.wait_for("embedded PostgreSQL stopped", 5)
        poll(lambda: not postgres_of(data_dir / "pgdata"), 10, "the embedded server gone")
        assert embedded.running_port(data_dir / "pgdata") is None
        assert "Traceback" not in log.text(), log.text()
    finally:
        for proc in (demo_proc, run):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)
            if proc is not None and proc.stderr is not None:
                proc.stderr.close()
            if proc is not None and proc.stdout is not None:
                proc.stdout.close()


def walk_through(env: dict[str, str], api: str, scratch: Path) -> None:
    block = readme_block("## HTTP API")
    assert "API=http://127.0.0.1:8000\n" in block
    script = block.replace("http://127.0.0.1:8000", api) + '\necho "GAME_ID=$GAME_ID"\n'
    (scratch / ".venv").symlink_to(Path(sys.executable).parent.parent)
    result = subprocess.run(
        ["sh", "-c", script], cwd=scratch, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(r"GAME_ID=[0-9a-f-]{36}$", out.strip()), out + result.stderr
    assert '"discord_user_id":"444444444444444444","state":"confirmed","position":1' in out, out
    assert '"state":"pending"' in out and "401" not in out, out


def test_demo_without_a_running_embedded_server_says_to_start_gamesched_run(data_dir: Path):
    result = subprocess.run(
        [GAMESCHED, "demo"], env=new_user_env(data_dir), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert f"no embedded PostgreSQL is running in {data_dir}" in line
    assert "gamesched run" in line
    assert not (data_dir / "pgdata").exists()  # nothing was started or created


def test_demo_twice_reuses_its_guild_and_seats_two_of_three(fresh_settings: Settings):
    env = {**os.environ, "DATABASE_URL": fresh_settings.database_url or "", "API_PORT": "8123"}
    outputs = []
    for _ in range(2):
        result = subprocess.run(
            [GAMESCHED, "demo", "--no-follow"], env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    assert "(registered now)" in outputs[0] and "(registered now)" not in outputs[1]
    assert "curl -s http://127.0.0.1:8123/api/v1/games/" in outputs[1]
    with db_engine.connect(fresh_settings.libpq_url) as conn:
        assert conn.execute("SELECT count(*) FROM guilds").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM game_sessions").fetchone() == (2,)
        (game_id,) = conn.execute("SELECT id FROM game_sessions LIMIT 1").fetchone() or (None,)
        assert conn.execute(
            "SELECT count(*) FROM api_tokens WHERE guild_id IS NOT NULL"
        ).fetchone() == (2,)
        rows = conn.execute(
            "SELECT reminder_minutes FROM notification_schedule WHERE game_id = %s", (game_id,)
        ).fetchall()
        assert sorted(r[0] for r in rows) == [1, 2]  # 3 minutes ahead: both reminders planned
