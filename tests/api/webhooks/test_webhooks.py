"""Webhooks: signed events reach a loopback receiver; a failing one never slows requests."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from service.audit.log import lock_chain
from service.db.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from service.principal import SYSTEM
from service.runtime import Runtime
from service.webhooks.delivery import deliver_due, fan_out
from tests.support.apps import AppFactory, bearer, frozen, runtime_of
from tests.support.factories import create_account, open_obligation
from tests.support.receivers import Receiver


async def deliveries_to(
    rt: Runtime, url: str
) -> list[tuple[WebhookDelivery, list[WebhookAttempt]]]:
    async with rt.sessions() as session:
        rows = list(
            await session.scalars(select(WebhookDelivery).where(WebhookDelivery.url == url))
        )
        out = []
        for row in rows:
            attempts = await session.scalars(
                select(WebhookAttempt)
                .where(WebhookAttempt.delivery_id == row.id)
                .order_by(WebhookAttempt.attempt)
            )
            out.append((row, list(attempts)))
    return out


async def deliver_until_quiet(rt: Runtime, rounds: int = 500) -> None:
    """Other tests' events share the outbox (hundreds in a whole run): drain it all."""
    for _ in range(rounds):
        if await deliver_due(rt) == 0:
            return


async def test_a_loopback_receiver_gets_signed_events(make_client: AppFactory) -> None:
    receiver = await Receiver().start()
    try:
        client = await make_client(webhook_urls=(receiver.url,))
        rt = runtime_of(client)
        admin = await bearer(client, "admin", "webhooks")
        account = await create_account(client, admin)
        made = await open_obligation(client, admin, account, "prueba")
        assert receiver.connections == 0  # the request only wrote the outbox
        await deliver_until_quiet(rt)
        key = await rt.vault.webhook_secret()
        mine = [
            r
            for r in receiver.requests
            if json.loads(r["body"])["data"]["obligation"]["id"] == made["id"]
        ]
        assert len(mine) == 1
        request = mine[0]
        assert request["line"] == "POST /hook HTTP/1.1"
        expected = "sha256=" + hmac.new(key, request["body"], hashlib.sha256).hexdigest()
        assert request["headers"]["x-custodia-signature"] == expected
        event = json.loads(request["body"])
        assert event["type"] == "rotation.opened"
        assert request["headers"]["x-custodia-event-id"] == event["id"]
        assert request["headers"]["x-custodia-timestamp"].endswith("Z")
        assert event["data"]["obligation"]["account_id"] == account
        # Only this event's: a receiver port can be one an earlier test's receiver had,
        # whose failed deliveries still wait for their next attempt.
        ours = [
            (d, a) for d, a in await deliveries_to(rt, receiver.url) if d.event_id == event["id"]
        ]
        assert len(ours) == 1
        for delivery, attempts in ours:
            assert delivery.state == "delivered"
            assert [(a.outcome, a.status_code) for a in attempts] == [("delivered", 200)]
    finally:
        await receiver.stop()


async def test_a_failing_receiver_is_retried_with_backoff_then_given_up(
    make_client: AppFactory,
) -> None:
    receiver = await Receiver(mode="fail").start()
    try:
        client, clock, admin = await frozen(
            make_client,
            datetime.now(UTC),
            "webhooks-fail",
            webhook_urls=(receiver.url,),
            webhook_max_attempts=3,
        )
        rt = runtime_of(client)
        account = await create_account(client, admin)
        await open_obligation(client, admin, account, "prueba")
        await deliver_until_quiet(rt)
        await deliver_until_quiet(rt)  # not due again yet: nothing is sent
        first_round = await deliveries_to(rt, receiver.url)
        assert first_round
        for delivery, attempts in first_round:
            assert delivery.state == "pending"
            assert [(a.outcome, a.status_code) for a in attempts] == [("http_error", 500)]
        clock.advance(timedelta(seconds=11))
        await deliver_until_quiet(rt)
        clock.advance(timedelta(seconds=21))
        await deliver_until_quiet(rt)
        clock.advance(timedelta(hours=2))
        await deliver_until_quiet(rt)
        for delivery, attempts in await deliveries_to(rt, receiver.url):
            assert delivery.state == "failed"
            assert [a.attempt for a in attempts] == [1, 2, 3]
            assert all(a.status_code == 500 for a in attempts)
    finally:
        await receiver.stop()


