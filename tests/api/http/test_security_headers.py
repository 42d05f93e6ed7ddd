"""Every route's responses carry nosniff, a CSP with frame-ancestors 'none', and no-store on /v1.

The routes are read from the app's own route table, so a route added later is
checked without anyone remembering to list it here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import httpx
from litestar.routes import HTTPRoute

from tests.support.apps import AppFactory, Client, bearer
from tests.support.factories import create_gestor, gestor_token

PLACEHOLDER = "00000000-0000-0000-0000-000000000000"
BODY_METHODS = {"POST", "PUT", "PATCH"}


def calls(client: Client) -> list[tuple[str, str, str]]:
    """(route template, method, concrete path) for every method of every HTTP route."""
    out: list[tuple[str, str, str]] = []
    for route in client.app.routes:
        assert isinstance(route, HTTPRoute), route  # no websockets or mounts to miss
        path = re.sub(r"\{[^}]+\}", PLACEHOLDER, route.path)
        out.extend((route.path, method, path) for method in sorted(route.methods))
    return out


def check(path: str, resp: httpx.Response) -> None:
    where = f"{resp.request.method} {path} → {resp.status_code}"
    headers = resp.headers
    assert headers.get("x-content-type-options") == "nosniff", where
    csp = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp, where
    assert csp.startswith("default-src 'none'"), where
    if path.startswith("/v1/") and not path.startswith("/v1/public/"):
        assert headers.get_list("cache-control") == ["no-store"], where


async def test_every_route_answers_with_the_headers(make_client: AppFactory) -> None:
    c = await make_client()
    admin = await bearer(c, "admin", "headers")
    gestor = await gestor_token(c, admin, await create_gestor(c, admin))
    seen: set[str] = set()
    for template, method, path in calls(c):
        for token in ({}, admin, gestor):
            kwargs: Mapping[str, object] = {"json": {}} if method in BODY_METHODS else {}
            resp = await c.request(method, path, headers=token, **kwargs)  # type: ignore[arg-type]
            check(path, resp)
        seen.add(template)
    assert {"/v1/tokens", "/v1/public/directory", "/schema", "/healthz"} <= seen
    assert seen == {route.path for route in c.app.routes}


async def test_answers_from_outside_any_route_have_them_too(client: Client) -> None:
    for resp in (
        await client.get("/no/such/route"),
        await client.put("/healthz"),
        await client.get("/v1/no-such-thing"),
        await client.post("/v1/tokens", content=b"x", headers={"Content-Type": "text/plain"}),
    ):
        assert resp.status_code in (401, 404, 405, 415), resp.text
        check(resp.request.url.path, resp)


async def test_a_token_is_never_cached(client: Client, admin: dict[str, str]) -> None:
    made = await client.post("/v1/tokens", json={"role": "auditor", "name": "nc"}, headers=admin)
    assert made.status_code == 201, made.text
    assert made.headers.get_list("cache-control") == ["no-store"]
    gestor_id = await create_gestor(client, admin)
    issued = await client.post(
        f"/v1/gestores/{gestor_id}/tokens", json={"name": "g"}, headers=admin
    )
    assert issued.status_code == 201, issued.text
    assert issued.headers.get_list("cache-control") == ["no-store"]


async def test_the_public_directory_keeps_its_cache_headers(client: Client) -> None:
    resp = await client.get("/v1/public/directory")
    assert resp.status_code == 200, resp.text
    assert resp.headers["cache-control"] == "public, max-age=300"
    etag = resp.headers["etag"]
    again = await client.get("/v1/public/directory", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["etag"] == etag
    check("/v1/public/directory", again)


async def test_the_schema_page_loads_only_its_own_assets(client: Client) -> None:
    page = await client.get("/schema")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in page.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert policy["script-src"] == "'self'"  # no inline script, no CDN
    html = page.text
    assert "<script>" not in html and "cdn" not in html.lower()
    urls = re.findall(r'(?:src|href|data-spec-url)="([^"]+)"', html)
    assert len(urls) == 5, urls
    for url in urls:
        assert url.startswith("/schema/"), url
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert asset.headers["x-content-type-options"] == "nosniff"
    bundle = await client.get("/schema/swagger-ui/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert b"SwaggerUIBundle" in bundle.content
    licence = await client.get("/schema/swagger-ui/LICENSE")
    assert "Apache License" in licence.text


async def test_only_the_listed_assets_are_served(client: Client) -> None:
    for name in ("README.md", "..%2F..%2Fschema_ui.py", "swagger-ui.css.map", "index.html"):
        resp = await client.get(f"/schema/swagger-ui/{name}")
        assert resp.status_code == 404, name
