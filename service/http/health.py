"""Liveness, readiness and metrics."""

from __future__ import annotations

from typing import Any

from litestar import Controller, MediaType, Response, get
from sqlalchemy import text

from service.http.auth import Rt
from service.http.problems import errors, problem


class HealthController(Controller):
    tags = ["health"]

    @get("/healthz", summary="The process is alive")
    async def healthz(self) -> dict[str, str]:
        return {"status": "ok"}

    @get(
        "/readyz",
        summary="Database and Vault are reachable; Vault is unsealed",
        responses=errors(503),
    )
    async def readyz(self, rt: Rt) -> Response[dict[str, Any]]:
        checks = {"database": await _database_ok(rt), "vault": (await rt.vault.health()).detail}
        failed = [name for name, state in checks.items() if state != "ok"]
        if failed:
            return problem(
                503,
                "Service not ready",
                "Not ready: " + "; ".join(f"{name}: {checks[name]}" for name in failed),
                checks=checks,
            )
        return Response({"status": "ready", "checks": checks})

    @get("/metrics", summary="Prometheus metrics", media_type=MediaType.TEXT)
    async def metrics(self, rt: Rt) -> Response[bytes]:
        return Response(rt.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


async def _database_ok(rt: Rt) -> str:
    try:
        # A read-only transaction: it queues behind no writer, not even on SQLite.
        async with rt.reader() as reader:
            await reader.session.execute(text("SELECT 1"))
    except Exception:  # any driver error means "not ready"; the type is enough
        return "database unreachable"
    return "ok"
