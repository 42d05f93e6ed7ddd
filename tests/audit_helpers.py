"""Helpers for the audit-trail tests: events, fresh databases, service subprocesses."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from service.audit.log import Entry
from service.db.migrate import upgrade_to_head
from service.principal import SYSTEM
from service.runtime import Runtime
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


async def add_events(rt: Runtime, n: int, label: str = "test") -> None:
    """Append ``n`` events, with non-ASCII text so the canonical rule is exercised."""
    for i in range(n):
        await rt.record(
            SYSTEM,
            Entry(
                "audit.queried",
                "ok",
                subject=f"{label}:{i}",
                reason="revisión de área — ñandú",
                details={"i": i, "label": label, "nested": {"b": [1, "dos"], "a": None}},
            ),
        )


async def head_seq(rt: Runtime) -> int:
    async with rt.sessions() as session:
        value = (await session.execute(text("SELECT max(seq) FROM audit_events"))).scalar()
    return int(value or 0)


@asynccontextmanager
async def fresh_database(kind: str, pg_url: str, tmp: Path) -> AsyncIterator[str]:
    """A newly migrated private database, dropped afterwards, so tests may tamper with it."""
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / f'fresh-{secrets.token_hex(4)}.db'}"
        await asyncio.to_thread(upgrade_to_head, url)
        yield url
        return
    name = f"custodia_fresh_{secrets.token_hex(4)}"
    admin = create_async_engine(pg_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    try:
        await asyncio.to_thread(upgrade_to_head, url)
        yield url
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServiceProcess:
    """``custodia serve`` in a subprocess (real uvicorn), on the given settings."""

    def __init__(self, settings: Settings, log_path: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = {
            **os.environ,
            "CUSTODIA_DATABASE_URL": settings.database_url,
            "CUSTODIA_VAULT_ADDR": settings.vault_addr,
            "CUSTODIA_VAULT_ROLE_ID": settings.vault_role_id or "",
            "CUSTODIA_VAULT_SECRET_ID": settings.vault_secret_id or "",
            "CUSTODIA_PORT": str(self.port),
            "CUSTODIA_LOG_LEVEL": "WARNING",
            **env,
        }
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve"],
            cwd=ROOT,
            env=environ,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"service exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("service did not become ready")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook, no flush, no rollback from the process itself."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self._log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()


def lines_of(body: bytes) -> list[bytes]:
    return [line for line in body.split(b"\n") if line]


def kinds(lines: list[bytes]) -> dict[str, Any]:
    """Counts of event and checkpoint lines in an export."""
    checkpoints = sum(1 for line in lines if line.startswith(b'{"hash"'))
    return {"events": len(lines) - checkpoints, "checkpoints": checkpoints}
