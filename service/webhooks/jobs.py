"""The webhooks feature's periodic job: deliver what the outbox holds."""

from __future__ import annotations

from service.runtime import Runtime
from service.webhooks.delivery import deliver_due

WEBHOOK_EVERY_SECONDS = 2.0


async def webhook_round(rt: Runtime) -> float:
    await deliver_due(rt)
    return WEBHOOK_EVERY_SECONDS
