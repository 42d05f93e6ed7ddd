"""Background delivery of outbox events: fan out, sign, POST, record, back off.

Runs only in the periodic job, never in a request. Several replicas may run it:
a delivery is claimed by a conditional update before it is sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import exists, select, update
from sqlalchemy.dialects import postgresql, sqlite

from service.clock import rfc3339
from service.db.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from service.runtime import Runtime

SIGNATURE_HEADER = "X-Custodia-Signature"
EVENT_ID_HEADER = "X-Custodia-Event-Id"
TIMESTAMP_HEADER = "X-Custodia-Timestamp"
BACKOFF_BASE_SECONDS = 10
BACKOFF_CAP_SECONDS = 3600
BATCH = 50


def body_of(payload: dict[str, Any]) -> bytes:
    """The exact bytes that are sent and signed."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signature(key: bytes, body: bytes) -> str:
    """``sha256=<lowercase hex HMAC-SHA256 of the body>``."""
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def backoff(attempts: int) -> timedelta:
    """Delay after the ``attempts``-th failure: 10 s, 20 s, 40 s … capped at an hour."""
    return timedelta(seconds=min(BACKOFF_BASE_SECONDS * 2 ** (attempts - 1), BACKOFF_CAP_SECONDS))


# The outbox's transactions append no audit event and lock only outbox rows, so
# they skip the chain lock (Runtime.transaction): delivery never waits for writes.


async def fan_out(rt: Runtime) -> int:
    """Give each event without deliveries one pending delivery per configured URL."""
    urls = rt.settings.webhook_urls
    if not urls:
        return 0
    now = rt.clock.now()
    async with rt.transaction(chain_lock=False) as session:
        pending = select(WebhookEvent.id).where(
            ~exists().where(WebhookDelivery.event_id == WebhookEvent.id)
        )
        ids = list(await session.scalars(pending.order_by(WebhookEvent.created_at).limit(500)))
        rows = [
            {
                "id": str(uuid.uuid4()),
                "event_id": event_id,
                "url": url,
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": now,
            }
            for event_id in ids
            for url in urls
        ]
        if rows:
            # Replicas fan out at the same time: the unique (event, url) index
            # decides, and the loser's rows are skipped rather than duplicated.
            dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
            await session.execute(dialect.insert(WebhookDelivery).on_conflict_do_nothing(), rows)
    return len(ids)


async def _claim(rt: Runtime, now: datetime) -> list[tuple[str, str, int, dict[str, Any]]]:
    """Due deliveries, each leased past the send timeout so no other replica sends it too."""
    lease = now + timedelta(seconds=rt.settings.webhook_timeout_seconds * 2 + 30)
    claimed: list[tuple[str, str, int, dict[str, Any]]] = []
    async with rt.transaction(chain_lock=False) as session:
        rows = await session.execute(
            select(WebhookDelivery, WebhookEvent.payload)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.state == "pending")
            .where(WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(BATCH)
        )
        for delivery, payload in rows:
            won = await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery.id)
                .where(WebhookDelivery.next_attempt_at == delivery.next_attempt_at)
                .values(next_attempt_at=lease)
            )
            if won.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append((delivery.id, delivery.url, delivery.attempts, payload))
    return claimed


async def _send(
    http: httpx.AsyncClient, key: bytes, url: str, payload: dict[str, Any], now: datetime
) -> tuple[str, int | None]:
    body = body_of(payload)
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(key, body),
        EVENT_ID_HEADER: str(payload["id"]),
        TIMESTAMP_HEADER: rfc3339(now),
    }
    try:
        resp = await http.post(url, content=body, headers=headers)
    except httpx.TimeoutException:
        return "timeout", None
    except httpx.HTTPError:
        return "connection_error", None
    return ("delivered" if 200 <= resp.status_code < 300 else "http_error"), resp.status_code


async def _record(
    rt: Runtime, delivery_id: str, attempts: int, outcome: str, status: int | None
) -> None:
    now = rt.clock.now()
    attempt = attempts + 1
    if outcome == "delivered":
        values: dict[str, Any] = {"state": "delivered", "next_attempt_at": None}
    elif attempt >= rt.settings.webhook_max_attempts:
        values = {"state": "failed", "next_attempt_at": None}
    else:
        values = {"next_attempt_at": now + backoff(attempt)}
    async with rt.transaction(chain_lock=False) as session:
        session.add(
            WebhookAttempt(
                id=str(uuid.uuid4()),
                delivery_id=delivery_id,
                attempt=attempt,
                outcome=outcome,
                status_code=status,
                attempted_at=now,
            )
        )
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id)
            .values(attempts=attempt, **values)
        )


async def deliver_due(rt: Runtime) -> int:
    """One round: fan out new events, send every due delivery concurrently; return sent."""
    await fan_out(rt)
    now = rt.clock.now()
    claimed = await _claim(rt, now)
    if not claimed:
        return 0
    key = await rt.vault.webhook_secret()
    timeout = httpx.Timeout(rt.settings.webhook_timeout_seconds)
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as http:
        results = await asyncio.gather(
            *(_send(http, key, url, payload, now) for _, url, _, payload in claimed)
        )
    for (delivery_id, _, attempts, _), (outcome, status) in zip(claimed, results, strict=True):
        await _record(rt, delivery_id, attempts, outcome, status)
    return len(claimed)
