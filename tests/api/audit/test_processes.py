"""Real service processes: two replicas appending at once, and SIGKILL mid-burst."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from service.db.models import AuditEvent
from service.settings import Settings
from tests.support.apps import Client, bearer, runtime_of
from tests.support.processes import ServiceProcess
from tests.support.reads import head_seq


async def _create_tokens(
    base_urls: list[str], headers: dict[str, str], n: int, label: str
) -> list[httpx.Response | BaseException]:
    """``n`` concurrent POST /v1/tokens, spread round-robin over ``base_urls``."""
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(timeout=60.0, limits=limits) as http:
        calls = [
            http.post(
                f"{base_urls[i % len(base_urls)]}/v1/tokens",
                json={"role": "auditor", "name": f"{label}-{i}"},
                headers=headers,
            )
            for i in range(n)
        ]
        return await asyncio.gather(*calls, return_exceptions=True)


async def test_two_processes_keep_one_gapless_chain(
    client: Client, settings: Settings, auditor: dict[str, str], tmp_path: Path
) -> None:
    rt = runtime_of(client)
    admin = await bearer(client, "admin", "replicas")
    replicas = [
        ServiceProcess(settings, tmp_path / f"replica-{i}.log", CUSTODIA_BACKGROUND_TASKS="false")
        for i in range(2)
    ]
    try:
        for replica in replicas:
            await asyncio.to_thread(replica.wait_ready)
        before = await head_seq(rt)
        results = await _create_tokens([r.url for r in replicas], admin, 200, "replica")
        statuses = [r.status_code if isinstance(r, httpx.Response) else repr(r) for r in results]
        assert statuses == [201] * 200, statuses
        after = await head_seq(rt)
        async with httpx.AsyncClient(timeout=60.0) as http:
            verdict = (await http.get(f"{replicas[0].url}/v1/audit/verify", headers=auditor)).json()
    finally:
        for replica in replicas:
            replica.stop()
    assert after - before == 200
    async with rt.sessions() as session:
        rows = (
            await session.execute(
                select(AuditEvent.seq, AuditEvent.action, AuditEvent.subject)
                .where(AuditEvent.seq > before, AuditEvent.seq <= after)
                .order_by(AuditEvent.seq)
            )
        ).all()
    assert [row.seq for row in rows] == list(range(before + 1, after + 1))
    assert {row.action for row in rows} == {"token.created"}
    made = {f"token:{r.json()['id']}" for r in results if isinstance(r, httpx.Response)}
    assert {row.subject for row in rows} == made
    assert verdict["valid"] is True, verdict
    assert verdict["checked"] >= after


def kill_mid_burst(service: ServiceProcess, database_url: str, seq: int) -> None:
    """SIGKILL ``service`` once the chain reaches ``seq``: some of the burst, not all of it."""

    # Its own thread, loop and engine: in the test's loop the burst's 300 responses could
    # delay the check until every request is answered (they do under coverage tracing).
    async def watch() -> None:
        engine = create_async_engine(database_url)
        try:
            for _ in range(600):
                await asyncio.sleep(0.01)
                async with engine.connect() as conn:
                    head = (await conn.execute(text("SELECT max(seq) FROM audit_events"))).scalar()
                if (head or 0) >= seq:
                    return
        finally:
            await engine.dispose()

    asyncio.run(watch())
    service.kill()


async def test_sigkill_mid_burst_leaves_a_chain_that_verifies(
    client: Client, settings: Settings, auditor: dict[str, str], tmp_path: Path
) -> None:
    rt = runtime_of(client)
    admin = await bearer(client, "admin", "sigkill")
    before = await head_seq(rt)
    service = ServiceProcess(
        settings, tmp_path / "killed.log", CUSTODIA_CHECKPOINT_EVERY_EVENTS="7"
    )
    await asyncio.to_thread(service.wait_ready)
    burst = asyncio.create_task(_create_tokens([service.url], admin, 300, "burst"))
    await asyncio.to_thread(kill_mid_burst, service, rt.settings.database_url, before + 20)
    results = await burst
    granted = [r for r in results if isinstance(r, httpx.Response) and r.status_code == 201]
    failed = [r for r in results if not isinstance(r, httpx.Response)]
    assert granted and failed, (len(granted), len(failed))

    restarted = ServiceProcess(settings, tmp_path / "restarted.log")
    try:
        await asyncio.to_thread(restarted.wait_ready)
        async with httpx.AsyncClient(timeout=60.0) as http:
            verdict = (await http.get(f"{restarted.url}/v1/audit/verify", headers=auditor)).json()
    finally:
        restarted.stop()
    assert verdict["valid"] is True, verdict
    # Every answered creation was committed with its event before the answer left.
    async with rt.sessions() as session:
        subjects = set(
            (
                await session.execute(
                    select(AuditEvent.subject).where(
                        AuditEvent.seq > before, AuditEvent.action == "token.created"
                    )
                )
            ).scalars()
        )
        count = (
            await session.execute(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.seq > before)
            )
        ).scalar()
    assert {f"token:{r.json()['id']}" for r in granted} <= subjects
    assert count is not None and count >= len(granted)
