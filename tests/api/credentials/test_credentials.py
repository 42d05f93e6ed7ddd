"""Credentials: Vault KV v2 with check-and-set, SQL keeps facts only, Segunda III, validation."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from tests.bao_server import DevServer
from tests.support.apps import Client, runtime_of
from tests.support.factories import (
    create_account,
    create_gestor,
    gestor_token,
    unmanaged_personal_account,
)
from tests.support.reads import events, head_seq

SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def body(password: str, **extra: Any) -> dict[str, Any]:
    return {"username": "comunicacion", "password": password, **extra}


async def in_vault(bao: DevServer, account_id: str) -> tuple[dict[str, Any], int] | None:
    """The current secret and its version, read with the root token (the service cannot)."""
    async with httpx.AsyncClient(base_url=f"{bao.addr}/v1/") as vault:
        resp = await vault.get(
            f"custodia-kv/data/accounts/{account_id}", headers={"X-Vault-Token": bao.root_token}
        )
    if resp.status_code == 404:
        return None
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    return data["data"], int(data["metadata"]["version"])


async def test_admin_writes_versions_and_sql_keeps_only_facts(
    client: Client, admin: dict[str, str], auditor: dict[str, str], bao: DevServer
) -> None:
    account_id = await create_account(client, admin)
    before = await head_seq(client)
    first = await client.put(
        f"/v1/accounts/{account_id}/credential",
        json=body(
            "Primera-Clave-1",
            recovery_email="recupera@example.gob.mx",
            recovery_phone="+52 55 1234 5678",
            totp_secret=SEED.lower(),
            backup_codes=["1111-2222", "3333-4444"],
            reason="alta inicial",
        ),
        headers=admin,
    )
    assert first.status_code == 200, first.text
    assert set(first.json()) == {"version", "created_time"} and first.json()["version"] == 1
    account = (await client.get(f"/v1/accounts/{account_id}", headers=auditor)).json()
    assert account["credential_version"] == 1 and account["two_factor_method"] == "totp"
    assert account["recovery_email_masked"] == "r••••@example.gob.mx"
    assert account["recovery_phone_masked"] == "••••••5678"
    stored = await in_vault(bao, account_id)
    assert stored is not None and stored[0]["totp_secret"] == SEED
    # A full replacement drops 2FA and recovery data only when told to (issue 12).
    dropped = ("totp_secret", "backup_codes", "recovery_email", "recovery_phone")
    remove = [{"field": f, "reason": "la plataforma ya no los usa"} for f in dropped]
    second = await client.put(
        f"/v1/accounts/{account_id}/credential",
        json=body("Segunda-Clave-2", remove=remove),
        headers=admin,
    )
    assert second.status_code == 200 and second.json()["version"] == 2
    versions = await client.get(f"/v1/accounts/{account_id}/credential/versions", headers=auditor)
    assert versions.status_code == 200
    rows = versions.json()
    assert [(v["version"], v["reason"], v["is_rotation"], v["recorded"]) for v in rows] == [
        (1, "alta inicial", False, True),
        (2, "credential written", True, True),
    ]
    assert "Clave" not in versions.text
    written = await events(client, after=before, action="credential.written")
    assert [json.loads(e.details)["version"] for e in written] == [1, 2]
    assert all("Clave" not in e.details and "1111" not in e.details for e in written)
    after = (await client.get(f"/v1/accounts/{account_id}", headers=auditor)).json()
    assert after["two_factor_method"] is None and after["recovery_email_masked"] is None


async def test_same_password_is_refused(
    client: Client, admin: dict[str, str], bao: DevServer
) -> None:
    account_id = await create_account(client, admin)
    path = f"/v1/accounts/{account_id}/credential"
    assert (await client.put(path, json=body("Igual-123"), headers=admin)).status_code == 200
    again = await client.put(path, json=body("Igual-123"), headers=admin)
    assert again.status_code == 422 and "Igual" not in again.text
    stored = await in_vault(bao, account_id)
    assert stored is not None and stored[1] == 1


async def test_cas_from_vault_survives_a_lost_sql_record(
    client: Client, admin: dict[str, str], auditor: dict[str, str]
) -> None:
    """Vault holds a version SQL never recorded: the next write records it first, then works."""
    account_id = await create_account(client, admin)
    path = f"/v1/accounts/{account_id}/credential"
    assert (await client.put(path, json=body("Uno-111"), headers=admin)).status_code == 200
    vault = runtime_of(client).vault
    await vault.write_credential(account_id, {"username": "u", "password": "Dos-222"}, cas=1)
    assert [
        v["recorded"] for v in (await client.get(f"{path}/versions", headers=auditor)).json()
    ] == [
        True,
        False,
    ]
    third = await client.put(path, json=body("Tres-333"), headers=admin)
    assert third.status_code == 200 and third.json()["version"] == 3
    rows = (await client.get(f"{path}/versions", headers=auditor)).json()
    assert [(v["version"], v["recorded"]) for v in rows] == [(1, True), (2, True), (3, True)]
    # Written outside the service: no write intent names it, so nobody is named.
    assert (rows[1]["written_by"], rows[1]["is_rotation"]) == ("unknown", False)
    recovered = await events(client, account_id=account_id, action="credential.version_recovered")
    assert [json.loads(e.details)["intent_seq"] for e in recovered] == [None]
    account = (await client.get(f"/v1/accounts/{account_id}", headers=admin)).json()
    assert account["credential_version"] == 3


async def test_concurrent_writes_never_overwrite_silently(
    client: Client, admin: dict[str, str]
) -> None:
    account_id = await create_account(client, admin)
    path = f"/v1/accounts/{account_id}/credential"
    responses = await asyncio.gather(
        *(client.put(path, json=body(f"Carrera-{i}"), headers=admin) for i in range(6))
    )
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {200, 409}, [r.text for r in responses]
    won = [r.json()["version"] for r in responses if r.status_code == 200]
    in_vault = await runtime_of(client).vault.credential_versions(account_id)
    # Every version Vault holds was answered 200 to exactly one writer.
    assert sorted(won) == sorted(in_vault)
    for r in responses:
        if r.status_code == 409:
            assert r.json()["title"] == "Concurrent credential write"
    conflicts = await events(client, account_id=account_id, action="credential.write_conflict")
    assert len(conflicts) == statuses.count(409)


async def test_personal_account_without_area_is_not_held(
    client: Client, admin: dict[str, str], bao: DevServer
) -> None:
    account_id = await unmanaged_personal_account(client, admin)
    resp = await client.put(
        f"/v1/accounts/{account_id}/credential", json=body("Personal-1"), headers=admin
    )
    assert resp.status_code == 409
    assert "Segunda III" in resp.json()["detail"] and resp.json()["numerals"] == ["Segunda III"]
    assert await in_vault(bao, account_id) is None


async def test_roles_for_writing(
    client: Client, admin: dict[str, str], auditor: dict[str, str]
) -> None:
    account_id = await create_account(client, admin)
    path = f"/v1/accounts/{account_id}/credential"
    assert (await client.put(path, json=body("Rol-1"), headers=auditor)).status_code == 403
    gestor = await gestor_token(client, admin, await create_gestor(client, admin))
    refused = await client.put(path, json=body("Rol-1"), headers=gestor)
    assert refused.status_code == 403 and "checkout" in refused.json()["detail"]
    assert (await client.get(f"{path}/versions", headers=gestor)).status_code == 403
    assert (
        await client.put("/v1/accounts/nope/credential", json=body("x"), headers=admin)
    ).status_code == 404


async def test_bad_input_is_refused_and_changes_nothing(
    client: Client, admin: dict[str, str], bao: DevServer
) -> None:
    account_id = await create_account(client, admin)
    path = f"/v1/accounts/{account_id}/credential"
    canary = "Canary-Password-Q9"
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"recovery_email": "no-es-correo"}, 422, "recovery_email"),
        ({"recovery_phone": "12ab34567"}, 422, "recovery_phone"),
        ({"totp_secret": "NOT-BASE32-!!!!!!!!"}, 422, "totp_secret"),
        ({"totp_secret": "ABC"}, 422, "totp_secret"),
        ({"backup_codes": [f"c{i}" for i in range(51)]}, 400, "backup_codes"),
        ({"backup_codes": ["x" * 65]}, 400, "backup_codes"),
        ({"username": "u" * 201}, 400, "username"),
        ({"password": "p" * 1025}, 400, "password"),
        ({"notes": "n" * 2001}, 400, "notes"),
        ({"unknown": "x"}, 400, "unknown"),
    ]
    for change, status, field in cases:
        resp = await client.put(path, json={**body(canary), **change}, headers=admin)
        assert resp.status_code == status, (change, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert field in resp.text and canary not in resp.text
    assert await in_vault(bao, account_id) is None
    account = (await client.get(f"/v1/accounts/{account_id}", headers=admin)).json()
    assert account["credential_version"] is None
