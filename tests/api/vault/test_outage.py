"""Killing OpenBao turns /readyz into a 503 naming Vault; the service recovers by itself.

This uses the real local stack (non-dev OpenBao on pebbledb, AppRole), so the
service's token survives the restart as it would in production.
"""

from __future__ import annotations

import dataclasses
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from service.app import create_app
from service.devstack.openbao import stop_openbao
from service.devstack.run import LocalVault, service_settings, start_local_vault
from service.runtime import Runtime
from service.settings import Settings
from tests.bao_server import free_port_pair


@pytest.fixture
async def stack(
    tmp_path: Path, database_url: str
) -> AsyncIterator[tuple[Settings, list[LocalVault]]]:
    base = Settings(home=tmp_path, vault_port=free_port_pair(), background_tasks=False)
    running = [start_local_vault(base)]
    settings = dataclasses.replace(
        service_settings(base, running[0]), database_url=database_url, vault_timeout_seconds=2.0
    )
    try:
        yield settings, running
    finally:
        stop_openbao(running[-1].server)


async def test_readyz_names_vault_while_it_is_down_and_recovers(
    stack: tuple[Settings, list[LocalVault]],
) -> None:
    settings, running = stack
    app = create_app(settings)
    rt: Runtime = app.state.runtime
    await rt.start()
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://custodia") as client:
            assert (await client.get("/readyz")).status_code == 200

            process = running[0].server.process
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
            down = await client.get("/readyz")
            assert down.status_code == 503
            assert down.headers["content-type"].startswith("application/problem+json")
            assert "vault" in down.json()["detail"]
            assert down.json()["checks"]["database"] == "ok"

            # Restart and unseal from the stored keys, as `custodia dev` does.
            running.append(start_local_vault(settings))
            assert (await client.get("/readyz")).status_code == 200
            # Not only reachable: the service's own AppRole token works again.
            signature, version = await rt.vault.sign(b"recovered")
            assert signature and version >= 1
    finally:
        await rt.stop()
