"""Periodic round: forget the counters of windows that are over."""

from __future__ import annotations

from service.runtime import Runtime
from service.throttling.usecases import forget_old_windows


async def forget_round(rt: Runtime) -> float:
    """Periodic job: delete past windows' counters; runs once a window."""
    await forget_old_windows(rt)
    return float(rt.settings.throttle_window_seconds)
