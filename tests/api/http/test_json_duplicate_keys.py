"""A key given twice in one JSON object is a 400 that names it, before any handler runs."""

from __future__ import annotations

import re

import pytest
from litestar.routes import HTTPRoute

from service.errors import DomainError
from service.http.input_hygiene import refuse_repeated_keys
from tests.support.apps import AppFactory, Client, bearer
from tests.support.factories import create_gestor, gestor_token
from tests.support.reads import head_seq

BODY_METHODS = ("POST", "PUT", "PATCH")
# The repeated key sits three objects deep, next to keys that appear once.
NESTED = b'{"name": "x", "outer": {"inner": {"code": "1", "reason": "a", "code": "2"}}}'


def body_routes(client: Client) -> list[tuple[str, str]]:
    """(method, path) of every route that takes a body, path parameters filled in."""
    out: list[tuple[str, str]] = []
    for route in client.app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        path = re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", route.path)
        out.extend((method, path) for method in BODY_METHODS if method in route.methods)
    return out


async def test_a_repeated_role_makes_no_token(client: Client, admin: dict[str, str]) -> None:
    start = await head_seq(client)
    listed = len((await client.get("/v1/tokens", headers=admin)).json())
    resp = await client.post(
        "/v1/tokens",
        content=b'{"role": "auditor", "name": "dup", "role": "admin"}',
        headers={**admin, "Content-Type": "application/json"},
    )
    assert resp.status_code == 400, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    problem = resp.json()
    assert '"role"' in problem["detail"] and problem["key"] == "role"
    assert len((await client.get("/v1/tokens", headers=admin)).json()) == listed
    assert await head_seq(client) == start


async def test_every_body_endpoint_refuses_a_repeated_key_at_any_depth(
    make_client: AppFactory,
) -> None:
    c = await make_client()
    admin = await bearer(c, "admin", "duplicate-keys")
    gestor = await gestor_token(c, admin, await create_gestor(c, admin))
    routes = body_routes(c)
    assert ("POST", "/v1/tokens") in routes and len(routes) > 15
    for method, path in routes:
        for token in (admin, gestor):
            headers = {**token, "Content-Type": "application/json"}
            resp = await c.request(method, path, content=NESTED, headers=headers)
            if resp.status_code != 403:  # a guard answers before any body is read
                break
        assert resp.status_code == 400, (method, path, resp.text)
        assert resp.json()["key"] == "code", (method, path, resp.text)


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1, "b": {"a": 1}, "c": [{"a": 1}, {"a": 2}]}',
        b'{"a": "\\"a\\": 1, \\"a\\": 2"}',
        b"[]",
        b"",
        b"{not json",
    ],
    ids=["same-key-in-other-objects", "keys-inside-a-string", "array", "empty", "malformed"],
)
def test_what_is_not_a_repeated_key_passes(body: bytes) -> None:
    refuse_repeated_keys(body)


def test_a_hostile_key_is_quoted_and_cut() -> None:
    key = "k" * 500
    with pytest.raises(DomainError) as refused:
        refuse_repeated_keys(f'{{"{key}": 1, "{key}": 2}}'.encode())
    assert len(refused.value.detail) < 200
    assert refused.value.extra["key"] == "k" * 64 + "…"
