"""The departures feature's periodic job: finish seed destruction Vault refused."""

from __future__ import annotations

from service.departures.usecases import retry_seed_destruction
from service.runtime import Runtime

SEED_RETRY_EVERY_SECONDS = 300.0


async def seed_retry_round(rt: Runtime) -> float:
    await retry_seed_destruction(rt)
    return SEED_RETRY_EVERY_SECONDS
