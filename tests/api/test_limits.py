"""Request bodies are capped (413 before the rest is read) and a request without a bearer token
is refused before its body is read or parsed; tried on a real uvicorn server with raw sockets."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from gamesched.api import app as api_app
from gamesched.settings import Settings
from tests.api._net import serving
from tests.api.conftest import Api, auth, game_body

CHUNK = 16 * 1024


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> Iterator[tuple[str, int]]:
    settings: Settings = request.getfixturevalue("shared_settings")
    key = "ab" * 32  # a syntactically valid public key: signatures are checked, and fail
    app = api_app.create_app(settings.model_copy(update={"discord_public_key": key}))
    with serving(app) as url:
        host, port = url.removeprefix("http://").split(":")
        yield host, int(port)


def exchange(address: tuple[str, int], head: bytes, chunks: int = 0, size: int = CHUNK) -> bytes:
    """Send a request head, then ``chunks`` chunks of ``size`` bytes of a chunked body (never
    the final empty chunk: the body stays unfinished), and read the answer. An app that waited
    for the whole body would never answer: the 10 s socket timeout fails the test."""
    with socket.create_connection(address, timeout=10) as sock:
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
    server: tuple[str, int], path: str, cap: int, client: Api
) -> None:
    too_big = head(path, f"Content-Length: {200 * 1024 * 1024}", *_auth(client))
    assert status(exchange(server, too_big)) == 413  # no body byte was ever sent
    just_over = head(path, f"Content-Length: {cap + 1}", *_auth(client))
    assert status(exchange(server, just_over)) == 413


@pytest.mark.parametrize(
    ("path", "cap"), [("/discord/interactions", 64 * 1024), ("/api/v1/games", 128 * 1024)]
)
def test_oversized_chunked_body_is_413_while_it_streams(
    server: tuple[str, int], path: str, cap: int, client: Api
) -> None:
    """The body never ends; the answer must come once the cap is passed, after at most one
    more chunk has been read."""
    streamed = head(path, "Transfer-Encoding: chunked", *_auth(client))
    assert status(exchange(server, streamed, chunks=cap // CHUNK + 2)) == 413


def test_a_body_under_the_cap_works_and_over_it_is_a_json_413(client: Api) -> None:
    client.setup_guild()
    body = game_body(description="x" * 2000)
    assert client.http.post("/api/v1/games", json=body).status_code == 201
    resp = client.http.post("/api/v1/games", content=b" " * (128 * 1024 + 1))
    assert resp.status_code == 413
    assert "over 131072 bytes" in resp.json()["detail"][0]["message"]


def test_no_token_is_401_before_the_body_is_read_or_parsed(
    server: tuple[str, int], client: Api
) -> None:
    # A huge announced body, a streaming one and a malformed one: all refused for the token.
    assert status(exchange(server, head("/api/v1/games", "Content-Length: 209715200"))) == 401
    streamed = head("/api/v1/games", "Transfer-Encoding: chunked")
    assert status(exchange(server, streamed, chunks=20)) == 401
    for headers in ({"Authorization": ""}, {"Authorization": "Basic dXNlcjpwYXNz"}):
        resp = client.http.post(
            "/api/v1/games", content=b"{not json", headers={**headers, "Content-Type": "json"}
        )
        assert resp.status_code == 401, resp.text
        assert resp.headers["www-authenticate"] == "Bearer"
        assert resp.json()["detail"][0]["message"]


def test_a_bad_token_is_401_before_the_body_is_validated(client: Api) -> None:
    resp = client.http.post("/api/v1/games", json={"title": 5}, headers=auth("wrong"))
    assert resp.status_code == 401, resp.text


def _auth(client: Api) -> list[str]:
    return [f"Authorization: Bearer {client.admin_token}"]
