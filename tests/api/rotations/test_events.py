"""Departures and incidents reach rotations through events: what commits, and in which order."""

from __future__ import annotations

from datetime import timedelta

from service.db.models import Gestor
from tests.support.apps import Client, runtime_of
from tests.support.factories import (
    account_with_credential,
    assign,
    check_out,
    code_at,
    create_account,
    open_obligation,
    ready_gestor,
    report_incident,
)
from tests.support.reads import events, head_seq, webhook_events


async def test_a_departure_records_closings_then_obligations_then_the_departure(
    client: Client, admin: dict[str, str]
) -> None:
    rt = runtime_of(client)
    checkout_account = await account_with_credential(client, admin)
    other_account = await create_account(client, admin)
    accounts = {checkout_account, other_account}
    gestor, headers, seed = await ready_gestor(client, admin, checkout_account)
    await assign(client, admin, other_account, gestor)
    checkout = await check_out(client, checkout_account, headers, code_at(seed, rt.clock.now()))
    start = await head_seq(client)

    resp = await client.post(
        f"/v1/gestores/{gestor}/departure", json={"reason": "renuncia"}, headers=admin
    )
    assert resp.status_code == 200, resp.text
    mine = [
        e
        for e in await events(client, after=start)
        if e.account_id in accounts or e.subject == f"gestor:{gestor}"
    ]
    assert [e.action for e in mine] == [
        "checkout.force_closed",
        "rotation.opened",
        "rotation.opened",
        "gestor.departed",
        "gestor.totp_seed_destroyed",
    ]
    closed, *opened, departed, _ = mine
    assert (closed.subject, closed.account_id) == (f"checkout:{checkout}", checkout_account)
    assert {e.account_id for e in opened} == accounts
    # One transaction: its entries are appended together, in one run of the chain.
    seqs = [e.seq for e in (closed, *opened, departed)]
    assert seqs == list(range(seqs[0], seqs[0] + 4))
    # The stored case file is the answer, field for field.
    async with rt.sessions() as session:
        row = await session.get(Gestor, gestor)
        assert row is not None and row.departure_case_file == resp.json()


async def test_an_incident_records_the_report_closings_then_obligations(
    client: Client, admin: dict[str, str]
) -> None:
    rt = runtime_of(client)
    first, second = (
        await create_account(client, admin),
        await account_with_credential(client, admin),
    )
    _, headers, seed = await ready_gestor(client, admin, second)
    checkout = await check_out(client, second, headers, code_at(seed, rt.clock.now()))
    start = await head_seq(client)

    incident = await report_incident(
        client,
        admin,
        [first, second],
        type="extravio",
        description="Teléfono extraviado con sesión abierta",
        detected_at=(rt.clock.now() - timedelta(minutes=5)).isoformat(),
    )
    mine = [
        (e.action, e.account_id, e.subject)
        for e in await events(client, after=start)
        if e.account_id in (first, second) or e.subject == f"incident:{incident['id']}"
    ]
    [ob_first] = [o for o in incident["obligations"] if o["account_id"] == first]
    [ob_second] = [o for o in incident["obligations"] if o["account_id"] == second]
    assert mine == [
        ("incident.reported", None, f"incident:{incident['id']}"),
        ("checkout.force_closed", second, f"checkout:{checkout}"),
        ("rotation.opened", first, f"obligation:{ob_first['id']}"),
        ("rotation.opened", second, f"obligation:{ob_second['id']}"),
    ]


async def test_a_rotation_webhook_carries_the_obligation_as_the_api_shows_it(
    client: Client, admin: dict[str, str], auditor: dict[str, str]
) -> None:
    rt = runtime_of(client)
    account = await create_account(client, admin)
    opened = await open_obligation(client, admin, account)
    hooks = await webhook_events(rt, "rotation.opened")
    # test_webhooks enqueues rotation.opened events of its own, with other data.
    about = [h for h in hooks if "obligation" in h.payload["data"]]
    [hook] = [h for h in about if h.payload["data"]["obligation"]["account_id"] == account]
    shown = await client.get(f"/v1/rotations/{opened['id']}", headers=auditor)
    assert hook.payload["data"] == {"obligation": shown.json()} == {"obligation": opened}
