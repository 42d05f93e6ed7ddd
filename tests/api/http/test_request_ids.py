"""Audit events carry the server's request id; a client's X-Request-ID is kept apart."""

from __future__ import annotations

import json

import pytest

from service.audit.log import Entry
from service.principal import Caller
from tests.support.apps import Client, runtime_of
from tests.support.factories import uid
from tests.support.reads import events, head_seq


async def issue(
    client: Client, admin: dict[str, str], **headers: str
) -> tuple[str, dict[str, str]]:
    """Issue an auditor token; return its audit subject and the response's headers."""
    resp = await client.post(
        "/v1/tokens", json={"role": "auditor", "name": uid("rid")}, headers={**admin, **headers}
    )
    assert resp.status_code == 201, resp.text
    return f"token:{resp.json()['id']}", dict(resp.headers)


async def test_a_client_request_id_never_becomes_the_events_request_id(
    client: Client, admin: dict[str, str]
) -> None:
    start = await head_seq(client)
    chosen = uid("client-chosen")
    token_id, headers = await issue(client, admin, **{"X-Request-ID": chosen})

    [event] = [e for e in await events(client, after=start) if e.subject == token_id]
    assert event.request_id != chosen
    assert event.request_id == headers["x-request-id"]
    assert json.loads(event.details)["client_request_id"] == chosen
    assert headers["x-client-request-id"] == chosen


async def test_reusing_another_events_request_id_files_nothing_under_it(
    client: Client, admin: dict[str, str]
) -> None:
    start = await head_seq(client)
    first_id, _ = await issue(client, admin)
    [first] = [e for e in await events(client, after=start) if e.subject == first_id]
    assert first.request_id and "client_request_id" not in json.loads(first.details)

    second_id, _ = await issue(client, admin, **{"X-Request-ID": first.request_id})

    under_that_id = await events(client, after=start, request_id=first.request_id)
    assert [e.subject for e in under_that_id] == [first_id]
    [second] = [e for e in await events(client, after=start) if e.subject == second_id]
    assert json.loads(second.details)["client_request_id"] == first.request_id


@pytest.mark.parametrize("sent", ["has space", "x" * 65, "semi;colon", "a/b"])
async def test_a_malformed_client_request_id_is_dropped(
    client: Client, admin: dict[str, str], sent: str
) -> None:
    start = await head_seq(client)
    token_id, headers = await issue(client, admin, **{"X-Request-ID": sent})
    assert "x-client-request-id" not in headers
    [event] = [e for e in await events(client, after=start) if e.subject == token_id]
    assert event.request_id == headers["x-request-id"]
    assert "client_request_id" not in json.loads(event.details)


async def test_each_request_gets_its_own_server_id(client: Client) -> None:
    ids = {(await client.get("/healthz")).headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5


async def test_the_caller_carries_the_client_id_into_details(client: Client) -> None:
    caller = Caller(None, request_id="server-1", client_request_id="client-1")
    async with runtime_of(client).unit_of_work(caller) as uow:
        recorded = uow.record(Entry("token.revoked", "refused", subject=uid("rid")))
    assert recorded.seq is not None
    [event] = await events(client, after=recorded.seq - 1)
    assert event.request_id == "server-1"
    assert json.loads(event.details) == {"client_request_id": "client-1"}
