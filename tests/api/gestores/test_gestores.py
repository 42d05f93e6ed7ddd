"""Gestores: registration rules, tokens, assignments (departed, duplicate), unassignment."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pyotp
from sqlalchemy import select

from service.db.models import Gestor, RotationObligation
from tests.support.apps import AppFactory, Client, frozen, runtime_of
from tests.support.factories import (
    create_account,
    create_gestor,
    depart,
    gestor_token,
    seed_of,
)
from tests.support.reads import details, events, head_seq


async def test_kinds_need_cargo_or_provider(client: Client, admin: dict[str, str]) -> None:
    base = {"name": "Ana", "email": "ana@example.gob.mx", "area": "CS"}
    cases = [
        ({"kind": "servidor_publico"}, 422, "cargo"),
        ({"kind": "externo", "cargo": "x"}, 422, "provider"),
        ({"kind": "externo", "provider": "Agencia SA", "email": "not-an-email"}, 422, "email"),
        ({"kind": "externo", "provider": "Agencia SA", "email": "a b@x.mx"}, 422, "email"),
        ({"kind": "consultor", "provider": "x"}, 400, "kind"),
        ({"kind": "externo", "provider": "x" * 201}, 400, "provider"),
    ]
    for change, status, field in cases:
        resp = await client.post("/v1/gestores", json={**base, **change}, headers=admin)
        assert resp.status_code == status, (change, resp.text)
        assert field in resp.text
    external = await create_gestor(client, admin, kind="externo", provider="Agencia SA", cargo=None)
    got = (await client.get(f"/v1/gestores/{external}", headers=admin)).json()
    assert got["provider"] == "Agencia SA" and got["cargo"] is None and got["totp_state"] == "none"


async def test_gestor_token_assign_and_unassign(
    client: Client, admin: dict[str, str], auditor: dict[str, str]
) -> None:
    before = await head_seq(client)
    account_id = await create_account(client, admin)
    gestor_id = await create_gestor(client, admin)
    headers = await gestor_token(client, admin, gestor_id)
    # A gestor token is not an admin token.
    assert (await client.get("/v1/accounts", headers=headers)).status_code == 403
    path = f"/v1/accounts/{account_id}/gestores"
    first = await client.post(path, json={"gestor_id": gestor_id}, headers=admin)
    assert first.status_code == 201, first.text
    dup = await client.post(path, json={"gestor_id": gestor_id}, headers=admin)
    assert dup.status_code == 409
    listed = (await client.get(path, headers=auditor)).json()
    assert [a["gestor_id"] for a in listed] == [gestor_id]
    ended = await client.delete(f"{path}/{gestor_id}", headers=admin)
    assert ended.status_code == 204
    assert (await client.delete(f"{path}/{gestor_id}", headers=admin)).status_code == 404
    again = await client.post(path, json={"gestor_id": gestor_id}, headers=admin)
    assert again.status_code == 201
    actions = [e.action for e in await events(client, after=before, account_id=account_id)]
    assert actions[:3] == ["account.created", "gestor.assigned", "gestor.unassigned"]
    assert actions[-1] == "gestor.assigned"
    async with runtime_of(client).sessions() as session:
        obligation = (
            await session.scalars(
                select(RotationObligation).where(RotationObligation.account_id == account_id)
            )
        ).first()
    assert obligation is not None and obligation.reason == "gestor_unassigned"


async def test_departed_gestor_cannot_be_assigned_or_get_tokens(
    client: Client, admin: dict[str, str]
) -> None:
    account_id = await create_account(client, admin)
    gestor_id = await create_gestor(client, admin)
    await depart(client, admin, gestor_id)
    resp = await client.post(
        f"/v1/accounts/{account_id}/gestores", json={"gestor_id": gestor_id}, headers=admin
    )
    assert resp.status_code == 409
    token = await client.post(f"/v1/gestores/{gestor_id}/tokens", json={"name": "t"}, headers=admin)
    assert token.status_code == 409
    missing = await client.post(
        f"/v1/accounts/{account_id}/gestores", json={"gestor_id": "nope"}, headers=admin
    )
    assert missing.status_code == 404


async def test_totp_enrolment_confirm_and_reset(make_client: AppFactory) -> None:
    c, clock, admin = await frozen(make_client, datetime.now(UTC), "enrol-admin")
    gestor_id = await create_gestor(c, admin)
    headers = await gestor_token(c, admin, gestor_id)
    start = await head_seq(c)
    made = await c.post("/v1/me/totp/enrollment", headers=headers)
    assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
    uri = made.json()["otpauth_uri"]
    assert uri.startswith("otpauth://totp/Custodia:") and "issuer=Custodia" in uri
    assert made.json()["qr_svg"].startswith("<svg") and "</svg>" in made.json()["qr_svg"]
    seed = seed_of(uri)
    assert len(seed) >= 32  # 160 bits of base32
    # Each enrolment has its own seed path; SQL names it.
    async with runtime_of(c).sessions() as session:
        seed_id = await session.scalar(select(Gestor.totp_seed_id).where(Gestor.id == gestor_id))
    assert await runtime_of(c).vault.get_totp_seed(gestor_id, seed_id) == seed
    wrong = await c.post("/v1/me/totp/confirm", json={"code": "000000"}, headers=headers)
    assert wrong.status_code == 401
    code = pyotp.TOTP(seed).at(clock.now())
    ok = await c.post("/v1/me/totp/confirm", json={"code": code}, headers=headers)
    assert ok.status_code == 200 and ok.json() == {"totp_state": "active"}
    again = await c.post("/v1/me/totp/enrollment", headers=headers)
    assert again.status_code == 409
    me = (await c.get("/v1/me", headers=headers)).json()
    assert me["totp_state"] == "active"
    reset = await c.post(f"/v1/gestores/{gestor_id}/totp/reset", headers=admin)
    assert reset.status_code == 200 and reset.json()["totp_state"] == "none"
    assert await runtime_of(c).vault.get_totp_seed(gestor_id, seed_id) is None
    assert (
        await c.post(f"/v1/gestores/{gestor_id}/totp/reset", headers=headers)
    ).status_code == 403
    actions = [e.action for e in await events(c, after=start, subject=f"gestor:{gestor_id}")]
    assert actions == ["totp.enrolled", "totp.failed", "totp.confirmed", "totp.reset"]
    assert all(
        seed not in e.details and code not in e.details for e in await events(c, after=start)
    )


async def test_responsiva_is_shown_and_accepted(client: Client, admin: dict[str, str]) -> None:
    gestor_id = await create_gestor(client, admin)
    headers = await gestor_token(client, admin, gestor_id)
    shown = (await client.get("/v1/me/responsiva", headers=headers)).json()
    assert shown["accepted"] is False and "Décima quinta" in shown["text"]
    assert shown["sha256"] == hashlib.sha256(shown["text"].encode()).hexdigest()
    refused = await client.post("/v1/me/responsiva", json={"accept": False}, headers=headers)
    assert refused.status_code == 422
    accepted = await client.post("/v1/me/responsiva", json={"accept": True}, headers=headers)
    assert accepted.status_code == 200 and accepted.json()["accepted"] is True
    row = (await client.get(f"/v1/gestores/{gestor_id}", headers=admin)).json()
    assert row["responsiva_version"] == shown["version"] and row["responsiva_accepted_at"]
    found = await events(client, action="responsiva.accepted", subject=f"gestor:{gestor_id}")
    assert details(found[0])["sha256"] == shown["sha256"]
    assert (await client.get("/v1/me/responsiva", headers=admin)).status_code == 403
