"""Request bodies are capped (413 before the rest is read) and a request without a valid bearer
token is refused before its body is read or parsed; tried on a real uvicorn server, raw sockets."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import orm
from sqlalchemy.orm import Session

from gamesched.api import app as api_app
from gamesched.db import engine as db_engine
from gamesched.db import tokens
from gamesched.settings import Settings
from tests.api._net import serving
from tests.api.conftest import Api, auth, game_body

CHUNK = 16 * 1024


@dataclass
class Server:
    address: tuple[str, int]
    token: str  # a valid admin token, committed


@pytest.fixture
def server(fresh_settings: Settings) -> Iterator[Server]:
    engine = db_engine.make_engine(fresh_settings)
    with orm.Session(engine) as session, session.begin():
        token = tokens.create_token(session, name="admin", discord_guild_id=None)
    engine.dispose()
    key = "ab" * 32  # a syntactically valid public key: signatures are checked, and fail
    app = api_app.create_app(fresh_settings.model_copy(update={"discord_public_key": key}))
    with serving(app) as url:
        host, port = url.removeprefix("http://").split(":")
        yield Server((host, int(port)), token)


def exchange(server: Server, head: bytes, chunks: int = 0, size: int = CHUNK) -> bytes:
    """Send a request head, then ``chunks`` chunks of ``size`` bytes of a chunked body (never
    the final empty chunk: the body stays unfinished), and read the answer. An app that waited
    for the whole body would never answer: the 10 s socket timeout fails the test."""
    with socket.create_connection(server.address, timeout=10) as sock:
        sock.sendall(head)
        for _ in range(chunks):
            try:
                sock.sendall(f"{size:x}\r\n".encode() + b"[" * size + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break  # the server answered and closed: it read no further
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
        return answer


def status(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), repr(answer[:100])
    return int(answer[9:12])


def head(path: str, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: test", "Content-Type: application/json", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.mark.parametrize(
    ("path", "cap"), [("/discord/interactions", 64 * 1024), ("/api/v1/games", 128 * 1024)]
)
def test_oversized_content_length_is_413_before_the_body_is_sent(
    server: Server, path: str, cap: int
) -> None:
    too_big = head(path, f"Content-Length: {200 * 1024 * 1024}", _auth(server))
    assert status(exchange(server, too_big)) == 413  # no body byte was ever sent
    just_over = head(path, f"Content-Length: {cap + 1}", _auth(server))
    assert status(exchange(server, just_over)) == 413


@pytest.mark.parametrize(
    ("path", "cap"), [("/discord/interactions", 64 * 1024), ("/api/v1/games", 128 * 1024)]
)
def test_oversized_chunked_body_is_413_while_it_streams(
    server: Server, path: str, cap: int
) -> None:
    """The body never ends; the answer must come once the cap is passed, after at most one
    more chunk has been read."""
    streamed = head(path, "Transfer-Encoding: chunked", _auth(server))
    assert status(exchange(server, streamed, chunks=cap // CHUNK + 2)) == 413


def test_a_body_under_the_cap_works_and_over_it_is_a_json_413(client: Api) -> None:
    client.setup_guild()
    body = game_body(description="x" * 2000)
    assert client.http.post("/api/v1/games", json=body).status_code == 201
    resp = client.http.post("/api/v1/games", content=b" " * (128 * 1024 + 1))
    assert resp.status_code == 413
    assert "over 131072 bytes" in resp.json()["detail"][0]["message"]


@pytest.mark.parametrize(
    "authorization",
    [None, "Authorization: Basic dXNlcjpwYXNz", "Authorization: Bearer not-a-token"],
    ids=["none", "basic", "unknown-token"],
)
def test_an_unauthenticated_post_is_401_before_its_body_is_read_or_parsed(
    server: Server, authorization: str | None
) -> None:
    extra = [authorization] if authorization else []
    huge = head("/api/v1/games", "Content-Length: 209715200", *extra)
    assert status(exchange(server, huge)) == 401  # not 413: the body is never looked at
    streamed = head("/api/v1/games", "Transfer-Encoding: chunked", *extra)
    assert status(exchange(server, streamed, chunks=20)) == 401
    malformed = b"{not json"
    broken = head("/api/v1/games", f"Content-Length: {len(malformed)}", *extra) + malformed
    answer = exchange(server, broken)
    assert status(answer) == 401, repr(answer[:300])  # not 422
    assert b"www-authenticate: Bearer" in answer


def test_a_revoked_token_is_401_before_the_body_is_parsed(client: Api, db_session: Session) -> None:
    token = tokens.create_token(db_session, name="gone", discord_guild_id=None)
    tokens.revoke_token(db_session, name="gone")
    db_session.commit()
    resp = client.http.post(
        "/api/v1/games",
        content=b"[" * 100_000,
        headers={**auth(token), "Content-Type": "application/json"},
    )
    assert resp.status_code == 401, resp.text


def _auth(server: Server) -> str:
    return f"Authorization: Bearer {server.token}"
