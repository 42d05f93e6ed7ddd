"""Backup codes leave one at a time (issue 12, item 2): the holder asks, with a reason; the
audit event commits first; a closed checkout, a replaced set or an exhausted one releases
nothing; concurrent asks release distinct codes; OpenBao's log names the checkout."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

import service.uow
from service.audit.log import append
from service.domain.exposure import BACKUP_CODE_REVEALED
from tests.bao_server import DevServer
from tests.support.apps import AppFactory, frozen, runtime_of
from tests.support.backup_codes import CODES, WHY, check_out_now, holder, reveal
from tests.support.factories import account_with_credential, ready_gestor
from tests.support.reads import events, head_seq


async def test_codes_leave_one_at_a_time_each_audited(
    make_client: AppFactory, bao: DevServer
) -> None:
    c, clock, admin = await frozen(make_client)
    account_id, (gestor_id, headers, seed), granted = await holder(c, admin)
    # The checkout says how many are left, never which.
    assert "backup_codes" not in granted["credential"]
    assert granted["credential"]["backup_codes_left"] == 3
    assert granted["credential"]["password"] == "Clave-Inicial-1"
    checkout_id = granted["checkout_id"]
    before = await head_seq(c)
    released = []
    for expected in range(3):
        resp = await reveal(c, checkout_id, headers)
        assert resp.status_code == 200, resp.text
        assert resp.headers["cache-control"] == "no-store"
        body = resp.json()
        assert body == {
            "checkout_id": checkout_id,
            "credential_version": 1,
            "index": expected,
            "code": CODES[expected],
            "remaining": 2 - expected,
        }
        released.append(body["code"])
    assert released == CODES
    revealed = await events(c, after=before, action=BACKUP_CODE_REVEALED)
    assert [(e.outcome, e.reason, e.subject, e.actor) for e in revealed] == [
        ("ok", WHY, f"checkout:{checkout_id}", f"gestor:{gestor_id}")
    ] * 3
    assert [json.loads(e.details) for e in revealed] == [
        {"gestor_id": gestor_id, "credential_version": 1, "index": i, "remaining": 2 - i}
        for i in range(3)
    ]
    assert all(e.account_id == account_id for e in revealed)
    # All revealed: a clear 409, recorded, and no code in it.
    exhausted = await reveal(c, checkout_id, headers)
    assert exhausted.status_code == 409, exhausted.text
    assert "All 3 backup codes" in exhausted.json()["detail"]
    assert not any(code in exhausted.text for code in CODES)
    denied = await events(c, after=before, action=BACKUP_CODE_REVEALED, outcome="denied")
    assert [e.reason for e in denied] == ["exhausted"]
    # OpenBao's own audit log names the checkout of every read that released a code.
    reads = [
        entry
        for entry in map(json.loads, bao.audit_log_path.read_text("utf-8").splitlines())
        if entry.get("type") == "response"
        and entry["request"].get("path", "") == f"custodia-kv/data/accounts/{account_id}"
        and entry["request"].get("operation") == "read"
    ]
    metadata = [(e.get("auth") or {}).get("metadata") or {} for e in reads]
    assert [m.get("checkout_id") for m in metadata] == [checkout_id] * 5  # grant, 4 asks
    assert [m.get("purpose") for m in metadata].count("backup_code") == 4
    # Back in and out again: the set stays spent.
    assert (
        await c.post(f"/v1/checkouts/{checkout_id}/checkin", json={}, headers=headers)
    ).is_success
    closed = await reveal(c, checkout_id, headers)
    assert closed.status_code == 409 and "already closed" in closed.json()["detail"]
    clock.advance(timedelta(seconds=30))
    again = await check_out_now(c, account_id, headers, seed)
    assert again["credential"]["backup_codes_left"] == 0


async def test_only_the_holder_asks_and_a_reason_is_required(make_client: AppFactory) -> None:
    c, clock, admin = await frozen(make_client)
    account_id, (_, headers, _), granted = await holder(c, admin)
    checkout_id = granted["checkout_id"]
    _, other, _ = await ready_gestor(c, admin, account_id, clock.now())
    before = await head_seq(c)
    assert (await reveal(c, checkout_id, other)).status_code == 403
    assert (await reveal(c, checkout_id, admin)).status_code == 403
    assert (await reveal(c, "00000000-0000-0000-0000-000000000000", headers)).status_code == 404
    assert (await reveal(c, checkout_id, headers, reason="")).status_code == 400
    assert await events(c, after=before, action=BACKUP_CODE_REVEALED) == []


async def test_an_account_without_codes_has_none_to_give(make_client: AppFactory) -> None:
    c, _, admin = await frozen(make_client)
    account_id = await account_with_credential(c, admin)
    _, headers, seed = await ready_gestor(c, admin, account_id, runtime_of(c).clock.now())
    granted = await check_out_now(c, account_id, headers, seed)
    assert granted["credential"]["backup_codes_left"] is None
    resp = await reveal(c, granted["checkout_id"], headers)
    assert resp.status_code == 409 and "holds no backup codes" in resp.json()["detail"]


async def test_the_code_leaves_only_after_its_event_commits(
    make_client: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    c, _, admin = await frozen(make_client)
    _, (_, headers, _), granted = await holder(c, admin)

    async def failing(session: Any, caller: Any, entry: Any, clock: Any) -> Any:
        if entry.action == BACKUP_CODE_REVEALED:
            raise OperationalError("INSERT INTO audit_events", {}, Exception("disk full"))
        return await append(session, caller, entry, clock)

    monkeypatch.setattr(service.uow, "append", failing)
    failed = await reveal(c, granted["checkout_id"], headers)
    assert failed.status_code >= 500, failed.text
    assert not any(code in failed.text for code in CODES)
    monkeypatch.setattr(service.uow, "append", append)
    # Nothing was recorded, so nothing was spent: the same code is next.
    retried = await reveal(c, granted["checkout_id"], headers)
    assert retried.status_code == 200 and retried.json()["index"] == 0


async def test_a_checkout_closed_during_the_vault_read_releases_nothing(
    make_client: AppFactory,
) -> None:
    c, _, admin = await frozen(make_client)
    account_id, (gestor_id, headers, _), granted = await holder(c, admin)
    rt = runtime_of(c)
    original = rt.vault.checkout_read

    async def unassigned_meanwhile(*args: Any, **kwargs: Any) -> Any:
        found = await original(*args, **kwargs)
        gone = await c.delete(f"/v1/accounts/{account_id}/gestores/{gestor_id}", headers=admin)
        assert gone.status_code in (200, 204), gone.text
        return found

    rt.vault.checkout_read = unassigned_meanwhile  # type: ignore[method-assign]
    before = await head_seq(c)
    try:
        resp = await reveal(c, granted["checkout_id"], headers)
    finally:
        rt.vault.checkout_read = original  # type: ignore[method-assign]
    assert resp.status_code == 409, resp.text
    assert not any(code in resp.text for code in CODES)
    found = await events(c, after=before, action=BACKUP_CODE_REVEALED)
    assert [(e.outcome, e.reason) for e in found] == [("denied", "closed_meanwhile")]
    assert json.loads(found[0].details) == {"closed_by": "gestor_unassigned"}
    # No code reached them, so the unassignment owes only the password.
    owed = (await c.get(f"/v1/rotations?account_id={account_id}", headers=admin)).json()
    assert [o["requires"] for o in owed] == [["password"]]


async def test_codes_replaced_after_the_grant_are_not_released(make_client: AppFactory) -> None:
    c, _, admin = await frozen(make_client)
    account_id, (_, headers, _), granted = await holder(c, admin)
    # A merge: new codes and password, the platform seed carried over.
    put = await c.patch(
        f"/v1/accounts/{account_id}/credential",
        json={"username": "oficial", "password": "Clave-Nueva-2", "backup_codes": ["NUEVO-1"]},
        headers=admin,
    )
    assert put.status_code == 200 and put.json()["version"] == 2, put.text
    resp = await reveal(c, granted["checkout_id"], headers)
    assert resp.status_code == 409 and "replaced after this checkout" in resp.json()["detail"]
    assert "NUEVO-1" not in resp.text and not any(code in resp.text for code in CODES)


async def test_concurrent_asks_release_distinct_codes(make_client: AppFactory) -> None:
    c, _, admin = await frozen(make_client)
    _, (_, headers, _), granted = await holder(c, admin)
    answers = await asyncio.gather(*(reveal(c, granted["checkout_id"], headers) for _ in range(4)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200, 200, 200, 409], [r.text for r in answers]
    indexes = sorted(r.json()["index"] for r in answers if r.status_code == 200)
    assert indexes == [0, 1, 2]


async def test_an_expired_checkout_releases_nothing(make_client: AppFactory) -> None:
    c, clock, admin = await frozen(make_client)
    _, (_, headers, _), granted = await holder(c, admin)
    clock.advance(timedelta(minutes=31))
    resp = await reveal(c, granted["checkout_id"], headers)
    assert resp.status_code == 409 and "expired" in resp.json()["detail"]
    expires_at = datetime.fromisoformat(granted["expires_at"])
    assert clock.now() > expires_at
