"""NUL characters are refused at the door, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.support.apps import AppFactory, bearer
from tests.support.factories import account_body, create_gestor, handle_uid, uid
from tests.support.reads import head_seq


@pytest.mark.parametrize(
    "raw_display_name",
    [
        rb'"Cuenta\u0000oficial"',
        rb'"Cuenta \\\u0000 oficial"',
        rb'"\u0000"',
        rb'"Cuenta\u001Boficial"',
        rb'"Cuenta\boficial"',
        rb'"Cuenta\u007foficial"',
        '"Cuenta\x85oficial"'.encode(),
        b'"Cuenta\x7foficial"',
    ],
    ids=[
        "nul",
        "nul-after-escaped-backslash",
        "nul-alone",
        "esc",
        "backspace",
        "del",
        "c1",
        "raw-del",
    ],
)
async def test_a_nul_in_a_body_is_422_and_changes_nothing(
    make_client: AppFactory, raw_display_name: bytes
) -> None:
    c = await make_client()
    admin = await bearer(c, "admin", "hygiene")
    handle = handle_uid("nul")
    body = (
        b'{"platform": "x", "handle": "' + handle.encode() + b'", "url": "https://x.com/a",'
        b' "area": "Comunicaci\\u00f3n Social", "kind": "oficial",'
        b' "display_name": ' + raw_display_name + b"}"
    )
    start = await head_seq(c)
    resp = await c.post(
        "/v1/accounts", content=body, headers={**admin, "Content-Type": "application/json"}
    )
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert "control characters" in resp.json()["detail"]
    assert await head_seq(c) == start
    listed = await c.get("/v1/accounts", headers=admin)
    assert handle not in listed.text


async def test_an_escaped_backslash_followed_by_u0000_is_plain_text(
    make_client: AppFactory,
) -> None:
    c = await make_client()
    admin = await bearer(c, "admin", "hygiene-literal")
    name = "Cuenta \\u0000 \\b oficial\tcon\r\nsaltos"  # backslashes as text; tab, CR, LF
    resp = await c.post(
        "/v1/accounts",
        json=account_body(handle=handle_uid("lit"), display_name=name),
        headers=admin,
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["display_name"] == name


@pytest.mark.parametrize(
    "path", ["/v1/audit/events?actor=a%00b", "/v1/accounts/a%00b", "/v1/gestores?area=%00"]
)
async def test_a_nul_in_the_url_is_400(make_client: AppFactory, path: str) -> None:
    c = await make_client()
    admin = await bearer(c, "admin", "hygiene-url")
    resp = await c.get(path, headers=admin)
    assert resp.status_code == 400, resp.text
    assert "NUL" in resp.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [b"[" * 1000 + b"]" * 1000, b'{"a":' * 2000 + b"1" + b"}" * 2000, b"[" * 33 + b"]" * 33],
    ids=["arrays-1000", "objects-2000", "arrays-33"],
)
async def test_json_nested_too_deep_is_400_not_500(make_client: AppFactory, body: bytes) -> None:
    c = await make_client()
    admin = await bearer(c, "admin", "hygiene-deep")
    resp = await c.post(
        "/v1/tokens", content=body, headers={**admin, "Content-Type": "application/json"}
    )
    assert resp.status_code == 400, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert "nests deeper" in resp.json()["detail"]


async def test_brackets_inside_strings_do_not_count_as_nesting(make_client: AppFactory) -> None:
    c = await make_client()
    admin = await bearer(c, "admin", "hygiene-brackets")
    name = '[{"\\' + "[" * 100
    resp = await c.post(
        "/v1/accounts", json=account_body(handle=handle_uid("br"), display_name=name), headers=admin
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["display_name"] == name


async def test_mistyped_json_is_400_and_changes_nothing(make_client: AppFactory) -> None:
    """Strict types: no '5' for 5, no Unix number for a date-time (it was a 1970 departure)."""
    c = await make_client()
    admin = await bearer(c, "admin", "hygiene-strict")
    gestor_id = await create_gestor(
        c, admin, name="Gestora Estricta", email=f"{uid('estricta')}@example.gob.mx"
    )
    start = await head_seq(c)
    cases = [
        ("POST", f"/v1/gestores/{gestor_id}/departure", {"reason": "baja", "effective_at": 0.0}),
        ("POST", "/v1/accounts", account_body(handle=handle_uid("t"), verified="true")),
        ("POST", "/v1/accounts", account_body(handle=handle_uid("t"), in_directory=1)),
    ]
    for method, path, body in cases:
        resp = await c.request(method, path, json=body, headers=admin)
        assert resp.status_code == 400, (path, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert resp.json()["errors"][0]["field"] in ("effective_at", "verified", "in_directory")
    assert await head_seq(c) == start
    still = await c.get(f"/v1/gestores/{gestor_id}", headers=admin)
    assert still.json()["departed_at"] is None
