"""Rotation obligations: merging, deadlines, evidence from Vault, max-age scan."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from service.clock import SystemClock, rfc3339
from service.db.models import Account, AuditEvent, RotationObligation, WebhookEvent
from service.domain.events import CredentialWritten, RotationTriggered
from service.domain.triggers import Trigger
from service.rotations.usecases import notify_overdue, scan_max_age
from service.runtime import Runtime
from tests.bao_server import DevServer
from tests.support.apps import AppFactory, Client, frozen, runtime_of
from tests.support.factories import (
    account_with_credential,
    admin_caller,
    assign,
    code_at,
    create_account,
    create_gestor,
    insert_backdated_account,
    open_obligation,
    put_credential,
    ready_gestor,
    report_incident,
    write_credential_bypassing_api,
)
from tests.support.reads import obligations_of


async def overdue_notices(rt: Runtime, obligation_id: str) -> int:
    async with rt.sessions() as session:
        audited = await session.scalars(
            select(AuditEvent.seq)
            .where(AuditEvent.subject == f"obligation:{obligation_id}")
            .where(AuditEvent.action == "rotation.overdue")
        )
        events = await session.scalars(
            select(WebhookEvent.id)
            .where(WebhookEvent.kind == "rotation.overdue")
            .where(WebhookEvent.payload["data"]["obligation"]["id"].as_string() == obligation_id)
        )
        count = len(list(audited))
        assert len(list(events)) == count
        return count


async def test_two_triggers_on_one_account_give_one_obligation_with_both_origins(
    client: Client, admin: dict[str, str]
) -> None:
    rt = runtime_of(client)
    account = await create_account(client, admin)
    gestor = await create_gestor(client, admin)
    async with rt.unit_of_work(admin_caller()) as uow:
        session = uow.session
        await uow.publish(RotationTriggered(account, Trigger.gestor_unassigned(gestor)))
    first = await obligations_of(client, admin, account)
    assert len(first) == 1 and first[0]["reason"] == "gestor_unassigned"
    await report_incident(
        client,
        admin,
        [account],
        type="extravio",
        description="Teléfono extraviado con sesión abierta",
        detected_at=rfc3339(rt.clock.now()),
    )
    [merged] = await obligations_of(client, admin, account)
    assert merged["id"] == first[0]["id"]
    assert merged["reason"] == "gestor_unassigned"
    assert [(o["type"], o["reason"]) for o in merged["origins"]] == [
        ("gestor", "gestor_unassigned"),
        ("incident", "extravio"),
    ]
    # The incident's one hour wins over the unassignment's 24.
    assert merged["due_at"] < first[0]["due_at"]
    async with rt.sessions() as session:
        actions = await session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.subject == f"obligation:{merged['id']}")
            .order_by(AuditEvent.seq)
        )
        assert list(actions) == ["rotation.opened", "rotation.merged"]
        kinds = await session.scalars(
            select(WebhookEvent.kind).where(
                WebhookEvent.payload["data"]["obligation"]["id"].as_string() == merged["id"]
            )
        )
        assert sorted(kinds) == ["rotation.merged", "rotation.opened"]


async def test_overdue_shows_up_after_the_deadline_with_an_injected_clock(
    make_client: AppFactory,
) -> None:
    client, clock, admin = await frozen(make_client, datetime.now(UTC), "overdue")
    rt = runtime_of(client)
    account = await create_account(client, admin)
    ob = await open_obligation(client, admin, account)
    assert ob["status"] == "open" and ob["reason"] == "manual"

    def ids(resp: httpx.Response) -> set[str]:
        return {o["id"] for o in resp.json()}

    async def listed(status: str) -> set[str]:
        params = {"status": status, "account_id": account}  # the shared database holds more
        return ids(await client.get("/v1/rotations", params=params, headers=admin))

    assert ob["id"] in await listed("open") and ob["id"] not in await listed("overdue")
    await notify_overdue(rt)
    assert await overdue_notices(rt, ob["id"]) == 0
    clock.advance(timedelta(hours=24, seconds=1))
    assert ob["id"] in await listed("overdue") and ob["id"] not in await listed("open")
    [again] = await obligations_of(client, admin, account)
    assert again["status"] == "overdue"
    summary = (await client.get("/v1/rotations/summary", headers=admin)).json()
    assert summary["counts"]["overdue"] >= 1
    assert summary["oldest_overdue"]["due_at"] <= ob["due_at"]
    # The overdue notice is sent once, however often the job runs.
    await notify_overdue(rt)
    await notify_overdue(rt)
    assert await overdue_notices(rt, ob["id"]) == 1


async def test_not_satisfied_by_an_older_version_the_same_password_or_a_vault_bypass(
    client: Client, admin: dict[str, str], bao: DevServer
) -> None:
    rt = runtime_of(client)
    account = await create_account(client, admin)
    await write_credential_bypassing_api(rt, account, "antes-del-disparo")
    ob = await open_obligation(client, admin, account, "prueba")
    # The same password written again is no rotation.
    _, satisfied = await write_credential_bypassing_api(rt, account, "antes-del-disparo")
    assert satisfied is None
    # Straight into Vault with the root token: the service never sees it.
    async with httpx.AsyncClient(base_url=bao.addr) as vault:
        resp = await vault.post(
            f"/v1/custodia-kv/data/accounts/{account}",
            headers={"X-Vault-Token": bao.root_token},
            json={"data": {"username": "oficial", "password": "por-fuera"}},
        )
        assert resp.status_code == 200, resp.text
    [still] = await obligations_of(client, admin, account)
    assert still["id"] == ob["id"] and still["status"] == "open"
    assert still["satisfied_by_version"] is None


async def test_an_older_version_is_no_evidence(client: Client, admin: dict[str, str]) -> None:
    """A version Vault created before the trigger cannot satisfy it, even with a new password."""
    rt = runtime_of(client)
    account = await create_account(client, admin)
    await write_credential_bypassing_api(rt, account, "uno")
    old, _ = await write_credential_bypassing_api(rt, account, "dos")
    ob = await open_obligation(client, admin, account, "prueba")
    async with rt.unit_of_work(admin_caller()) as uow:
        got = await uow.publish(CredentialWritten(account, old.version, old.created_time, True))
    assert got == []
    [still] = await obligations_of(client, admin, account)
    assert still["id"] == ob["id"] and still["status"] == "open"
    # A real rotation afterwards is the evidence.
    new, satisfied = await write_credential_bypassing_api(rt, account, "tres")
    assert satisfied is not None
    [done] = await obligations_of(client, admin, account)
    assert done["status"] == "satisfied" and done["satisfied_by_version"] == new.version


async def test_no_endpoint_marks_an_obligation_satisfied(
    client: Client, admin: dict[str, str], auditor: dict[str, str]
) -> None:
    rt = runtime_of(client)
    account = await create_account(client, admin)
    ob = await open_obligation(client, admin, account, "prueba")
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        resp = await client.request(
            method, f"/v1/rotations/{ob['id']}", json={"status": "satisfied"}, headers=admin
        )
        assert resp.status_code == 405, (method, resp.status_code)
    sneaky = await client.post(
        "/v1/rotations",
        json={"account_id": account, "reason": "x", "satisfied_at": rfc3339(rt.clock.now())},
        headers=admin,
    )
    assert sneaky.status_code == 400
    assert (await client.get(f"/v1/rotations/{ob['id']}", headers=auditor)).json()[
        "status"
    ] == "open"
    denied = await client.post(
        "/v1/rotations", json={"account_id": account, "reason": "x"}, headers=auditor
    )
    assert denied.status_code == 403
    missing = await client.post(
        "/v1/rotations",
        json={"account_id": "00000000-0000-0000-0000-000000000000", "reason": "x"},
        headers=admin,
    )
    assert missing.status_code == 404
    bad = await client.get("/v1/rotations", params={"status": "done"}, headers=admin)
    assert bad.status_code == 400


async def test_max_age_scan_is_idempotent(
    make_client: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, clock, admin = await frozen(make_client, datetime.now(UTC), "scan")
    rt = runtime_of(client)
    created = clock.now() - timedelta(days=100)
    stale = await insert_backdated_account(
        rt, credential_version=1, credential_created_time=created
    )
    fresh = await insert_backdated_account(
        rt, credential_version=1, credential_created_time=clock.now() - timedelta(days=10)
    )
    await scan_max_age(rt)
    await scan_max_age(rt)
    [ob] = await obligations_of(client, admin, stale)
    assert ob["reason"] == "max_age"
    assert ob["triggered_at"] == rfc3339(created + timedelta(days=90))
    assert ob["due_at"] == rfc3339(created + timedelta(days=97))
    assert ob["origins"] == [{"type": "scan", "id": 1, "reason": "max_age"}]
    assert await obligations_of(client, admin, fresh) == []
    # The cron entry point, against the same database.
    from service.cli import main

    monkeypatch.setenv("CUSTODIA_DATABASE_URL", rt.settings.database_url)
    assert await asyncio.to_thread(main, ["rotations", "scan"]) == 0
    assert len(await obligations_of(client, admin, stale)) == 1
    async with rt.sessions() as session:
        account = await session.get(Account, stale)
        assert account is not None
        rows = await session.scalars(
            select(RotationObligation).where(RotationObligation.account_id == stale)
        )
        assert len(list(rows)) == 1


async def test_concurrent_triggers_merge_into_one_obligation(
    client: Client, admin: dict[str, str]
) -> None:
    account = await create_account(client, admin)
    reasons = [f"revisión {n}" for n in range(8)]
    responses = await asyncio.gather(
        *(
            client.post("/v1/rotations", json={"account_id": account, "reason": r}, headers=admin)
            for r in reasons
        )
    )
    assert [r.status_code for r in responses] == [201] * len(reasons)
    [ob] = await obligations_of(client, admin, account)
    assert sorted(o["reason"] for o in ob["origins"]) == sorted(reasons)


async def satisfied_events(rt: Runtime, obligation_id: str) -> int:
    async with rt.sessions() as session:
        rows = await session.scalars(
            select(WebhookEvent.id)
            .where(WebhookEvent.kind == "rotation.satisfied")
            .where(WebhookEvent.payload["data"]["obligation"]["id"].as_string() == obligation_id)
        )
        return len(list(rows))


async def test_satisfied_by_a_rotation_through_checkin(
    client: Client, admin: dict[str, str]
) -> None:
    rt = runtime_of(client)
    account = await account_with_credential(client, admin, "vieja-123")
    gestor_id, headers, seed = await ready_gestor(client, admin, account)
    ob = await open_obligation(client, admin, account, "prueba")
    out = await client.post(
        f"/v1/accounts/{account}/checkouts",
        json={"totp_code": code_at(seed, SystemClock().now()), "reason": "rotar", "minutes": 10},
        headers=headers,
    )
    assert out.status_code == 201, out.text
    assert out.json()["rotation_required"] is True
    checkin = f"/v1/checkouts/{out.json()['checkout_id']}/checkin"
    bare = await client.post(checkin, json={}, headers=headers)
    assert bare.status_code == 422, bare.text
    same = await client.post(
        checkin,
        json={"new_credential": {"username": "oficial", "password": "vieja-123"}},
        headers=headers,
    )
    assert same.status_code == 422, same.text
    assert (await obligations_of(client, admin, account))[0]["status"] == "open"
    done = await client.post(
        checkin,
        json={"new_credential": {"username": "oficial", "password": "nueva-456"}},
        headers=headers,
    )
    assert done.status_code in (200, 201, 204), done.text
    [after] = await obligations_of(client, admin, account)
    assert after["id"] == ob["id"] and after["status"] == "satisfied"
    assert after["satisfied_by"] == f"gestor:{gestor_id}"
    assert after["satisfied_by_version"] == 2
    assert await satisfied_events(rt, ob["id"]) == 1


async def test_satisfied_by_an_admin_put_and_never_by_the_same_password(
    client: Client, admin: dict[str, str]
) -> None:
    rt = runtime_of(client)
    account = await account_with_credential(client, admin, "vieja-123")
    ob = await open_obligation(client, admin, account, "prueba")
    await put_credential(client, admin, account, "vieja-123", expect=422)
    assert (await obligations_of(client, admin, account))[0]["status"] == "open"
    written = await put_credential(client, admin, account, "nueva-456", expect=200)
    [after] = await obligations_of(client, admin, account)
    assert after["status"] == "satisfied"
    assert after["satisfied_by_version"] == written["version"]
    assert await satisfied_events(rt, ob["id"]) == 1


async def test_a_version_without_fingerprint_is_accepted_but_is_no_evidence(
    client: Client, admin: dict[str, str]
) -> None:
    """Strict: an unprovable change (no fingerprint for the current version) satisfies nothing."""
    rt = runtime_of(client)
    account = await account_with_credential(client, admin, "vieja-123")
    # As if written before fingerprints existed, or its fingerprint write was lost.
    await rt.vault.destroy_fingerprints(account)
    ob = await open_obligation(client, admin, account, "prueba")
    # The same password cannot be told apart now: accepted, flagged, no evidence.
    unknown = await put_credential(client, admin, account, "vieja-123", expect=200)
    assert (await obligations_of(client, admin, account))[0]["status"] == "open"
    async with rt.sessions() as session:
        written = list(
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.account_id == account)
                .where(AuditEvent.action == "credential.written")
                .order_by(AuditEvent.seq)
            )
        )
    details = [json.loads(e.details) for e in written]
    assert details[-1]["version"] == unknown["version"]
    assert details[-1]["fingerprint_missing"] is True and details[-1]["is_rotation"] is False
    assert all("fingerprint_missing" not in d for d in details[:-1])
    # From here on the fingerprint is known again.
    await put_credential(client, admin, account, "vieja-123", expect=422)
    written = await put_credential(client, admin, account, "nueva-456", expect=200)
    [after] = await obligations_of(client, admin, account)
    assert after["id"] == ob["id"] and after["status"] == "satisfied"
    assert after["satisfied_by_version"] == written["version"]


async def test_unassignment_opens_an_obligation(client: Client, admin: dict[str, str]) -> None:
    account = await create_account(client, admin)
    gestor_id = await create_gestor(
        client,
        admin,
        name="Gestor externo",
        email="externo@example.com",
        kind="externo",
        provider="Agencia Digital SA",
        cargo=None,
    )
    await assign(client, admin, account, gestor_id)
    assert await obligations_of(client, admin, account) == []
    ended = await client.delete(f"/v1/accounts/{account}/gestores/{gestor_id}", headers=admin)
    assert ended.status_code == 204, ended.text
    [ob] = await obligations_of(client, admin, account)
    assert ob["reason"] == "gestor_unassigned" and ob["status"] == "open"
    assert ob["origins"] == [{"type": "gestor", "id": gestor_id, "reason": "gestor_unassigned"}]
