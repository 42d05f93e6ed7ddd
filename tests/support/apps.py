"""Apps under test: an httpx client per app, its runtime, tokens, and frozen clocks."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar

from service.app import create_app
from service.clock import Clock, FrozenClock
from service.principal import SYSTEM
from service.runtime import Runtime
from service.settings import Settings
from service.tokens.usecases import issue_token

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("CUSTODIA_TEST_DATABASE_URL", "")
REQUIRE_PG = os.environ.get("CUSTODIA_REQUIRE_POSTGRES") == "1"
# Settings overrides for a Vault that is not there (a static token skips the login).
VAULT_DOWN: dict[str, Any] = {
    "vault_addr": "http://127.0.0.1:9",
    "vault_role_id": None,
    "vault_secret_id": None,
    "vault_token": "x",
}


class Client(httpx.AsyncClient):
    """An httpx client bound to one app, in the test's own event loop."""

    app: Litestar


AppFactory = Callable[..., Awaitable[Client]]


@asynccontextmanager
async def app_factory(settings: Settings) -> AsyncIterator[AppFactory]:
    """Start apps on the same database and Vault; every one is stopped on exit."""
    async with AsyncExitStack() as stack:

        async def factory(clock: Clock | None = None, **overrides: Any) -> Client:
            app = create_app(dataclasses.replace(settings, **overrides), clock=clock)
            # The app's own lifespan runs in an anyio task group, which cannot be
            # entered and left from different fixture tasks; start the runtime here.
            rt: Runtime = app.state.runtime
            await rt.start()
            stack.push_async_callback(rt.stop)
            transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
            client = Client(transport=transport, base_url="http://custodia")
            client.app = app
            return await stack.enter_async_context(client)

        yield factory


def runtime_of(client: Client) -> Runtime:
    rt: Runtime = client.app.state.runtime
    return rt


async def bearer(client: Client, role: str = "admin", name: str = "test") -> dict[str, str]:
    """Headers with a fresh token of ``role`` (admin or auditor)."""
    issued = await issue_token(runtime_of(client), SYSTEM, role=role, name=name)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {issued.token}"}


def totp_aligned(t: datetime | None = None) -> datetime:
    """5 s into a TOTP step, never ahead of ``t`` (Vault's created_time is real time)."""
    t = t or datetime.now(UTC)
    start = t.replace(second=(t.second // 30) * 30, microsecond=0) + timedelta(seconds=5)
    return start if start <= t else start - timedelta(seconds=30)


async def frozen(
    make_client: AppFactory,
    at: datetime | None = None,
    name: str = "frozen-admin",
    **overrides: Any,
) -> tuple[Client, FrozenClock, dict[str, str]]:
    """A new app (settings ``overrides``) whose clock stands at ``at`` (default:
    ``totp_aligned()``), and an admin's headers."""
    clock = FrozenClock(at or totp_aligned())
    client = await make_client(clock=clock, **overrides)
    return client, clock, await bearer(client, "admin", name)
