"""The SQL of the webhook outbox: events, their deliveries, and each attempt."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.dialects import postgresql, sqlite

from service.db.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from service.db.work import Repository


@dataclass(frozen=True)
class DueDelivery:
    """A pending delivery whose time has come, with the event it carries."""

    id: str
    url: str
    attempts: int
    next_attempt_at: datetime
    payload: dict[str, Any]


class WebhookEventRepository(Repository):
    """``webhook_events``: the outbox rows units of work add (``uow.notify``)."""

    async def without_deliveries(self, limit: int) -> list[str]:
        """Ids of the oldest events not yet fanned out to any receiver."""
        pending = select(WebhookEvent.id).where(
            ~exists().where(WebhookDelivery.event_id == WebhookEvent.id)
        )
        return list(
            await self.session.scalars(pending.order_by(WebhookEvent.created_at).limit(limit))
        )


class WebhookDeliveryRepository(Repository):
    """``webhook_deliveries``: one receiver's copy of an event."""

    async def add_pending(self, event_ids: list[str], urls: tuple[str, ...], now: datetime) -> None:
        """One pending delivery per event and URL, due now; a pair that exists is skipped."""
        rows = [
            {
                "id": str(uuid.uuid4()),
                "event_id": event_id,
                "url": url,
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": now,
            }
            for event_id in event_ids
            for url in urls
        ]
        if not rows:
            return
        # Replicas fan out at the same time: the unique (event, url) index decides,
        # and the loser's rows are skipped rather than duplicated.
        dialect = postgresql if self.session.get_bind().dialect.name == "postgresql" else sqlite
        await self.session.execute(dialect.insert(WebhookDelivery).on_conflict_do_nothing(), rows)

    async def due(self, now: datetime, limit: int) -> list[DueDelivery]:
        """Pending deliveries due at ``now``, the longest waiting first."""
        rows = await self.session.execute(
            select(WebhookDelivery, WebhookEvent.payload)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.state == "pending")
            .where(WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
        )
        return [
            DueDelivery(d.id, d.url, d.attempts, d.next_attempt_at, payload)
            for d, payload in rows
            if d.next_attempt_at is not None
        ]

    async def lease(self, delivery: DueDelivery, until: datetime) -> bool:
        """Push the delivery's next attempt to ``until``; False when another replica did first."""
        won = await self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery.id)
            .where(WebhookDelivery.next_attempt_at == delivery.next_attempt_at)
            .values(next_attempt_at=until)
        )
        return bool(won.rowcount == 1)  # type: ignore[attr-defined]

    async def attempted(
        self, delivery_id: str, attempts: int, state: str | None, next_attempt_at: datetime | None
    ) -> None:
        """Count an attempt; ``state`` None keeps the delivery pending."""
        values: dict[str, Any] = {"attempts": attempts, "next_attempt_at": next_attempt_at}
        if state is not None:
            values["state"] = state
        await self.session.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(**values)
        )


class WebhookAttemptRepository(Repository):
    """``webhook_attempts``: outcome and status code of each try, never the body."""

    def add(
        self, delivery_id: str, attempt: int, outcome: str, status: int | None, at: datetime
    ) -> None:
        self.session.add(
            WebhookAttempt(
                id=str(uuid.uuid4()),
                delivery_id=delivery_id,
                attempt=attempt,
                outcome=outcome,
                status_code=status,
                attempted_at=at,
            )
        )
