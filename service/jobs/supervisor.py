"""Periodic work inside the service: each job runs in a loop and survives its own errors.

Jobs are safe to run in several replicas at once: the state they act on lives
in the database or Vault, and each job's effects are idempotent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from service.runtime import Runtime

log = structlog.get_logger("custodia.background")

# A job does one round of work and returns the seconds until the next round.
Job = Callable[[Runtime], Awaitable[float]]


@dataclass(frozen=True)
class Periodic:
    name: str
    job: Job


async def _loop(rt: Runtime, periodic: Periodic) -> None:
    while True:
        try:
            delay = await periodic.job(rt)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failed round is retried; the loop must not die
            # exc_info leaves the log as types and frames only (service.logs.redaction).
            log.warning(
                "job_failed", job=periodic.name, error_type=type(exc).__name__, exc_info=exc
            )
            delay = 5.0
        await asyncio.sleep(delay)


class Supervisor:
    """Starts the jobs at app start and cancels them at shutdown."""

    def __init__(self, jobs: list[Periodic]) -> None:
        self._jobs = jobs
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, rt: Runtime) -> None:
        self._tasks = [
            asyncio.create_task(_loop(rt, job), name=f"custodia:{job.name}") for job in self._jobs
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