async def test_a_hanging_receiver_does_not_slow_requests(make_client: AppFactory) -> None:
    receiver_timeout = 3.0
    receiver = await Receiver(mode="hang").start()
    try:
        client = await make_client(
            webhook_urls=(receiver.url,), webhook_timeout_seconds=receiver_timeout
        )
        rt = runtime_of(client)
        admin = await bearer(client, "admin", "webhooks-hang")
        account = await create_account(client, admin)
        await open_obligation(client, admin, account, "prueba")
        assert receiver.connections == 0  # the request itself never called out
        # The delivery job now sits on the hanging receiver, beside the requests.
        job = asyncio.create_task(deliver_until_quiet(rt, rounds=1))
        while receiver.connections == 0:
            await asyncio.sleep(0.01)
        started = time.monotonic()
        for _ in range(3):
            resp = await client.post(
                "/v1/rotations", json={"account_id": account, "reason": "otra"}, headers=admin
            )
            assert resp.status_code == 201
        elapsed = time.monotonic() - started
        assert not job.done()
        # All three finish before the receiver's one timeout runs out.
        assert elapsed < receiver_timeout, elapsed
        await asyncio.wait_for(job, timeout=30)
        outcomes = {
            a.outcome for _, attempts in await deliveries_to(rt, receiver.url) for a in attempts
        }
        assert outcomes == {"timeout"}
    finally:
        await receiver.stop()


async def test_replicas_fanning_out_at_once_make_one_delivery_per_url(
    make_client: AppFactory,
) -> None:
    urls = ("http://127.0.0.1:9/first", "http://127.0.0.1:9/second")
    replicas = [runtime_of(await make_client(webhook_urls=urls)) for _ in range(2)]
    events = [str(uuid.uuid4()) for _ in range(6)]
    async with replicas[0].unit_of_work(SYSTEM) as uow:
        session = uow.session
        for event_id in events:
            session.add(
                WebhookEvent(
                    id=event_id,
                    kind="rotation.opened",
                    payload={"id": event_id, "type": "rotation.opened", "data": {}},
                    created_at=replicas[0].clock.now(),
                )
            )
    for _ in range(3):
        await asyncio.gather(*(fan_out(rt) for rt in replicas))
    async with replicas[0].sessions() as session:
        rows = (
            await session.execute(
                select(WebhookDelivery.event_id, WebhookDelivery.url).where(
                    WebhookDelivery.event_id.in_(events)
                )
            )
        ).all()
    assert sorted(rows) == sorted((e, u) for e in events for u in urls)


@pytest.mark.postgresql_only  # SQLite has one writer: there, every transaction waits anyway
async def test_delivery_does_not_wait_for_the_audit_chain_lock(make_client: AppFactory) -> None:
    """The outbox appends no event: a long write elsewhere must not stall webhook delivery."""
    receiver = await Receiver().start()
    try:
        client = await make_client(webhook_urls=(receiver.url,))
        rt = runtime_of(client)
        admin = await bearer(client, "admin", "webhooks-lock")
        account = await create_account(client, admin)
        made = await open_obligation(client, admin, account, "prueba")
        async with rt.unit_of_work(SYSTEM) as uow:
            # Hold the chain lock, as any write does while it commits its events.
            await lock_chain(uow.session)
            await asyncio.wait_for(deliver_until_quiet(rt), timeout=10)
        assert made["id"] in {
            json.loads(r["body"])["data"].get("obligation", {}).get("id") for r in receiver.requests
        }
    finally:
        await receiver.stop()
