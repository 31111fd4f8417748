"""A body that is not JSON is refused with the place of the mistake in words (line and column),
never as a bare character offset posing as a field name."""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import GUILD, Api

JSON = {"Content-Type": "application/json"}


def refusal(client: Api, body: bytes, path: str = "/api/v1/guilds") -> dict[str, object]:
    resp = client.http.post(path, content=body, headers=JSON)
    assert resp.status_code == 422, resp.text
    detail = resp.json()["detail"]
    assert len(detail) == 1, detail
    item: dict[str, object] = detail[0]
    return item


def test_a_missing_comma_names_line_and_column(client: Api) -> None:
    body = b'{"discord_guild_id": "1" "name": "x"}'
    with pytest.raises(json.JSONDecodeError) as parsed:
        json.loads(body)
    assert (parsed.value.lineno, parsed.value.colno) == (1, 26)
    assert refusal(client, body) == {
        "field": None,
        "message": "invalid JSON at line 1, column 26: Expecting ',' delimiter",
    }


def test_the_line_is_counted_in_a_multi_line_body(client: Api) -> None:
    body = b'{\n  "discord_guild_id": "1",\n  "name": "x",\n}'
    item = refusal(client, body)
    assert item["field"] is None
    assert item["message"] == (
        "invalid JSON at line 4, column 1: Expecting property name enclosed in double quotes"
    )


def test_a_truncated_body_says_where_it_stopped(client: Api) -> None:
    item = refusal(client, b'{"discord_user_id": ', path=f"/api/v1/guilds/{GUILD}/channels")
    assert item == {"field": None, "message": "invalid JSON at line 1, column 21: Expecting value"}


def test_the_guild_was_not_registered_by_a_broken_body(client: Api) -> None:
    refusal(client, b'{"discord_guild_id": "%s",' % GUILD.encode())
    assert client.http.get(f"/api/v1/guilds/{GUILD}").status_code == 404


def test_a_valid_json_body_of_the_wrong_shape_still_names_its_fields(client: Api) -> None:
    item = refusal(client, b'{"discord_guild_id": 5}')
    assert item["field"] == "discord_guild_id"


def test_an_undecodable_body_is_the_documented_400(client: Api) -> None:
    resp = client.http.post("/api/v1/guilds", content=b'{"name": "\xff"}', headers=JSON)
    assert resp.status_code == 400, resp.text
    assert resp.json()["detail"][0]["message"]
