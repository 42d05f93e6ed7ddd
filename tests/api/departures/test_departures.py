"""Departures (Décima quinta): access ends at once, rotations owed, a case file answered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from service.clock import rfc3339
from service.db.models import Assignment, AuditEvent, Checkout, RotationObligation
from tests.support.apps import VAULT_DOWN, AppFactory, Client, frozen, runtime_of
from tests.support.factories import (
    account_with_credential,
    assign,
    create_account,
    create_gestor,
    depart,
    gestor_token,
    insert_assignment,
    insert_backdated_checkout,
    put_credential,
)


async def test_departed_gestor_tokens_are_refused_within_the_same_second(
    make_client: AppFactory,
) -> None:
    client, _, admin = await frozen(make_client, datetime.now(UTC), "departures")
    gestor = await create_gestor(client, admin)
    token = await gestor_token(client, admin, gestor)
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
    gestor = await create_gestor(client, admin)
    accounts = [await account_with_credential(client, admin, "inicial") for _ in range(5)]
    active, ended, rotated_during, rotated_after, _never_assigned = accounts
    # Periods a month long, two of them ended two days ago: only rows can be dated so.
    month_ago, two_days_ago = now - timedelta(days=30), now - timedelta(days=2)
    await insert_assignment(rt, active, gestor, at=month_ago)
    await insert_assignment(rt, ended, gestor, at=month_ago, ended_at=two_days_ago)
    await insert_assignment(rt, rotated_during, gestor, at=month_ago)
    await insert_assignment(rt, rotated_after, gestor, at=month_ago, ended_at=two_days_ago)
    # Rotated while the gestor could still read it: they know it, so it is owed.
    await put_credential(client, admin, rotated_during, "rotada")
    # Rotated after their access ended: the gestor never saw it, nothing owed.
    await put_credential(client, admin, rotated_after, "rotada")
    checkout = await insert_backdated_checkout(rt, active, gestor, at=now - timedelta(minutes=5))

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
    gestor = await create_gestor(client, admin)
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
    token = await gestor_token(client, admin, gestor)
    assert (await client.get("/v1/rotations", headers=token)).status_code == 403


async def test_vault_failure_during_departure_leaves_no_half_done_state(
    make_client: AppFactory, client: Client, admin: dict[str, str]
) -> None:
    rt = runtime_of(client)
    gestor = await create_gestor(client, admin)
    account = await account_with_credential(client, admin, "inicial")
    await assign(client, admin, account, gestor)
    await rt.vault.put_totp_seed(gestor, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    token = await gestor_token(client, admin, gestor)
    # Same database, a Vault that is not there.
    broken = await make_client(**VAULT_DOWN)
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
    first, second = await create_account(client, admin), await create_account(client, admin)
    gestor = await create_gestor(
        client, admin, name="Gestora que se va", email="baja@example.gob.mx", cargo="Analista"
    )
    for account in (first, second):
        await assign(client, admin, account, gestor)
    case = await depart(client, admin, gestor, "fin de contrato")
    assert {a["account_id"] for a in case["accounts"]} == {first, second}
    for account in (first, second):
        again = await client.post(
            f"/v1/accounts/{account}/gestores", json={"gestor_id": gestor}, headers=admin
        )
        assert again.status_code == 409, again.text
    listed = await client.get(f"/v1/accounts/{first}/gestores", headers=admin)
    assert all(a["ended_at"] is not None for a in listed.json() if a["gestor_id"] == gestor)
