"""Legacy: uow.notify replaces it; deleted once no feature calls ``enqueue``.

Enqueues a webhook event in the caller's transaction; delivery happens elsewhere.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.clock import Clock, rfc3339
from service.db.models import WebhookEvent


async def enqueue(
    session: AsyncSession,
    clock: Clock,
    kind: str,
    data: dict[str, Any],
) -> WebhookEvent:
    """Legacy: uow.notify replaces it. Add the event; the delivery job fans it out.

    Fanning out later keeps this callable from custody's hooks, which have no settings.
    """
    now = clock.now()
    event_id = str(uuid.uuid4())
    event = WebhookEvent(
        id=event_id,
        kind=kind,
        payload={"id": event_id, "type": kind, "occurred_at": rfc3339(now), "data": data},
        created_at=now,
    )
    session.add(event)
    await session.flush()
    return event
