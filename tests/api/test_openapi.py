"""The OpenAPI document is the API's reference: every route and every field says what it is,
every request body has examples the API accepts, and each route lists only the errors it can
give. The document is read as a client reads it, from /openapi.json (no database needed)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from gamesched.api import app as api_app
from gamesched.api import schemas
from gamesched.settings import Settings

METHODS = ("get", "put", "post", "patch", "delete", "head", "options")


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    # No lifespan (not used as a context manager): the document needs no database.
    resp = TestClient(api_app.create_app(Settings())).get("/openapi.json")
    assert resp.status_code == 200
    document: dict[str, Any] = resp.json()
    return document


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def properties(node: Any, where: str) -> Iterator[tuple[str, Any]]:
    """Every property of every object schema anywhere under ``node``, with where it is."""
    if isinstance(node, dict):
        for name, prop in (node.get("properties") or {}).items():
            yield f"{where}.{name}", prop
        for key, value in node.items():
            yield from properties(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from properties(value, f"{where}[{i}]")


def described(node: Any) -> bool:
    return isinstance(node, dict) and bool(str(node.get("description", "")).strip())


def test_the_document_has_the_routes(doc: dict[str, Any]) -> None:
    found = {(path, method) for path, method, _ in operations(doc)}
    assert len(found) >= 17, found
    assert ("/api/v1/games", "post") in found
    assert ("/discord/interactions", "post") in found


def test_every_route_has_a_summary_and_a_description(doc: dict[str, Any]) -> None:
    missing = [
        f"{method.upper()} {path}"
        for path, method, op in operations(doc)
        if not described(op) or not str(op.get("summary", "")).strip()
    ]
    assert not missing, missing


def test_every_response_has_a_description(doc: dict[str, Any]) -> None:
    missing = [
        f"{method.upper()} {path} {status}"
        for path, method, op in operations(doc)
        for status, response in op["responses"].items()
        if not described(response)
    ]
    assert not missing, missing


def test_every_parameter_is_described(doc: dict[str, Any]) -> None:
    missing = [
        f"{method.upper()} {path} {param['in']} {param['name']}"
        for path, method, op in operations(doc)
        for param in op.get("parameters", [])
        if not described(param)
    ]
    assert not missing, missing


def test_every_schema_and_property_is_described(doc: dict[str, Any]) -> None:
    components = doc["components"]["schemas"]
    assert {"GameIn", "GameOut", "ErrorOut"} <= set(components)
    undescribed_schemas = [name for name, schema in components.items() if not described(schema)]
    assert not undescribed_schemas
    everywhere = [*properties(components, "components"), *properties(doc["paths"], "paths")]
    assert len(everywhere) > 60
    missing = [where for where, prop in everywhere if not described(prop)]
    assert not missing, missing


def request_bodies(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, method, op in operations(doc):
        if "requestBody" in op:
            yield f"{method.upper()} {path}", op["requestBody"]


def test_every_request_body_has_examples(doc: dict[str, Any]) -> None:
    bodies = dict(request_bodies(doc))
    assert len(bodies) >= 8, sorted(bodies)  # 7 JSON bodies and the interactions endpoint
    for where, body in bodies.items():
        for media_type, content in body["content"].items():
            examples = content.get("examples") or {}
            assert examples or "example" in content, f"{where} {media_type} has no example"
            for name, example in examples.items():
                assert str(example.get("summary", "")).strip(), f"{where}: {name} has no summary"


def test_every_request_body_example_is_accepted_by_its_model(doc: dict[str, Any]) -> None:
    checked = 0
    for _where, body in request_bodies(doc):
        content = body["content"]["application/json"]
        ref = content["schema"].get("$ref")
        if ref is None:
            continue  # Discord's own interaction objects: not ours to validate
        model = getattr(schemas, ref.rsplit("/", 1)[-1])
        assert issubclass(model, BaseModel)
        for example in content["examples"].values():
            model.model_validate(example["value"])  # raises if the example is not valid
            checked += 1
    assert checked >= 10


def test_each_route_lists_only_the_errors_it_can_give(doc: dict[str, Any]) -> None:
    for path, method, op in operations(doc):
        route = f"{method.upper()} {path}"
        errors = {int(s) for s in op["responses"] if int(s) >= 400}
        has_body = "requestBody" in op
        is_api = path.startswith("/api/")
        if method == "get":
            assert 409 not in errors, f"{route}: a read cannot conflict"
        assert (401 in errors) == (is_api or path == "/discord/interactions"), route
        assert (413 in errors) == has_body, f"{route}: 413 is for requests with a body"
        if re.search(r"\{[^}]+\}", path):
            assert 404 in errors, f"{route}: it has an id, which may not exist"
        if is_api:
            assert {422, 503} <= errors, f"{route}: validation and the database"
            assert (400 in errors) == has_body, f"{route}: 400 is for undecodable bodies"
        if 403 in errors:
            assert route == "POST /api/v1/guilds", f"{route}: only admin routes are 403"
        assert 500 not in errors, route


def test_the_documented_errors_of_a_few_routes_exactly(doc: dict[str, Any]) -> None:
    def errors(path: str, method: str) -> list[int]:
        return sorted(int(s) for s in doc["paths"][path][method]["responses"] if int(s) >= 400)

    assert errors("/api/v1/guilds", "post") == [400, 401, 403, 409, 413, 422, 503]
    assert errors("/api/v1/games/{game_id}", "get") == [401, 404, 422, 503]
    assert errors("/api/v1/games/{game_id}/cancel", "post") == [401, 404, 409, 422, 503]
    assert errors("/healthz", "get") == []
    assert errors("/readyz", "get") == [503]
    assert errors("/discord/interactions", "post") == [400, 401, 413]


def test_error_answers_point_at_the_one_error_shape(doc: dict[str, Any]) -> None:
    for path, method, op in operations(doc):
        for status, response in op["responses"].items():
            if int(status) >= 400 and path.startswith("/api/"):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (path, method, status)


def test_the_response_examples_are_what_the_api_would_answer(doc: dict[str, Any]) -> None:
    checked = 0
    for name, schema in doc["components"]["schemas"].items():
        for example in schema.get("examples", []):
            model = getattr(schemas, name)
            assert model.model_validate(example).model_dump(mode="json") == example, name
            checked += 1
    assert checked >= 4


def test_the_document_shows_the_request_examples_as_written(doc: dict[str, Any]) -> None:
    """FastAPI drops None values when it writes the document: an example with a null would
    lose it (and {"max_players": null} would become {}, which changes nothing)."""

    def canonical(value: Any) -> str:
        return json.dumps(value, sort_keys=True)

    written = {
        canonical(example["value"])
        for name in dir(schemas)
        if name.endswith("_EXAMPLES")
        for example in getattr(schemas, name).values()
    }
    shown = {
        canonical(example["value"])
        for _, body in request_bodies(doc)
        for content in body["content"].values()
        for example in (content.get("examples") or {}).values()
    }
    assert len(written) >= 10
    assert written <= shown, written - shown
