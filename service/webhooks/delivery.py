"""Background delivery of outbox events: fan out, sign, POST, record, back off.

Runs only in the periodic job, never in a request. Several replicas may run it:
a delivery is claimed by a conditional update before it is sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from datetime import datetime, timedelta
from typing import Any

import httpx

from service.clock import rfc3339
from service.principal import SYSTEM
from service.runtime import Runtime
from service.webhooks.repository import (
    DueDelivery,
    WebhookAttemptRepository,
    WebhookDeliveryRepository,
    WebhookEventRepository,
)

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


# The outbox's transactions record no audit event, so they never take the chain's
# lock (service.uow): delivery never waits for writes.


async def fan_out(rt: Runtime) -> int:
    """Give each event without deliveries one pending delivery per configured URL."""
    urls = rt.settings.webhook_urls
    if not urls:
        return 0
    now = rt.clock.now()
    async with rt.unit_of_work(SYSTEM) as uow:
        ids = await WebhookEventRepository(uow).without_deliveries(500)
        await WebhookDeliveryRepository(uow).add_pending(ids, urls, now)
    return len(ids)


async def _claim(rt: Runtime, now: datetime) -> list[DueDelivery]:
    """Due deliveries, each leased past the send timeout so no other replica sends it too."""
    lease = now + timedelta(seconds=rt.settings.webhook_timeout_seconds * 2 + 30)
    async with rt.unit_of_work(SYSTEM) as uow:
        deliveries = WebhookDeliveryRepository(uow)
        return [d for d in await deliveries.due(now, BATCH) if await deliveries.lease(d, lease)]


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


async def _record(rt: Runtime, delivery: DueDelivery, outcome: str, status: int | None) -> None:
    now = rt.clock.now()
    attempt = delivery.attempts + 1
    state: str | None = None  # still pending: retried after the backoff
    next_attempt_at: datetime | None = None
    if outcome == "delivered":
        state = "delivered"
    elif attempt >= rt.settings.webhook_max_attempts:
        state = "failed"
    else:
        next_attempt_at = now + backoff(attempt)
    async with rt.unit_of_work(SYSTEM) as uow:
        WebhookAttemptRepository(uow).add(delivery.id, attempt, outcome, status, now)
        await WebhookDeliveryRepository(uow).attempted(delivery.id, attempt, state, next_attempt_at)


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
        results = await asyncio.gather(*(_send(http, key, d.url, d.payload, now) for d in claimed))
    for delivery, (outcome, status) in zip(claimed, results, strict=True):
        await _record(rt, delivery, outcome, status)
    return len(claimed)
