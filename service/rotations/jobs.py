"""The rotation feature's periodic jobs; each round returns seconds until the next."""

from __future__ import annotations

from service.rotations.usecases import notify_overdue, scan_max_age
from service.runtime import Runtime, build_runtime
from service.settings import Settings

OVERDUE_EVERY_SECONDS = 30.0


async def max_age_round(rt: Runtime) -> float:
    await scan_max_age(rt)
    return float(rt.settings.rotation_scan_seconds)


async def overdue_round(rt: Runtime) -> float:
    await notify_overdue(rt)
    return OVERDUE_EVERY_SECONDS


async def scan_once(settings: Settings) -> int:
    """``custodia rotations scan``: one max-age round for cron; returns obligations opened."""
    rt = build_runtime(settings)
    try:
        return await scan_max_age(rt)
    finally:
        await rt.stop()
