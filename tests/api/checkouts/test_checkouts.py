"""Checkout and check-in: the full cycle, every refusal with its status and audit event,
replay across a restart, exclusivity under concurrency, fail-closed Vault, expiry."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import func, select

from service.checkouts.expiry import expiry_round
from service.clock import FrozenClock
from service.db.models import Checkout, CredentialVersion, Gestor, RotationObligation
from tests.bao_server import DevServer
from tests.support.apps import VAULT_DOWN, AppFactory, Client, frozen, runtime_of
from tests.support.factories import (
    accept_responsiva,
    account_with_credential,
    assign,
    check_out,
    checkout_body,
    code_at,
    create_gestor,
    enrol,
    gestor_token,
    managed_account,
    ready_gestor,
)
from tests.support.reads import events, head_seq

PLATFORM_SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


async def refusal(c: Client, after: int, reason: str) -> None:
    found = await events(c, after=after, action="checkout.refused", reason=reason)
    assert len(found) == 1, [(e.action, e.reason) for e in await events(c, after=after)]


async def test_full_cycle(make_client: AppFactory) -> None:
    c, clock, admin = await frozen(make_client)
    account_id = await account_with_credential(
        c, admin, totp_secret=PLATFORM_SEED, backup_codes=["1111-2222"]
    )
    gestor_id, headers, seed = await ready_gestor(c, admin, account_id, clock.now())
    before = await head_seq(c)
    resp = await c.post(
        f"/v1/accounts/{account_id}/checkouts",
        json=checkout_body(pyotp.TOTP(seed).at(clock.now())),
        headers=headers,
    )
    assert resp.status_code == 201, resp.text
    assert resp.headers["cache-control"] == "no-store"
    body = resp.json()
    assert body["credential"]["password"] == "Clave-Inicial-1"
    # Backup codes leave one at a time (tests/test_backup_codes.py): only their count here.
    assert "backup_codes" not in body["credential"]
    assert body["credential"]["backup_codes_left"] == 1
    assert body["platform_totp"]["code"] == pyotp.TOTP(PLATFORM_SEED).at(clock.now())
    assert 1 <= body["platform_totp"]["valid_for_seconds"] <= 30
    assert body["rotation_required"] is False
    assert body["expires_at"].startswith(
        (clock.now() + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M")
    )
    granted = await events(c, after=before, action="checkout.granted")
    assert [e.subject for e in granted] == [f"checkout:{body['checkout_id']}"]
    assert "Clave" not in granted[0].details
    listed = await c.get(f"/v1/checkouts?active=true&account_id={account_id}", headers=admin)
    assert [r["id"] for r in listed.json()] == [body["checkout_id"]]
    # During the checkout the holder may write a new version (a merge keeps the 2FA seed).
    put = await c.patch(
        f"/v1/accounts/{account_id}/credential",
        json={"username": "oficial", "password": "Clave-Del-Gestor-2"},
        headers=headers,
    )
    assert put.status_code == 200 and put.json()["version"] == 2
    async with runtime_of(c).sessions() as session:
        row = await session.get(CredentialVersion, (account_id, 2))
    assert row is not None and row.checkout_id == body["checkout_id"]
    assert row.written_by == f"gestor:{gestor_id}" and row.written_by_role == "gestor"
    back = await c.post(f"/v1/checkouts/{body['checkout_id']}/checkin", json={}, headers=headers)
    assert back.status_code == 200, back.text
    assert back.json()["close_reason"] == "checked_in"
    again = await c.post(f"/v1/checkouts/{body['checkout_id']}/checkin", json={}, headers=headers)
    assert again.status_code == 409
    actions = [e.action for e in await events(c, after=before, account_id=account_id)]
    assert actions == [
        "checkout.granted",
        "credential.write_started",
        "credential.written",
        "checkout.checked_in",
    ]
    # Without further writes, the gestor cannot write once checked in.
    late = await c.put(
        f"/v1/accounts/{account_id}/credential",
        json={"username": "oficial", "password": "Clave-Tarde-3"},
        headers=headers,
    )
    assert late.status_code == 403


async def test_each_refusal_in_order(make_client: AppFactory) -> None:
    c, clock, admin = await frozen(make_client)
    account_id = await account_with_credential(c, admin)
    path = f"/v1/accounts/{account_id}/checkouts"
    gestor_id = await create_gestor(c, admin)
    headers = await gestor_token(c, admin, gestor_id)
    start = await head_seq(c)

    # 1. role
    assert (await c.post(path, json=checkout_body("123456"), headers=admin)).status_code == 403
    await refusal(c, start, "role")
    # 2. account exists, not retired
    missing = await c.post("/v1/accounts/nope/checkouts", json=checkout_body("1"), headers=headers)
    assert missing.status_code == 404
    await refusal(c, start, "account_not_found")
    retired_id = await account_with_credential(c, admin)
    await c.post(f"/v1/accounts/{retired_id}/retire", headers=admin)
    retired = await c.post(
        f"/v1/accounts/{retired_id}/checkouts", json=checkout_body("1"), headers=headers
    )
    assert retired.status_code == 409
    await refusal(c, start, "account_retired")
    # 3. assigned
    assert (await c.post(path, json=checkout_body("1"), headers=headers)).status_code == 403
    await refusal(c, start, "not_assigned")
    await assign(c, admin, account_id, gestor_id)
    # 4. responsiva
    assert (await c.post(path, json=checkout_body("1"), headers=headers)).status_code == 403
    await refusal(c, start, "responsiva_not_accepted")
    await accept_responsiva(c, headers)
    # 5. TOTP enrolled
    assert (await c.post(path, json=checkout_body("1"), headers=headers)).status_code == 403
    await refusal(c, start, "totp_not_enrolled")
    seed = await enrol(c, headers, clock.now())
    # 7. TOTP valid: four wrong codes, then the fifth locks
    for attempt in range(5):
        wrong = await c.post(path, json=checkout_body("000000"), headers=headers)
        assert wrong.status_code == 401, (attempt, wrong.text)
    assert len(await events(c, after=start, action="checkout.refused", reason="invalid_totp")) == 5
    assert len(await events(c, after=start, action="totp.locked")) == 1
    # 6. lockout: even the right code waits, with Retry-After
    good = pyotp.TOTP(seed).at(clock.now())
    locked = await c.post(path, json=checkout_body(good), headers=headers)
    assert locked.status_code == 423 and int(locked.headers["retry-after"]) == 15 * 60
    await refusal(c, start, "locked")
    clock.advance(timedelta(minutes=15, seconds=1))
    # 8. exclusivity: another gestor holds it
    _, other, other_seed = await ready_gestor(c, admin, account_id, clock.now())
    held = await c.post(
        path, json=checkout_body(pyotp.TOTP(other_seed).at(clock.now())), headers=other
    )
    assert held.status_code == 201, held.text
    busy = await c.post(path, json=checkout_body(pyotp.TOTP(seed).at(clock.now())), headers=headers)
    assert busy.status_code == 409
    until = datetime.fromisoformat(busy.json()["until"].replace("Z", "+00:00"))
    assert until == datetime.fromisoformat(held.json()["expires_at"].replace("Z", "+00:00"))
    assert "Clave" not in busy.text
    await refusal(c, start, "exclusive")
    # A success resets the failure count.
    async with runtime_of(c).sessions() as session:
        row = await session.get(Gestor, gestor_id)
    assert row is not None and row.totp_failures == 0


async def test_vault_failures_release_nothing(make_client: AppFactory, bao: DevServer) -> None:
    c, clock, admin = await frozen(make_client)
    account_id = await account_with_credential(c, admin)
    _, headers, seed = await ready_gestor(c, admin, account_id, clock.now())
    # 9. Vault fails after the checkout committed: the child-token role is missing.
    broken = await make_client(clock=clock, vault_checkout_role="no-such-role")
    start = await head_seq(c)
    resp = await broken.post(
        f"/v1/accounts/{account_id}/checkouts",
        json=checkout_body(pyotp.TOTP(seed).at(clock.now())),
        headers=headers,
    )
    assert resp.status_code == 503, resp.text
    assert "Clave" not in resp.text
    actions = [(e.action, e.outcome, e.reason) for e in await events(c, after=start)]
    assert actions == [
        ("checkout.granted", "granted", "publicar comunicado"),
        ("checkout.failed", "error", "vault_error"),
    ]
    async with runtime_of(c).sessions() as session:
        rows = list(
            await session.scalars(select(Checkout).where(Checkout.account_id == account_id))
        )
    assert [r.close_reason for r in rows] == ["vault_error"]
    # Vault unreachable before the grant: refused, audited, 503.
    down = await make_client(clock=clock, **VAULT_DOWN)
    clock.advance(timedelta(seconds=30))
    resp = await down.post(
        f"/v1/accounts/{account_id}/checkouts",
        json=checkout_body(pyotp.TOTP(seed).at(clock.now())),
        headers=headers,
    )
    assert resp.status_code == 503
    await refusal(c, start, "vault_unavailable")


async def test_replay_refused_even_after_restart(make_client: AppFactory) -> None:
    c, clock, admin = await frozen(make_client)
    account_id = await account_with_credential(c, admin)
    _, headers, seed = await ready_gestor(c, admin, account_id, clock.now())
    code = pyotp.TOTP(seed).at(clock.now())
    path = f"/v1/accounts/{account_id}/checkouts"
    first = await check_out(c, account_id, headers, code)
    back = await c.post(f"/v1/checkouts/{first}/checkin", json={}, headers=headers)
    assert back.status_code == 200
    start = await head_seq(c)
    assert (await c.post(path, json=checkout_body(code), headers=headers)).status_code == 401
    restarted = await make_client(clock=FrozenClock(clock.now() + timedelta(seconds=20)))
    assert (
        await restarted.post(path, json=checkout_body(code), headers=headers)
    ).status_code == 401
    assert len(await events(c, after=start, action="totp.replayed")) == 2
    assert len(await events(c, after=start, action="checkout.refused", reason="totp_replayed")) == 2
    # The next step's code is fresh.
    fresh = pyotp.TOTP(seed).at(clock.now() + timedelta(seconds=30))
    assert (await c.post(path, json=checkout_body(fresh), headers=headers)).status_code == 201


async def test_twenty_concurrent_checkouts_yield_one(make_client: AppFactory) -> None:
    c, clock, admin = await frozen(make_client)
    account_id = await account_with_credential(c, admin)
    ready = [await ready_gestor(c, admin, account_id, clock.now()) for _ in range(20)]
    path = f"/v1/accounts/{account_id}/checkouts"
    responses = await asyncio.gather(
        *(
            c.post(path, json=checkout_body(pyotp.TOTP(seed).at(clock.now())), headers=headers)
            for _, headers, seed in ready
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 19, [
        r.text for r in responses if r.status_code not in (201, 409)
    ]
    async with runtime_of(c).sessions() as session:
        open_rows = await session.scalar(
            select(func.count())
            .select_from(Checkout)
            .where(Checkout.account_id == account_id, Checkout.closed_at.is_(None))
        )
    assert open_rows == 1
    assert len(await events(c, account_id=account_id, action="checkout.granted")) == 1
    assert len(await events(c, account_id=account_id, reason="exclusive")) == 19


async def test_rotation_required_makes_new_credential_mandatory(make_client: AppFactory) -> None:
    c, clock, admin = await frozen(make_client)
    account_id = await account_with_credential(c, admin)
    leaving, _, _ = await ready_gestor(c, admin, account_id, clock.now())
    _, headers, seed = await ready_gestor(c, admin, account_id, clock.now())
    ended = await c.delete(f"/v1/accounts/{account_id}/gestores/{leaving}", headers=admin)
    assert ended.status_code == 204
    resp = await c.post(
        f"/v1/accounts/{account_id}/checkouts",
        json=checkout_body(pyotp.TOTP(seed).at(clock.now())),
        headers=headers,
    )
    assert resp.status_code == 201 and resp.json()["rotation_required"] is True
    checkin = f"/v1/checkouts/{resp.json()['checkout_id']}/checkin"
    start = await head_seq(c)
    refused = await c.post(checkin, json={}, headers=headers)
    assert refused.status_code == 422 and "new_credential" in refused.text
    assert len(await events(c, after=start, action="checkout.checkin_refused")) == 1
    same = await c.post(
        checkin,
        json={"new_credential": {"username": "oficial", "password": "Clave-Inicial-1"}},
        headers=headers,
    )
    assert same.status_code == 422
    bad = await c.post(
        checkin,
        json={
            "new_credential": {
                "username": "oficial",
                "password": "N",
                "recovery_email": "no-es-correo",
            }
        },
        headers=headers,
    )
    assert bad.status_code == 422
    done = await c.post(
        checkin,
        json={"new_credential": {"username": "oficial", "password": "Clave-Rotada-9"}},
        headers=headers,
    )
    assert done.status_code == 200, done.text
    assert done.json()["new_version"] == 2 and done.json()["close_reason"] == "checked_in"
    actions = [e.action for e in await events(c, after=start, account_id=account_id)]
    assert actions[-3:] == ["credential.written", "rotation.satisfied", "checkout.checked_in"]
    async with runtime_of(c).sessions() as session:
        version = await session.get(CredentialVersion, (account_id, 2))
        open_obligations = await session.scalar(
            select(func.count())
            .select_from(RotationObligation)
            .where(
                RotationObligation.account_id == account_id,
                RotationObligation.satisfied_at.is_(None),
            )
        )
    assert version is not None and version.is_rotation and version.reason == "rotation at check-in"
    assert version.checkout_id == resp.json()["checkout_id"] and open_obligations == 0


async def test_expired_checkouts_close_by_themselves(make_client: AppFactory) -> None:
    c, clock, admin = await frozen(make_client)
    account_id = await account_with_credential(c, admin)
    _, headers, seed = await ready_gestor(c, admin, account_id, clock.now())
    first = await check_out(c, account_id, headers, code_at(seed, clock.now()), minutes=1)
    clock.advance(timedelta(minutes=2))
    late = await c.post(f"/v1/checkouts/{first}/checkin", json={}, headers=headers)
    assert late.status_code == 409 and "expired" in late.json()["detail"]
    expired = await events(c, account_id=account_id, action="checkout.expired")
    assert [e.subject for e in expired] == [f"checkout:{first}"]
    assert expired[0].actor == "system"
    await check_out(c, account_id, headers, code_at(seed, clock.now()), minutes=1)
    clock.advance(timedelta(minutes=2))
    await expiry_round(runtime_of(c))
    rows = (await c.get(f"/v1/checkouts?account_id={account_id}", headers=admin)).json()
    assert [r["close_reason"] for r in rows] == ["expired", "expired"]
    assert len(await events(c, account_id=account_id, action="checkout.expired")) == 2


async def test_bad_checkout_input_changes_nothing(make_client: AppFactory) -> None:
    c, clock, admin = await frozen(make_client)
    account_id = await account_with_credential(c, admin)
    _, headers, seed = await ready_gestor(c, admin, account_id, clock.now())
    code = pyotp.TOTP(seed).at(clock.now())
    path = f"/v1/accounts/{account_id}/checkouts"
    start = await head_seq(c)
    for extra, field in (
        ({"minutes": 0}, "minutes"),
        ({"minutes": 481}, "minutes"),
        ({"extra": 1}, "extra"),
        ({"reason": ""}, "reason"),
        ({"reason": "r" * 501}, "reason"),
    ):
        resp = await c.post(path, json=checkout_body(code, **extra), headers=headers)
        assert resp.status_code == 400, (extra, resp.text)
        assert field in resp.json()["detail"] and code not in resp.text
    assert await events(c, after=start) == []
    # The code was never consumed.
    assert (await c.post(path, json=checkout_body(code), headers=headers)).status_code == 201
    listed = (await c.get("/v1/checkouts?gestor_id=nobody", headers=admin)).json()
    assert listed == []
    assert (await c.get("/v1/checkouts?limit=0", headers=admin)).status_code == 400
    assert (await c.get("/v1/checkouts", headers=headers)).status_code == 403


async def test_openbao_audit_names_each_checkout(make_client: AppFactory, bao: DevServer) -> None:
    c, clock, admin = await frozen(make_client)
    account_id = await account_with_credential(c, admin)
    _, headers, seed = await ready_gestor(c, admin, account_id, clock.now())
    ids = []
    for offset in (0, 30):
        at = clock.now() + timedelta(seconds=offset)
        ids.append(await check_out(c, account_id, headers, code_at(seed, at)))
        await c.post(f"/v1/checkouts/{ids[-1]}/checkin", json={}, headers=headers)
    reads: dict[str, int] = {}
    for line in bao.audit_log_path.read_text().splitlines():
        entry = json.loads(line)
        meta = (entry.get("auth") or {}).get("metadata") or {}
        path = (entry.get("request") or {}).get("path", "")
        mine = path == f"custodia-kv/data/accounts/{account_id}"
        if entry.get("type") == "response" and mine and meta.get("checkout_id"):
            assert meta["account_id"] == account_id and meta["gestor_id"]
            reads[meta["checkout_id"]] = reads.get(meta["checkout_id"], 0) + 1
    assert sorted(reads) == sorted(ids) and all(n == 1 for n in reads.values())


async def test_audit_events_filters_and_keyset(
    client: Client, admin: dict[str, str], auditor: dict[str, str]
) -> None:
    account_id = await account_with_credential(client, admin)
    gestor = await gestor_token(client, admin, await create_gestor(client, admin))
    refused = await client.post(
        f"/v1/accounts/{account_id}/checkouts", json=checkout_body("123456"), headers=gestor
    )
    assert refused.status_code == 403
    resp = await client.get(f"/v1/audit/events?account_id={account_id}", headers=auditor)
    assert resp.status_code == 200, resp.text
    page = resp.json()
    actions = [e["action"] for e in page["events"]]
    assert actions == [
        "account.created",
        "credential.write_started",
        "credential.written",
        "checkout.refused",
    ]
    assert page["next_after_seq"] is None
    seqs = [e["seq"] for e in page["events"]]
    assert seqs == sorted(seqs) and page["events"][3]["reason"] == "not_assigned"
    assert page["events"][1]["details"]["version"] == page["events"][2]["details"]["version"] == 1
    denied = await client.get(
        f"/v1/audit/events?account_id={account_id}&outcome=denied&action=checkout.refused",
        headers=admin,
    )
    assert [e["seq"] for e in denied.json()["events"]] == [seqs[3]]
    first = (
        await client.get(f"/v1/audit/events?account_id={account_id}&limit=1", headers=auditor)
    ).json()
    assert [e["seq"] for e in first["events"]] == [seqs[0]] and first["next_after_seq"] == seqs[0]
    rest = await client.get(
        f"/v1/audit/events?account_id={account_id}&limit=2&after_seq={first['next_after_seq']}",
        headers=auditor,
    )
    assert [e["seq"] for e in rest.json()["events"]] == seqs[1:3]
    ts = page["events"][2]["ts"]
    window = await client.get(
        "/v1/audit/events",
        params={"account_id": account_id, "since": ts, "until": "2999-01-01T00:00:00Z"},
        headers=auditor,
    )
    assert [e["seq"] for e in window.json()["events"]] == seqs[2:]
    closed = await client.get(
        "/v1/audit/events",
        params={"account_id": account_id, "since": ts, "until": page["events"][3]["ts"]},
        headers=auditor,
    )
    assert [e["seq"] for e in closed.json()["events"]] == [seqs[2]]
    empty = await client.get(
        "/v1/audit/events",
        params={"since": "2000-01-01T00:00:00Z", "until": "2000-01-02T00:00:00Z"},
        headers=auditor,
    )
    assert empty.json()["events"] == []
    for bad in (
        "outcome=maybe",
        "action=checkout.stolen",
        "since=ayer",
        "since=2026-01-01",
        "limit=0",
        "limit=1001",
        "after_seq=-1",
        "after_seq=9223372036854775808",
        "since=0001-01-01T00:00:00%2B01:00",
        "since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z",
    ):
        resp = await client.get(f"/v1/audit/events?{bad}", headers=auditor)
        assert resp.status_code == 400, (bad, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
    assert (await client.get("/v1/audit/events", headers=gestor)).status_code == 403
    queried = await events(client, action="audit.queried")
    mine = [json.loads(e.details) for e in queried if e.actor_role == "auditor"]
    assert {"account_id": account_id, "after_seq": 0, "limit": 100, "count": 4} in mine


async def test_overlong_ids_in_urls_are_refused_and_audited(
    client: Client, admin: dict[str, str], auditor: dict[str, str]
) -> None:
    gestor_id = await create_gestor(client, admin)
    headers = await gestor_token(client, admin, gestor_id)
    long_id = "a" * 300
    before = await head_seq(client)
    resp = await client.post(
        f"/v1/accounts/{long_id}/checkouts", json=checkout_body("123456"), headers=headers
    )
    assert resp.status_code == 404, resp.text
    recorded = await events(client, after=before, action="checkout.refused")
    assert [e.account_id for e in recorded] == [None]
    assert json.loads(recorded[0].details)["account_ref"] == long_id[:100]
    assert (await client.get(f"/v1/accounts/{long_id}", headers=auditor)).status_code == 404


async def test_personal_account_leaves_custody_when_the_term_ends(make_client: AppFactory) -> None:
    """Décima novena: held only while its owner is in office; afterwards 409, nothing read."""
    c, clock, admin = await frozen(make_client)
    last_day = clock.now().date() + timedelta(days=1)
    account_id = await managed_account(c, admin, versions=1, term_ends_on=last_day)
    _, headers, seed = await ready_gestor(c, admin, account_id, clock.now())
    path = f"/v1/accounts/{account_id}/checkouts"
    clock.advance(timedelta(days=2))
    start = await head_seq(c)
    resp = await c.post(path, json=checkout_body(pyotp.TOTP(seed).at(clock.now())), headers=headers)
    assert resp.status_code == 409, resp.text
    assert "Décima novena" in resp.json()["detail"] and "Clave" not in resp.text
    await refusal(c, start, "not_in_custody")
    assert not await events(c, after=start, action="checkout.granted")
