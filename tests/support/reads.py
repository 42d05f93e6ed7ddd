"""What tests read back to check: audit events, the chain's head, obligations."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from service.db.models import AuditEvent, WebhookEvent
from service.runtime import Runtime
from tests.support.apps import Client, runtime_of


def _runtime(where: Client | Runtime) -> Runtime:
    return where if isinstance(where, Runtime) else runtime_of(where)


async def events(where: Client | Runtime, *, after: int = 0, **match: Any) -> list[AuditEvent]:
    """Audit events after seq ``after`` whose columns equal ``match``, in chain order."""
    query = select(AuditEvent).where(AuditEvent.seq > after).order_by(AuditEvent.seq)
    for key, value in match.items():
        query = query.where(getattr(AuditEvent, key) == value)
    async with _runtime(where).sessions() as session:
        return list(await session.scalars(query))


async def head_seq(where: Client | Runtime) -> int:
    """The seq of the chain's last event (0 when empty)."""
    async with _runtime(where).sessions() as session:
        seq = await session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
    return int(seq or 0)


def details(event: AuditEvent) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(event.details)
    return parsed


async def obligations_of(client: Client, headers: dict[str, str], account_id: str) -> list[Any]:
    """The account's rotation obligations, as GET /v1/rotations lists them."""
    resp = await client.get("/v1/rotations", params={"account_id": account_id}, headers=headers)
    assert resp.status_code == 200, resp.text
    return list(resp.json())


async def webhook_events(where: Client | Runtime, kind: str | None = None) -> list[WebhookEvent]:
    """The outbox's events (of ``kind``): every test's, so filter on their data."""
    query = select(WebhookEvent)
    if kind is not None:
        query = query.where(WebhookEvent.kind == kind)
    async with _runtime(where).sessions() as session:
        return list(await session.scalars(query))
