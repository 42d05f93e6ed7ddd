"""Foundation: health, tokens, auth, problem details, limits."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
from typing import Any

from service.settings import Settings
from tests.support.apps import AppFactory, Client


async def test_healthz_and_readyz(client: Client) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "vault": "ok"}


async def test_metrics_count_requests(client: Client) -> None:
    await client.get("/healthz")
    body = (await client.get("/metrics")).text
    assert 'custodia_http_requests_total{method="GET",route="/healthz",status="200"}' in body


async def test_missing_and_wrong_tokens_get_401_problem(client: Client) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic x"}):
        resp = await client.get("/v1/tokens", headers=headers)
        assert resp.status_code == 401
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert resp.json()["title"] == "Authentication required"


async def test_a_refused_token_is_logged_and_counted_as_401(make_client: AppFactory) -> None:
    """Refused in the authentication middleware: still seen by the request log and metrics."""
    c = await make_client()
    for n, headers in enumerate(({}, {"Authorization": "Bearer nope"})):
        resp = await c.get("/v1/tokens", headers={**headers, "X-Request-ID": f"refused-{n}"})
        assert resp.status_code == 401
        assert resp.headers["x-client-request-id"] == f"refused-{n}"
        assert resp.headers["x-request-id"] != f"refused-{n}"  # the server's own id
    body = (await c.get("/metrics")).text
    assert 'custodia_http_requests_total{method="GET",route="/v1/tokens",status="401"} 2.0' in body
    assert 'status="500"' not in body


async def test_token_times_carry_their_offset(client: Client, admin: dict[str, str]) -> None:
    listed = (await client.get("/v1/tokens", headers=admin)).json()
    assert listed and all(t["created_at"].endswith("Z") for t in listed)
    assert all(t["revoked_at"] is None or t["revoked_at"].endswith("Z") for t in listed)


async def test_token_lifecycle_and_roles(
    client: Client, admin: dict[str, str], auditor: dict[str, str]
) -> None:
    assert (await client.get("/v1/tokens", headers=auditor)).status_code == 403
    made = await client.post("/v1/tokens", json={"role": "auditor", "name": "oic"}, headers=admin)
    assert made.status_code == 201, made.text
    token = made.json()["token"]
    assert token.startswith("cust_")
    assert len(base64.urlsafe_b64decode(token.removeprefix("cust_") + "=")) * 8 >= 256
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/v1/tokens", headers=headers)).status_code == 403
    listed = (await client.get("/v1/tokens", headers=admin)).json()
    assert all("token" not in row for row in listed)
    revoked = await client.delete(f"/v1/tokens/{made.json()['id']}", headers=admin)
    assert revoked.status_code == 204
    assert (await client.get("/v1/tokens", headers=headers)).status_code == 401


async def test_bad_bodies_get_problem_details(client: Client, admin: dict[str, str]) -> None:
    cases: list[tuple[dict[str, Any], int, str | None]] = [
        ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 400, None),
        ({"json": {"role": "admin", "name": "x", "extra": 1}}, 400, "extra"),
        ({"json": {"role": "root", "name": "x"}}, 400, "role"),
        ({"json": {"role": "admin", "name": 5}}, 400, "name"),
        ({"content": b"role=admin", "headers": {"Content-Type": "text/plain"}}, 415, None),
        ({"json": {"role": "admin", "name": "x" * 70_000}}, 413, None),
    ]
    for kwargs, status, field in cases:
        extra_headers = kwargs.pop("headers", {})
        resp = await client.post("/v1/tokens", headers={**admin, **extra_headers}, **kwargs)
        assert resp.status_code == status, (kwargs, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
        problem = resp.json()
        assert problem["status"] == status and problem["title"] and problem["detail"]
        if field:
            assert field in problem["detail"], problem


async def test_unknown_method_gets_405(client: Client, admin: dict[str, str]) -> None:
    resp = await client.put("/v1/tokens", headers=admin, json={})
    assert resp.status_code == 405
    assert resp.headers["content-type"].startswith("application/problem+json")


async def test_cli_prints_the_token_alone_and_it_works(client: Client, settings: Settings) -> None:
    result = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "service.cli",
            "tokens",
            "create",
            "--role",
            "auditor",
            "--name",
            "oic",
        ],
        env={**os.environ, "CUSTODIA_DATABASE_URL": settings.database_url},
        capture_output=True,
        text=True,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("cust_"), result.stdout
    headers = {"Authorization": f"Bearer {lines[0]}"}
    assert (await client.get("/v1/audit/events?limit=1", headers=headers)).status_code == 200
    assert (await client.get("/v1/tokens", headers=headers)).status_code == 403
