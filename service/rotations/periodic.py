"""The rotation feature's periodic jobs; each round returns seconds until the next."""

from __future__ import annotations

from service.departures.usecases import retry_seed_destruction
from service.rotations.usecases import notify_overdue, scan_max_age
from service.runtime import Runtime
from service.settings import Settings
from service.webhooks.delivery import deliver_due

OVERDUE_EVERY_SECONDS = 30.0
WEBHOOK_EVERY_SECONDS = 2.0
SEED_RETRY_EVERY_SECONDS = 300.0


async def max_age_round(rt: Runtime) -> float:
    await scan_max_age(rt)
    return float(rt.settings.rotation_scan_seconds)


async def overdue_round(rt: Runtime) -> float:
    await notify_overdue(rt)
    return OVERDUE_EVERY_SECONDS


async def webhook_round(rt: Runtime) -> float:
    await deliver_due(rt)
    return WEBHOOK_EVERY_SECONDS


async def seed_retry_round(rt: Runtime) -> float:
    await retry_seed_destruction(rt)
    return SEED_RETRY_EVERY_SECONDS


async def scan_once(settings: Settings) -> int:
    """``custodia rotations scan``: one max-age round for cron; returns obligations opened."""
    from service.app import build_runtime

    rt = build_runtime(settings)
    try:
        return await scan_max_age(rt)
    finally:
        await rt.stop()
