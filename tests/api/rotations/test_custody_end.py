"""An account that leaves custody holding no credential owes no rotation (Décima novena)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from service.credentials.handback import hand_back_round
from service.rotations.usecases import notify_overdue
from tests.bao_server import DevServer
from tests.support.apps import AppFactory, runtime_of
from tests.support.factories import frozen_on_last_day, managed_account, open_obligation
from tests.support.reads import details, events, head_seq, obligations_of, webhook_events


async def test_the_job_withdraws_the_obligation_of_an_account_without_credential(
    make_client: AppFactory, bao: DevServer
) -> None:
    c, clock, admin = await frozen_on_last_day(make_client)
    account_id = await managed_account(c, admin, versions=0)
    obligation_id = (await open_obligation(c, admin, account_id))["id"]
    clock.advance(timedelta(minutes=15))  # the term ended; there is nothing to hand back
    before = await head_seq(c)

    await hand_back_round(runtime_of(c))

    [withdrawn] = await obligations_of(c, admin, account_id)
    assert withdrawn["id"] == obligation_id
    assert withdrawn["status"] == "withdrawn" and withdrawn["withdrawn_reason"] == "left_custody"
    assert withdrawn["satisfied_at"] is None
    found = await events(c, after=before, account_id=account_id)
    assert [(e.action, e.outcome, e.reason) for e in found] == [
        ("rotation.withdrawn", "ok", "left_custody")
    ]
    [event] = found
    assert event.actor == "system" and event.subject == f"obligation:{obligation_id}"
    assert details(event)["reason"] == "manual" and details(event)["was"] == "open"
    hooks = await webhook_events(c, "rotation.withdrawn")
    assert [h.payload["data"]["obligation"]["id"] for h in hooks].count(obligation_id) == 1

    # A second round, and the endpoint, add nothing: there was nothing to hand back.
    after_first = await head_seq(c)
    await hand_back_round(runtime_of(c))
    resp = await c.post(f"/v1/accounts/{account_id}/credential/hand-back", headers=admin)
    assert resp.status_code == 409, resp.text
    assert await head_seq(c) == after_first

    # Past its deadline nobody is told it is overdue.
    clock.advance(timedelta(days=30))
    await notify_overdue(runtime_of(c))
    assert not await events(c, after=before, action="rotation.overdue", account_id=account_id)
    assert (await obligations_of(c, admin, account_id))[0]["status"] == "withdrawn"


async def test_the_endpoint_withdraws_it_too_and_two_rounds_withdraw_once(
    make_client: AppFactory, bao: DevServer
) -> None:
    c, clock, admin = await frozen_on_last_day(make_client)
    by_endpoint = await managed_account(c, admin, versions=0)
    by_jobs = [await managed_account(c, admin, versions=0) for _ in range(3)]
    for account_id in [by_endpoint, *by_jobs]:
        (await open_obligation(c, admin, account_id))["id"]
    other = await make_client(clock=clock)
    clock.advance(timedelta(minutes=15))
    before = await head_seq(c)

    # The endpoint has nothing to hand back (409) but the owed rotation goes.
    resp = await c.post(f"/v1/accounts/{by_endpoint}/credential/hand-back", headers=admin)
    assert resp.status_code == 409, resp.text
    [withdrawn] = await obligations_of(c, admin, by_endpoint)
    assert withdrawn["status"] == "withdrawn"
    [event] = await events(c, after=before, account_id=by_endpoint)
    assert (event.action, event.reason) == ("rotation.withdrawn", "left_custody")
    assert (event.actor or "").startswith("token:")

    # Two replicas' rounds at once: each obligation withdrawn once.
    await asyncio.gather(hand_back_round(runtime_of(c)), hand_back_round(runtime_of(other)))
    for account_id in [by_endpoint, *by_jobs]:
        found = await events(c, after=before, account_id=account_id)
        assert [e.action for e in found] == ["rotation.withdrawn"]
        assert [o["status"] for o in await obligations_of(c, admin, account_id)] == ["withdrawn"]


async def test_a_patch_that_ends_custody_withdraws_the_obligation(
    make_client: AppFactory, bao: DevServer
) -> None:
    c, _clock, admin = await frozen_on_last_day(make_client)
    account_id = await managed_account(c, admin, versions=0)
    obligation_id = (await open_obligation(c, admin, account_id))["id"]
    patched = await c.patch(
        f"/v1/accounts/{account_id}", json={"managed_by_area": False}, headers=admin
    )
    assert patched.status_code == 200, patched.text
    before = await head_seq(c)

    await hand_back_round(runtime_of(c))  # the term has not ended: the área let go

    [event] = await events(c, after=before, account_id=account_id)
    assert (event.action, event.subject) == ("rotation.withdrawn", f"obligation:{obligation_id}")
    assert [o["status"] for o in await obligations_of(c, admin, account_id)] == ["withdrawn"]


async def test_a_manual_obligation_after_the_term_ended_is_refused(
    make_client: AppFactory, bao: DevServer
) -> None:
    c, clock, admin = await frozen_on_last_day(make_client)
    account_id = await managed_account(c, admin, versions=0)
    clock.advance(timedelta(minutes=15))  # the term ended; nothing was ever handed back
    before = await head_seq(c)

    resp = await c.post(
        "/v1/rotations", json={"account_id": account_id, "reason": "revisión"}, headers=admin
    )
    assert resp.status_code == 409, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert "Décima novena" in resp.json()["detail"]
    # Nothing written: no obligation, no event, no webhook.
    assert await obligations_of(c, admin, account_id) == []
    assert await head_seq(c) == before
    hooks = await webhook_events(c)
    assert all(h.payload["data"]["obligation"]["account_id"] != account_id for h in hooks)


async def test_the_account_is_refused_a_credential_and_an_obligation_alike(
    make_client: AppFactory, bao: DevServer
) -> None:
    """The two refusals agree: what cannot be written cannot be owed."""
    c, clock, admin = await frozen_on_last_day(make_client)
    account_id = await managed_account(c, admin, versions=0)
    clock.advance(timedelta(minutes=15))
    put = await c.put(
        f"/v1/accounts/{account_id}/credential",
        json={"username": "titular", "password": "Clave-Titular-1"},
        headers=admin,
    )
    assert put.status_code == 409, put.text
    resp = await c.post(
        "/v1/rotations", json={"account_id": account_id, "reason": "revisión"}, headers=admin
    )
    assert resp.status_code == 409, resp.text
