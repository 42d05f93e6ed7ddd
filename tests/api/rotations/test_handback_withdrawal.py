"""Hand-back withdraws the account's owed rotation: no new version could ever satisfy it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from service.credentials.handback import hand_back_round
from service.documents.repository import DocumentRepository
from service.rotations.usecases import notify_overdue
from tests.bao_server import DevServer
from tests.support.apps import AppFactory, Client, runtime_of
from tests.support.factories import (
    account_with_credential,
    assign,
    depart,
    frozen_on_last_day,
    managed_account,
    open_obligation,
    ready_gestor,
)
from tests.support.reads import details, events, head_seq, obligations_of, webhook_events


async def ids_with_status(c: Client, admin: dict[str, str], status: str) -> set[str]:
    resp = await c.get("/v1/rotations", params={"status": status, "limit": 1000}, headers=admin)
    assert resp.status_code == 200, resp.text
    return {o["id"] for o in resp.json()}


async def counts(c: Client, admin: dict[str, str]) -> dict[str, int]:
    resp = await c.get("/v1/rotations/summary", headers=admin)
    assert resp.status_code == 200, resp.text
    found: dict[str, int] = resp.json()["counts"]
    return found


async def test_a_departure_obligation_is_withdrawn_by_the_hand_back(
    make_client: AppFactory, bao: DevServer
) -> None:
    c, clock, admin = await frozen_on_last_day(make_client)
    account_id = await managed_account(c, admin, versions=1)
    gestor_id, _, _ = await ready_gestor(c, admin, account_id, clock.now())
    await depart(c, admin, gestor_id)
    [owed] = await obligations_of(c, admin, account_id)
    assert (owed["reason"], owed["status"]) == ("gestor_departure", "open")
    assert owed["withdrawn_at"] is None and owed["withdrawn_reason"] is None

    clock.advance(timedelta(minutes=15))  # the term ended: the credential must leave custody
    before = await head_seq(c)
    path = f"/v1/accounts/{account_id}/credential/hand-back"
    resp = await c.post(path, headers=admin)
    assert resp.status_code == 200, resp.text

    [withdrawn] = await obligations_of(c, admin, account_id)
    assert withdrawn["status"] == "withdrawn" and withdrawn["withdrawn_reason"] == "left_custody"
    assert withdrawn["withdrawn_at"] is not None and withdrawn["satisfied_at"] is None
    [event] = await events(c, after=before, action="rotation.withdrawn")
    assert (event.account_id, event.subject) == (account_id, f"obligation:{owed['id']}")
    assert (event.outcome, event.reason) == ("ok", "left_custody")
    assert (event.actor or "").startswith("token:")
    assert details(event) == {
        "obligation_id": owed["id"],
        "reason": "gestor_departure",
        "due_at": owed["due_at"],
        "was": "open",
    }
    [back] = await events(c, after=before, action="credential.handed_back")
    assert event.seq < back.seq and details(back)["obligation_withdrawn"] == owed["id"]
    hooks = await webhook_events(c, "rotation.withdrawn")
    [hook] = [h for h in hooks if h.payload["data"]["obligation"]["id"] == owed["id"]]
    assert hook.payload["data"]["obligation"]["status"] == "withdrawn"

    # Idempotent: a repeated call and a round withdraw nothing twice.
    again = await c.post(path, headers=admin)
    assert again.status_code == 200, again.text
    await hand_back_round(runtime_of(c))
    assert len(await events(c, after=before, action="rotation.withdrawn")) == 1

    # Past its deadline it is still withdrawn, never overdue, and no one is told it is.
    clock.advance(timedelta(days=3))
    assert (await obligations_of(c, admin, account_id))[0]["status"] == "withdrawn"
    assert owed["id"] in await ids_with_status(c, admin, "withdrawn")
    for status in ("open", "overdue", "satisfied"):
        assert owed["id"] not in await ids_with_status(c, admin, status)
    summary = await c.get("/v1/rotations/summary", headers=admin)
    oldest = summary.json()["oldest_overdue"]
    assert oldest is None or oldest["id"] != owed["id"]
    assert summary.json()["counts"]["withdrawn"] >= 1
    await notify_overdue(runtime_of(c))
    assert not await events(c, after=before, action="rotation.overdue", account_id=account_id)
    # Documents list it as pending no more.
    async with runtime_of(c).sessions() as session:
        assert await DocumentRepository(session).open_obligations([account_id]) == {}


async def test_the_job_withdraws_an_overdue_obligation_and_the_counts_move(
    make_client: AppFactory, bao: DevServer
) -> None:
    c, clock, admin = await frozen_on_last_day(make_client)
    account_id = await managed_account(c, admin, versions=1)
    obligation_id = (await open_obligation(c, admin, account_id))["id"]
    # A day later it is overdue, and the term has ended: the job hands back.
    clock.advance(timedelta(hours=25))
    [owed] = await obligations_of(c, admin, account_id)
    assert owed["status"] == "overdue"
    was = await counts(c, admin)

    before = await head_seq(c)
    await hand_back_round(runtime_of(c))

    now = await counts(c, admin)
    assert (now["overdue"], now["withdrawn"]) == (was["overdue"] - 1, was["withdrawn"] + 1)
    assert (now["open"], now["satisfied"]) == (was["open"], was["satisfied"])
    [event] = await events(c, after=before, action="rotation.withdrawn")
    assert event.actor == "system" and event.subject == f"obligation:{obligation_id}"
    assert details(event)["was"] == "overdue" and details(event)["reason"] == "manual"
    await notify_overdue(runtime_of(c))
    assert not await events(c, after=before, action="rotation.overdue", account_id=account_id)
    [withdrawn] = await obligations_of(c, admin, account_id)
    assert withdrawn["status"] == "withdrawn"


async def handed_back(c: Client, clock: Any, admin: dict[str, str], account_id: str) -> None:
    """End the term and hand the credential back through the endpoint."""
    clock.advance(timedelta(minutes=15))
    resp = await c.post(f"/v1/accounts/{account_id}/credential/hand-back", headers=admin)
    assert resp.status_code == 200, resp.text


async def test_a_manual_obligation_for_a_handed_back_account_is_refused(
    make_client: AppFactory, bao: DevServer
) -> None:
    c, clock, admin = await frozen_on_last_day(make_client)
    account_id = await managed_account(c, admin, versions=1)
    await handed_back(c, clock, admin, account_id)
    before = await head_seq(c)

    resp = await c.post(
        "/v1/rotations", json={"account_id": account_id, "reason": "revisión"}, headers=admin
    )
    assert resp.status_code == 409, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    problem = resp.json()
    assert "left custody" in problem["detail"] and "Décima novena" in problem["detail"]
    # Nothing changed: no obligation, no event, no webhook.
    assert await obligations_of(c, admin, account_id) == []
    assert await head_seq(c) == before
    hooks = await webhook_events(c)
    assert all(h.payload["data"]["obligation"]["account_id"] != account_id for h in hooks)


async def test_a_departure_opens_no_obligation_for_a_handed_back_account(
    make_client: AppFactory, bao: DevServer
) -> None:
    c, clock, admin = await frozen_on_last_day(make_client)
    personal = await managed_account(c, admin, versions=1)
    official = await account_with_credential(c, admin, "Clave-Oficial-1")
    gestor_id, _, _ = await ready_gestor(c, admin, personal, clock.now())
    await assign(c, admin, official, gestor_id)
    await handed_back(c, clock, admin, personal)
    before = await head_seq(c)

    case = await depart(c, admin, gestor_id)

    # The still-held account owes a rotation; the handed-back one owes nothing.
    assert await obligations_of(c, admin, personal) == []
    [owed] = await obligations_of(c, admin, official)
    assert (owed["reason"], owed["status"]) == ("gestor_departure", "open")
    # The case file and the departure event list only the obligation that exists.
    assert [(o["id"], o["account_id"]) for o in case["obligations"]] == [(owed["id"], official)]
    assert {a["account_id"] for a in case["accounts"]} == {personal, official}
    [event] = await events(c, after=before, action="gestor.departed")
    assert details(event)["obligations"] == 1
    opened = await events(c, after=before, action="rotation.opened")
    assert [e.account_id for e in opened] == [official]
    assert not await events(c, after=before, account_id=personal, action="rotation.merged")
