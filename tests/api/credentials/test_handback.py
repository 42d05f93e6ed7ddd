"""Hand-back (Décima novena): an account that leaves custody loses its credential, on record."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pyotp
from sqlalchemy import select

from service.credentials.handback import hand_back_round
from service.db.models import Account, Checkout
from tests.bao_server import DevServer
from tests.support.apps import VAULT_DOWN, AppFactory, Client, bearer, runtime_of
from tests.support.factories import (
    account_with_credential,
    check_out,
    code_at,
    create_account,
    frozen_on_last_day,
    last_day,
    managed_account,
    ready_gestor,
    unmanaged_personal_account,
)
from tests.support.reads import details, events, head_seq


async def in_vault(bao: DevServer, account_id: str) -> bool:
    """Whether Vault has any trace of the credential, read with the root token."""
    async with httpx.AsyncClient(base_url=f"{bao.addr}/v1/custodia-kv/") as vault:
        resp = await vault.get(
            f"metadata/accounts/{account_id}", headers={"X-Vault-Token": bao.root_token}
        )
    assert resp.status_code in (200, 404), resp.text
    return resp.status_code == 200


async def account_row(c: Client, account_id: str) -> Account:
    async with runtime_of(c).sessions() as session:
        row = await session.get(Account, account_id)
    assert row is not None
    return row


async def test_the_job_hands_back_an_account_whose_term_ended(
    make_client: AppFactory, bao: DevServer
) -> None:
    c, clock, admin = await frozen_on_last_day(make_client)
    account_id = await managed_account(c, admin)
    official = await account_with_credential(c, admin, "Clave-Oficial-1")
    _, headers, seed = await ready_gestor(c, admin, account_id, clock.now())
    path = f"/v1/accounts/{account_id}/checkouts"
    checkout_id = await check_out(c, account_id, headers, code_at(seed, clock.now()))

    rt = runtime_of(c)
    await hand_back_round(rt)  # still the last day in office: nothing leaves
    assert (await account_row(c, account_id)).credential_version == 2
    assert await in_vault(bao, account_id)

    clock.advance(timedelta(minutes=15))  # past midnight: the term ended yesterday
    before = await head_seq(c)
    await hand_back_round(rt)

    assert not await in_vault(bao, account_id)
    row = await account_row(c, account_id)
    assert (row.credential_version, row.credential_created_time) == (None, None)
    [back] = await events(c, after=before, account_id=account_id, action="credential.handed_back")
    assert (back.actor, back.outcome, back.reason) == ("system", "ok", "term_ended")
    assert details(back)["last_version"] == 2
    assert details(back)["versions_kept"] == 2
    assert details(back)["checkouts_closed"] == [checkout_id]
    assert details(back)["numerals"] == ["Segunda III", "Décima novena"]
    [closed] = await events(c, after=before, action="checkout.force_closed", account_id=account_id)
    assert (closed.subject, closed.reason) == (f"checkout:{checkout_id}", "left_custody")
    assert closed.seq < back.seq
    [done] = await events(c, after=before, account_id=account_id, action="credential.destroyed")
    assert done.outcome == "ok" and details(done)["handed_back_seq"] == back.seq
    async with rt.sessions() as session:
        checkout = await session.get(Checkout, checkout_id)
    assert checkout is not None and checkout.close_reason == "left_custody"

    # The record stays: SQL's history of versions, and the hand-back on demand.
    versions = await c.get(f"/v1/accounts/{account_id}/credential/versions", headers=admin)
    assert [(v["version"], v["recorded"]) for v in versions.json()] == [(1, True), (2, True)]
    again = await c.post(f"/v1/accounts/{account_id}/credential/hand-back", headers=admin)
    assert again.status_code == 200, again.text
    assert again.json()["vault_destroyed"] is True
    assert again.json()["last_version"] == 2 and again.json()["reason"] == "term_ended"

    # A later checkout is refused and nothing is read.
    start = await head_seq(c)
    body = {"totp_code": pyotp.TOTP(seed).at(clock.now()), "reason": "publicar"}
    refused = await c.post(path, json=body, headers=headers)
    assert refused.status_code == 409, refused.text
    assert not await events(c, after=start, action="checkout.granted")

    # The official account is untouched, and a second round changes nothing.
    assert (await account_row(c, official)).credential_version == 1
    assert await in_vault(bao, official)
    after = await head_seq(c)
    await hand_back_round(rt)
    assert not await events(c, after=after, action="credential.handed_back")
    assert not await events(c, after=before, account_id=official)


async def test_vault_down_during_the_job_commits_sql_and_the_retry_destroys(
    make_client: AppFactory, bao: DevServer
) -> None:
    c, clock, admin = await frozen_on_last_day(make_client)
    account_id = await managed_account(c, admin, versions=1)
    broken = await make_client(clock=clock, **VAULT_DOWN)
    clock.advance(timedelta(minutes=15))
    before = await head_seq(c)
    await hand_back_round(runtime_of(broken))

    # Custody ended in SQL; the Vault copy is still owed.
    assert (await account_row(c, account_id)).credential_version is None
    backs = await events(c, after=before, account_id=account_id, action="credential.handed_back")
    assert len(backs) == 1
    assert await in_vault(bao, account_id)
    failures = await events(c, after=before, action="credential.destroyed")
    # Vault down for one is down for all: one attempt per round.
    assert [(e.outcome, details(e)["error"]) for e in failures] == [("error", "Vault unavailable")]
    await hand_back_round(runtime_of(c))
    assert not await in_vault(bao, account_id)
    done = await events(c, after=before, account_id=account_id, action="credential.destroyed")
    assert [e.outcome for e in done if e.outcome == "ok"] == ["ok"]
    assert details(done[-1])["handed_back_seq"] == backs[0].seq
    # A later round finds nothing owed.
    after = await head_seq(c)
    await hand_back_round(runtime_of(c))
    assert not await events(c, after=after, account_id=account_id)


async def test_the_endpoint_while_vault_is_down_answers_503_then_finishes(
    make_client: AppFactory, bao: DevServer
) -> None:
    c, clock, admin = await frozen_on_last_day(make_client)
    account_id = await managed_account(c, admin, versions=1)
    broken = await make_client(clock=clock, **VAULT_DOWN)
    clock.advance(timedelta(minutes=15))
    path = f"/v1/accounts/{account_id}/credential/hand-back"
    failed = await broken.post(path, headers=admin)
    assert failed.status_code == 503, failed.text
    assert failed.json()["vault_destroyed"] is False
    assert (await account_row(c, account_id)).credential_version is None
    assert await in_vault(bao, account_id)

    retried = await c.post(path, headers=admin)
    assert retried.status_code == 200, retried.text
    out = retried.json()
    assert out["vault_destroyed"] is True and out["vault_destroyed_at"] is not None
    assert out["handed_back_by"].startswith("token:") and out["last_version"] == 1
    assert not await in_vault(bao, account_id)


async def test_two_concurrent_rounds_hand_back_once(
    make_client: AppFactory, bao: DevServer
) -> None:
    c, clock, admin = await frozen_on_last_day(make_client)
    accounts = [await managed_account(c, admin, versions=1) for _ in range(3)]
    other = await make_client(clock=clock)
    clock.advance(timedelta(minutes=15))
    before = await head_seq(c)
    await asyncio.gather(hand_back_round(runtime_of(c)), hand_back_round(runtime_of(other)))
    for account_id in accounts:
        found = await events(c, after=before, account_id=account_id)
        actions = [(e.action, e.outcome) for e in found]
        assert actions == [("credential.handed_back", "ok"), ("credential.destroyed", "ok")]
        assert not await in_vault(bao, account_id)


async def test_the_endpoint(make_client: AppFactory, bao: DevServer) -> None:
    c, clock, admin = await frozen_on_last_day(make_client)
    auditor = await bearer(c, "auditor", "handback-auditor")
    official = await create_account(c, admin)
    held = await managed_account(c, admin, versions=1)

    def path(account_id: str) -> str:
        return f"/v1/accounts/{account_id}/credential/hand-back"

    missing = await c.post(path("no-such-account"), headers=admin)
    assert missing.status_code == 404, missing.text
    assert missing.headers["content-type"].startswith("application/problem+json")
    for account_id in (official, held):
        refused = await c.post(path(account_id), headers=admin)
        assert refused.status_code == 409, refused.text
        assert refused.json()["title"] == "Conflict"
    assert (await c.post(path(held), headers=auditor)).status_code == 403
    assert (await account_row(c, held)).credential_version == 1

    # An admin decides the área no longer administers it: hand back at once.
    before = await head_seq(c)
    patched = await c.patch(f"/v1/accounts/{held}", json={"managed_by_area": False}, headers=admin)
    assert patched.status_code == 200, patched.text
    resp = await c.post(path(held), headers=admin)
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["reason"] == "not_managed_by_area" and out["vault_destroyed"] is True
    assert out["checkouts_closed"] == [] and out["versions_kept"] == 1
    assert not await in_vault(bao, held)
    # Idempotent: the same record, no second event.
    repeat = await c.post(path(held), headers=admin)
    assert repeat.json() == out
    assert len(await events(c, after=before, action="credential.handed_back")) == 1

    # Administered again: still no credential to check out, and none can be stored here.
    back = await c.patch(f"/v1/accounts/{held}", json={"managed_by_area": True}, headers=admin)
    assert back.status_code == 200, back.text
    put = await c.put(
        f"/v1/accounts/{held}/credential",
        json={"username": "titular", "password": "Clave-Nueva-9"},
        headers=admin,
    )
    assert put.status_code == 409, put.text
    assert "Décima novena" in put.json()["detail"]
    assert not await in_vault(bao, held)
    versions = await c.get(f"/v1/accounts/{held}/credential/versions", headers=admin)
    assert [v["version"] for v in versions.json()] == [1]
    _, headers, seed = await ready_gestor(c, admin, held, clock.now())
    start = await head_seq(c)
    body = {"totp_code": pyotp.TOTP(seed).at(clock.now()), "reason": "publicar"}
    refused = await c.post(f"/v1/accounts/{held}/checkouts", json=body, headers=headers)
    assert refused.status_code == 409, refused.text
    [event] = await events(c, after=start, action="checkout.refused")
    assert event.reason == "no_credential"

    # Never held a credential: nothing to hand back.
    empty = await unmanaged_personal_account(c, admin)
    assert (await c.post(path(empty), headers=admin)).status_code == 409


async def test_an_expired_checkout_closes_as_expired(make_client: AppFactory) -> None:
    c, clock, admin = await frozen_on_last_day(make_client)
    account_id = await managed_account(c, admin, versions=1)
    _, headers, seed = await ready_gestor(c, admin, account_id, clock.now())
    await check_out(c, account_id, headers, code_at(seed, clock.now()), minutes=5)
    clock.advance(timedelta(minutes=15))
    await hand_back_round(runtime_of(c))
    async with runtime_of(c).sessions() as session:
        rows = list(
            await session.scalars(select(Checkout).where(Checkout.account_id == account_id))
        )
    assert [r.close_reason for r in rows] == ["expired"]
    [back] = await events(c, account_id=account_id, action="credential.handed_back")
    assert details(back)["checkouts_closed"] == []


PATCHES_OUT_OF_CUSTODY = [
    ({"managed_by_area": False}, "not_managed_by_area"),
    ({"term_ends_on": (last_day() - timedelta(days=1)).isoformat()}, "term_ended"),
]


async def test_a_patch_out_of_custody_is_handed_back_by_the_next_round(
    make_client: AppFactory, bao: DevServer
) -> None:
    """PATCH leaves the hand-back to the job; the grant refuses from the PATCH on."""
    c, _, admin = await frozen_on_last_day(make_client)
    official = await account_with_credential(c, admin, "Clave-Oficial-1")
    personal = {"kind": "personal", "owner_name": "Titular", "owner_cargo": "Director"}
    cases = [*PATCHES_OUT_OF_CUSTODY, ({**personal, "hierarchy_level": 1}, "not_managed_by_area")]
    accounts = [await managed_account(c, admin, versions=1) for _ in PATCHES_OUT_OF_CUSTODY]
    for account_id, (patch, _) in zip([*accounts, official], cases, strict=True):
        resp = await c.patch(f"/v1/accounts/{account_id}", json=patch, headers=admin)
        assert resp.status_code == 200, resp.text
    before = await head_seq(c)
    await hand_back_round(runtime_of(c))
    for account_id, (_, reason) in zip([*accounts, official], cases, strict=True):
        [back] = await events(
            c, after=before, account_id=account_id, action="credential.handed_back"
        )
        assert back.reason == reason
        assert not await in_vault(bao, account_id)
