"""/docs and /redoc work on a box without internet: the pages refer only to this server, and
everything they load is served by it with the right content type."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient

from gamesched.api import app as api_app
from gamesched.settings import Settings

ORIGIN = "http://testserver"
#: What each asset must be served as, by its extension.
CONTENT_TYPES = {
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".png": ("image/png",),
}


@pytest.fixture(scope="module")
def http() -> TestClient:
    # No lifespan (not used as a context manager): the pages need no database.
    return TestClient(api_app.create_app(Settings()), base_url=ORIGIN)


def referenced_urls(html: str) -> list[str]:
    """Every URL the page loads: src and href attributes, and the spec's url: '...'."""
    attributes = re.findall(r"""\b(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    spec = re.findall(r"""\burl\s*:\s*["']([^"']+)["']""", html)
    spec += re.findall(r"""\bspec-url\s*=\s*["']([^"']+)["']""", html)
    return attributes + spec


def same_origin(url: str, page: str) -> bool:
    absolute = urlsplit(urljoin(page, url))
    return f"{absolute.scheme}://{absolute.netloc}" == ORIGIN


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_page_refers_only_to_this_server(http: TestClient, page: str) -> None:
    resp = http.get(page)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    urls = referenced_urls(resp.text)
    assert len(urls) >= 3, urls  # script, favicon, the OpenAPI document (and Swagger's CSS)
    foreign = [u for u in urls if not same_origin(u, ORIGIN + page)]
    assert not foreign, foreign
    # Nothing else that a browser could fetch from elsewhere either (fonts, the validator).
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", resp.text), resp.text
    assert "/openapi.json" in urls


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_every_asset_the_page_loads_is_served_here(http: TestClient, page: str) -> None:
    urls = [u for u in referenced_urls(http.get(page).text) if u != "/openapi.json"]
    kinds = set()
    for url in urls:
        resp = http.get(url)
        assert resp.status_code == 200, url
        suffix = re.search(r"\.[a-z]+$", urlsplit(url).path)
        assert suffix, url
        kinds.add(suffix.group())
        media_type = resp.headers["content-type"].split(";")[0].strip()
        assert media_type in CONTENT_TYPES[suffix.group()], (url, media_type)
        assert len(resp.content) > 100, url
    assert ".js" in kinds
    if page == "/docs":
        assert ".css" in kinds


def test_swagger_ui_is_a_version_that_reads_openapi_3_1(http: TestClient) -> None:
    """FastAPI writes OpenAPI 3.1, which Swagger UI renders from version 5 on."""
    assert http.get("/openapi.json").json()["openapi"].startswith("3.1")
    bundle = http.get("/docs/static/swagger-ui-bundle.js").text
    assert "SwaggerUIBundle" in bundle
    assert "oas/3.1" in bundle  # its OpenAPI 3.1 support (absent from Swagger UI 4)


def test_the_swagger_page_turns_off_the_online_validator(http: TestClient) -> None:
    assert '"validatorUrl": null' in http.get("/docs").text


def test_behind_a_path_prefix_the_urls_carry_it() -> None:
    app = api_app.create_app(Settings())
    http = TestClient(app, base_url=ORIGIN, root_path="/gamesched")
    urls = referenced_urls(http.get("/docs").text)
    assert urls and all(u.startswith("/gamesched/") for u in urls), urls


def test_a_missing_asset_is_404_and_nothing_outside_the_folder_is_served(
    http: TestClient,
) -> None:
    assert http.get("/docs/static/nope.js").status_code == 404
    assert http.get("/docs/static/%2e%2e/%2e%2e/__init__.py").status_code == 404
