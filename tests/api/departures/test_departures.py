"""Departures (Décima quinta): access ends at once, rotations owed, a case file answered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from service.clock import FrozenClock, rfc3339
from service.db.models import Assignment, AuditEvent, Checkout, RotationObligation
from tests.conftest import AppFactory, Client, bearer, runtime_of
from tests.rotation_helpers import (
    api_account,
    assign,
    gestor_headers,
    open_checkout,
    seed_account,
    seed_gestor,
    write_through_service,
)


async def test_departed_gestor_tokens_are_refused_within_the_same_second(
    make_client: AppFactory,
) -> None:
    clock = FrozenClock(datetime.now(UTC))
    client = await make_client(clock=clock)
    rt = runtime_of(client)
    admin = await bearer(client, "admin", "departures")
    gestor = await seed_gestor(rt)
    token = await gestor_headers(rt, gestor)
    # Authenticated but not allowed: 403 proves the token is live.
    assert (await client.get("/v1/rotations", headers=token)).status_code == 403
    resp = await client.post(
        f"/v1/gestores/{gestor}/departure", json={"reason": "baja"}, headers=admin
    )
    assert resp.status_code == 200, resp.text
    # The frozen clock has not moved: still the same instant, let alone second.
    refused = await client.get("/v1/rotations", headers=token)
    assert refused.status_code == 401
    assert resp.json()["tokens_revoked"] == 1


async def test_case_file_lists_accounts_ever_assigned_minus_rotated_since(
    client: Client, admin: dict[str, str]
) -> None:
    rt = runtime_of(client)
    now = rt.clock.now()
    gestor = await seed_gestor(rt)
    accounts = [await seed_account(rt) for _ in range(5)]
    active, ended, rotated_during, rotated_after, _never_assigned = accounts
    for account in accounts:
        await write_through_service(rt, account, "inicial-" + account)
    month_ago, two_days_ago = now - timedelta(days=30), now - timedelta(days=2)
    await assign(rt, active, gestor, at=month_ago)
    await assign(rt, ended, gestor, at=month_ago, ended_at=two_days_ago)
    await assign(rt, rotated_during, gestor, at=month_ago)
    await assign(rt, rotated_after, gestor, at=month_ago, ended_at=two_days_ago)
    # Rotated while the gestor could still read it: they know it, so it is owed.
    await write_through_service(rt, rotated_during, "rotada-" + rotated_during)
    # Rotated after their access ended: the gestor never saw it, nothing owed.
    await write_through_service(rt, rotated_after, "rotada-" + rotated_after)
    checkout = await open_checkout(rt, active, gestor, at=now - timedelta(minutes=5))

    resp = await client.post(
        f"/v1/gestores/{gestor}/departure", json={"reason": "renuncia"}, headers=admin
    )
    assert resp.status_code == 200, resp.text
    case = resp.json()
    by_account = {a["account_id"]: a for a in case["accounts"]}
    assert set(by_account) == {active, ended, rotated_during, rotated_after}
    owed_accounts = {active, ended, rotated_during}
    assert {o["account_id"] for o in case["obligations"]} == owed_accounts
    assert by_account[rotated_after]["rotated_since_access_ended"] is True
    assert by_account[rotated_during]["rotated_since_access_ended"] is False
    assert by_account[active]["retrieved_since_rotation"] is True
    assert by_account[active]["last_retrieved_at"] is not None
    assert by_account[ended]["retrieved_since_rotation"] is False
    assert case["checkouts_closed"] == [checkout]
    assert case["seed_destroyed"] is True
    for obligation in case["obligations"]:
        assert obligation["reason"] == "gestor_departure"
        assert obligation["due_at"] == rfc3339(
            datetime.fromisoformat(case["effective_at"]) + timedelta(hours=24)
        )

    async with rt.sessions() as session:
        live = await session.scalars(
            select(Assignment).where(Assignment.gestor_id == gestor, Assignment.ended_at.is_(None))
        )
        assert list(live) == []
        closed = await session.get(Checkout, checkout)
        assert closed is not None and closed.close_reason == "gestor_departure"
        owed = await session.scalars(
            select(RotationObligation.account_id).where(RotationObligation.account_id.in_(accounts))
        )
        assert set(owed) == owed_accounts
        events = await session.scalars(
            select(AuditEvent.action).where(AuditEvent.subject == f"gestor:{gestor}")
        )
        assert {"gestor.departed", "gestor.totp_seed_destroyed"} <= set(events)

    again = await client.post(
        f"/v1/gestores/{gestor}/departure", json={"reason": "otra"}, headers=admin
    )
    assert again.status_code == 200 and again.json() == case
    read = await client.get(f"/v1/gestores/{gestor}/departure", headers=admin)
    assert read.json() == case


async def test_departure_refusals(
    client: Client, admin: dict[str, str], auditor: dict[str, str]
) -> None:
    rt = runtime_of(client)
    gestor = await seed_gestor(rt)
    unknown = await client.post(
        "/v1/gestores/00000000-0000-0000-0000-000000000000/departure",
        json={"reason": "baja"},
        headers=admin,
    )
    assert unknown.status_code == 404
    assert (
        await client.post(f"/v1/gestores/{gestor}/departure", json={"reason": "x"}, headers=auditor)
    ).status_code == 403
    future = rfc3339(rt.clock.now() + timedelta(days=2))
    for when in (future, "0001-01-01T00:00:00+01:00"):
        resp = await client.post(
            f"/v1/gestores/{gestor}/departure",
            json={"reason": "baja", "effective_at": when},
            headers=admin,
        )
        assert resp.status_code == 422, (when, resp.text)
    token = await gestor_headers(rt, gestor)
    assert (await client.get("/v1/rotations", headers=token)).status_code == 403


async def test_vault_failure_during_departure_leaves_no_half_done_state(
    make_client: AppFactory, client: Client, admin: dict[str, str]
) -> None:
    rt = runtime_of(client)
    gestor = await seed_gestor(rt)
    account = await seed_account(rt)
    await write_through_service(rt, account, "inicial")
    await assign(rt, account, gestor, at=rt.clock.now() - timedelta(days=1))
    await rt.vault.put_totp_seed(gestor, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    token = await gestor_headers(rt, gestor)
    # Same database, a Vault that is not there (a static token skips the login).
    broken = await make_client(
        vault_addr="http://127.0.0.1:9", vault_role_id=None, vault_secret_id=None, vault_token="x"
    )
    failed = await broken.post(
        f"/v1/gestores/{gestor}/departure", json={"reason": "baja"}, headers=admin
    )
    assert failed.status_code == 503, failed.text
    assert failed.json()["seed_destroyed"] is False
    # Access ended without waiting for Vault; the case file says what is left to do.
    assert (await client.get("/v1/rotations", headers=token)).status_code == 401
    pending = (await client.get(f"/v1/gestores/{gestor}/departure", headers=admin)).json()
    assert pending["seed_destroyed"] is False
    assert [o["account_id"] for o in pending["obligations"]] == [account]
    assert await rt.vault.get_totp_seed(gestor) is not None

    retried = await client.post(
        f"/v1/gestores/{gestor}/departure", json={"reason": "baja"}, headers=admin
    )
    assert retried.status_code == 200, retried.text
    done = retried.json()
    assert done["seed_destroyed"] is True
    assert {k: v for k, v in done.items() if not k.startswith("seed_")} == {
        k: v for k, v in pending.items() if not k.startswith("seed_")
    }
    assert await rt.vault.get_totp_seed(gestor) is None
    async with rt.sessions() as session:
        count = await session.scalars(
            select(RotationObligation.id).where(RotationObligation.account_id == account)
        )
        assert len(list(count)) == 1


async def test_a_departed_gestor_cannot_be_reassigned(
    client: Client, admin: dict[str, str]
) -> None:
    first, second = await api_account(client, admin), await api_account(client, admin)
    made = await client.post(
        "/v1/gestores",
        json={
            "name": "Gestora que se va",
            "email": "baja@example.gob.mx",
            "kind": "servidor_publico",
            "cargo": "Analista",
            "area": "Comunicación Social",
        },
        headers=admin,
    )
    gestor = made.json()["id"]
    for account in (first, second):
        resp = await client.post(
            f"/v1/accounts/{account}/gestores", json={"gestor_id": gestor}, headers=admin
        )
        assert resp.status_code == 201, resp.text
    case = await client.post(
        f"/v1/gestores/{gestor}/departure", json={"reason": "fin de contrato"}, headers=admin
    )
    assert case.status_code == 200, case.text
    assert {a["account_id"] for a in case.json()["accounts"]} == {first, second}
    for account in (first, second):
        again = await client.post(
            f"/v1/accounts/{account}/gestores", json={"gestor_id": gestor}, headers=admin
        )
        assert again.status_code == 409, again.text
    listed = await client.get(f"/v1/accounts/{first}/gestores", headers=admin)
    assert all(a["ended_at"] is not None for a in listed.json() if a["gestor_id"] == gestor)
