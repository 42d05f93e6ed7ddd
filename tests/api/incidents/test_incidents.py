"""Security protocol: incidents close checkouts and open urgent obligations, or nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from service.clock import rfc3339
from service.db.models import Checkout, Incident, RotationObligation
from service.runtime import Runtime
from tests.support.apps import Client, runtime_of
from tests.support.factories import (
    account_with_credential,
    assign,
    check_out,
    code_at,
    create_account,
    create_gestor,
    gestor_token,
    incident_body,
    ready_gestor,
    report_incident,
)


async def counts(rt: Runtime, accounts: list[str]) -> tuple[int, int]:
    async with rt.sessions() as session:
        incidents = (await session.execute(select(func.count()).select_from(Incident))).scalar_one()
        obligations = (
            await session.execute(
                select(func.count())
                .select_from(RotationObligation)
                .where(RotationObligation.account_id.in_(accounts))
            )
        ).scalar_one()
    return int(incidents), int(obligations)


async def test_incident_closes_checkouts_and_opens_urgent_obligations(
    client: Client, admin: dict[str, str], auditor: dict[str, str]
) -> None:
    rt = runtime_of(client)
    first, second = (
        await account_with_credential(client, admin),
        await create_account(client, admin),
    )
    _, headers, seed = await ready_gestor(client, admin, first)
    checkout = await check_out(client, first, headers, code_at(seed, rt.clock.now()))
    body = await report_incident(client, admin, [first, second])
    assert body["type"] == "acceso_no_autorizado"
    assert sorted(o["account_id"] for o in body["obligations"]) == sorted([first, second])
    for ob in body["obligations"]:
        assert ob["reason"] == "incident" and ob["status"] == "open"
        triggered = datetime.fromisoformat(ob["triggered_at"])
        assert datetime.fromisoformat(ob["due_at"]) == triggered + timedelta(hours=1)
        assert ob["origins"] == [
            {"type": "incident", "id": body["id"], "reason": "acceso_no_autorizado"}
        ]
    async with rt.sessions() as session:
        closed = await session.get(Checkout, checkout)
        assert closed is not None and closed.closed_at is not None
        assert closed.close_reason == "incident"
    detail = await client.get(f"/v1/incidents/{body['id']}", headers=auditor)
    assert detail.status_code == 200 and detail.json() == body
    listed = await client.get("/v1/incidents", headers=auditor)
    assert body["id"] in {i["id"] for i in listed.json()}
    assert (await client.get("/v1/incidents/nope", headers=admin)).status_code == 404


async def test_bad_incidents_create_nothing(client: Client, admin: dict[str, str]) -> None:
    rt = runtime_of(client)
    known = await account_with_credential(client, admin)
    _, headers, seed = await ready_gestor(client, admin, known)
    checkout = await check_out(client, known, headers, code_at(seed, rt.clock.now()))
    before = await counts(rt, [known])
    unknown = "00000000-0000-0000-0000-000000000000"
    for accounts, status in (([], 422), ([known, unknown], 422)):
        resp = await client.post("/v1/incidents", json=incident_body(accounts), headers=admin)
        assert resp.status_code == status, resp.text
    future = incident_body([known], detected_at=rfc3339(rt.clock.now() + timedelta(days=1)))
    assert (await client.post("/v1/incidents", json=future, headers=admin)).status_code == 422
    ancient = incident_body([known], detected_at="0001-01-01T00:00:00+01:00")
    assert (await client.post("/v1/incidents", json=ancient, headers=admin)).status_code == 422
    wrong_type = incident_body([known], type="hackeo")
    assert (await client.post("/v1/incidents", json=wrong_type, headers=admin)).status_code == 400
    assert await counts(rt, [known]) == before
    async with rt.sessions() as session:
        still = await session.get(Checkout, checkout)
        assert still is not None and still.closed_at is None


async def test_a_gestor_reports_only_for_accounts_assigned_to_them(
    client: Client, admin: dict[str, str], auditor: dict[str, str]
) -> None:
    rt = runtime_of(client)
    gestor = await create_gestor(client, admin)
    mine, theirs = await create_account(client, admin), await create_account(client, admin)
    await assign(client, admin, mine, gestor)
    headers = await gestor_token(client, admin, gestor)
    before = await counts(rt, [mine, theirs])
    refused = await client.post(
        "/v1/incidents", json=incident_body([mine, theirs]), headers=headers
    )
    assert refused.status_code == 403, refused.text
    assert await counts(rt, [mine, theirs]) == before
    made = await client.post("/v1/incidents", json=incident_body([mine]), headers=headers)
    assert made.status_code == 201, made.text
    assert made.json()["reported_by"] == f"gestor:{gestor}"
    assert [o["account_id"] for o in made.json()["obligations"]] == [mine]
    assert (await client.get("/v1/incidents", headers=headers)).status_code == 403
    assert (
        await client.post("/v1/incidents", json=incident_body([mine]), headers=auditor)
    ).status_code == 403
