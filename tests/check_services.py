"""``make test``'s first step: are the PostgreSQL and RabbitMQ the tests use reachable?

Each one missing is one line saying what is needed and how to get it; exit status 2 then.
The URLs are the suite's (tests/conftest.py): ``TEST_DATABASE_URL``, ``TEST_RABBITMQ_URL``.
"""

from __future__ import annotations

import socket
import sys
from urllib.parse import urlsplit

import psycopg

from gamesched.settings import mask_url
from tests.conftest import RABBITMQ_URL, SERVER_URL


def postgres_problem(url: str) -> str | None:
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error as exc:
        # libpq: 'connection failed: connection to server at "h", port 1 failed: <reason>'
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        reason = first.rsplit(" failed: ", 1)[-1]
        return (
            f"the tests need PostgreSQL at {mask_url(url)} (or TEST_DATABASE_URL, a server "
            f"where they may create databases): {reason}. Install it with "
            "`apt-get install postgresql` or "
            "`docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16`"
        )
    return None


def rabbitmq_problem(url: str) -> str | None:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), 3).close()
    except OSError as exc:
        return (
            f"the tests need RabbitMQ at {mask_url(url)} (or TEST_RABBITMQ_URL): "
            f"{exc.strerror or exc}. Install it with `apt-get install rabbitmq-server` or "
            "`docker run -d -p 5672:5672 rabbitmq:3`"
        )
    return None


def main() -> int:
    problems = [p for p in (postgres_problem(SERVER_URL), rabbitmq_problem(RABBITMQ_URL)) if p]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 2 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
