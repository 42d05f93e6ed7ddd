"""Accounts: registration rules (Quinta, personal fields, URLs), change, retire, roles."""

from __future__ import annotations

from typing import Any

from tests.support.apps import Client
from tests.support.factories import account_body, create_account, handle_uid
from tests.support.reads import events, head_seq


async def test_create_read_list_patch_retire(
    client: Client, admin: dict[str, str], auditor: dict[str, str]
) -> None:
    before = await head_seq(client)
    account_id = await create_account(client, admin, verified=True)
    one = await client.get(f"/v1/accounts/{account_id}", headers=auditor)
    assert one.status_code == 200 and one.json()["verified"] is True
    assert one.json()["credential_version"] is None
    listed = (await client.get("/v1/accounts", headers=auditor)).json()
    assert account_id in [a["id"] for a in listed]
    changed = await client.patch(
        f"/v1/accounts/{account_id}", json={"display_name": "Nuevo nombre"}, headers=admin
    )
    assert changed.status_code == 200 and changed.json()["display_name"] == "Nuevo nombre"
    retired = await client.post(f"/v1/accounts/{account_id}/retire", headers=admin)
    assert retired.status_code == 200 and retired.json()["retired_at"]
    again = await client.post(f"/v1/accounts/{account_id}/retire", headers=admin)
    assert again.status_code == 409
    actions = [e.action for e in await events(client, after=before, account_id=account_id)]
    assert actions == ["account.created", "account.changed", "account.retired"]
    assert (await client.get(f"/v1/accounts/{account_id}", headers=auditor)).status_code == 200


async def test_roles(client: Client, admin: dict[str, str], auditor: dict[str, str]) -> None:
    account_id = await create_account(client, admin)
    resp = await client.post("/v1/accounts", json={}, headers=auditor)
    assert resp.status_code == 403
    patch = await client.patch(f"/v1/accounts/{account_id}", json={}, headers=auditor)
    assert patch.status_code == 403
    assert (await client.get("/v1/accounts/nope", headers=admin)).status_code == 404


async def test_personal_accounts_follow_quinta(client: Client, admin: dict[str, str]) -> None:
    personal: dict[str, Any] = {
        "kind": "personal",
        "owner_name": "Titular",
        "owner_cargo": "Secretaria",
        "hierarchy_level": 4,
        "managed_by_area": True,
    }
    account_id = await create_account(client, admin, **personal)
    deeper = await client.patch(
        f"/v1/accounts/{account_id}", json={"hierarchy_level": 5}, headers=admin
    )
    assert deeper.status_code == 422 and deeper.json()["numeral"] == "Quinta"
    still = (await client.get(f"/v1/accounts/{account_id}", headers=admin)).json()
    assert still["hierarchy_level"] == 4


async def test_bad_input_is_refused_and_changes_nothing(
    client: Client, admin: dict[str, str]
) -> None:
    handle = handle_uid("malo")
    base = account_body(handle=handle, display_name="Cuenta", area="Área")
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"url": "ftp://x.com/a"}, 422, "url"),
        ({"url": "javascript:alert(1)"}, 422, "url"),
        ({"platform": "myspace"}, 400, "platform"),
        ({"handle": "h" * 201}, 400, "handle"),
        ({"handle": ""}, 400, "handle"),
        ({"unknown": 1}, 400, "unknown"),
        (
            {"kind": "personal", "owner_name": "A", "owner_cargo": "B", "hierarchy_level": 5},
            422,
            "hierarchy_level",
        ),
        *(
            (
                {"kind": "personal", "owner_name": "A", "owner_cargo": "B", "hierarchy_level": n},
                422,
                "Quinta",
            )
            for n in (1001, 2**40, -1, -(2**40))
        ),
        ({"kind": "personal", "owner_cargo": "B", "hierarchy_level": 1}, 422, "owner_name"),
        ({"kind": "personal", "owner_name": "A", "owner_cargo": "B"}, 422, "hierarchy_level"),
    ]
    before = await head_seq(client)
    for change, status, field in cases:
        resp = await client.post("/v1/accounts", json={**base, **change}, headers=admin)
        assert resp.status_code == status, (change, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert field in resp.text, resp.text
    listed = (await client.get("/v1/accounts", headers=admin)).json()
    assert handle not in [a["handle"] for a in listed]
    assert await events(client, after=before, action="account.created") == []
