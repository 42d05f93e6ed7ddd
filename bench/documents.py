"""Benchmark (not a test): the three documents through the HTTP service.

Body: 1,000 accounts and 200 gestores in custody for the protocol and the acta,
then 99,000 more accounts for the 100,000-row directory. Rows are bulk-inserted
(the use cases are not what is measured); documents are timed through the app's
HTTP endpoints with httpx's ASGI transport (no socket). Vault is a dead address:
documents never call it.

    python bench/documents.py [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/test_h9bench]
                              [--no-sqlite] [--no-pg]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.app import create_app
from service.db.migrate import upgrade_to_head
from service.db.models import (
    Account,
    Assignment,
    Checkout,
    CredentialVersion,
    Gestor,
    RotationObligation,
)
from service.principal import SYSTEM
from service.runtime import Runtime
from service.settings import Settings
from service.tokens.usecases import issue_token

AREA = "Comunicación Social"
AREAS = ("Protección Civil", "Presidencia Municipal", "Desarrollo Social", "Seguridad Pública")
PLATFORMS = ("facebook", "x", "instagram", "youtube", "tiktok", "threads")
NOW = datetime.now(UTC)


def _account(i: int, area: str) -> dict[str, Any]:
    platform = PLATFORMS[i % len(PLATFORMS)]
    handle = f"asmr_cuenta_{i:06d}"
    personal = i % 50 == 49
    return {
        "id": str(uuid.UUID(int=i + 1)),
        "platform": platform,
        "handle": handle,
        "url": f"https://{platform}.example/{handle}",
        "display_name": f"Cuenta {i} de {area}",
        "area": area,
        "kind": "personal" if personal else "oficial",
        "owner_name": "Servidora Pública" if personal else None,
        "owner_cargo": "Directora de Área" if personal else None,
        "hierarchy_level": (i % 6) if personal else None,
        "managed_by_area": personal,
        "verified": i % 4 != 3,
        "in_directory": i % 97 != 0,
        "created_at": NOW - timedelta(days=400),
        "updated_at": NOW - timedelta(days=i % 300),
        "credential_version": 1 + i % 4,
        "credential_created_time": NOW - timedelta(days=i % 80),
        "two_factor_method": "totp" if i % 2 == 0 else None,
        "recovery_email_masked": f"r••••@area{i % 7}.santamaria.gob.mx",
        "recovery_phone_masked": f"••••••{i % 10000:04d}",
    }


def _gestor(j: int) -> dict[str, Any]:
    external = j % 5 == 4
    return {
        "id": str(uuid.UUID(int=10**9 + j)),
        "name": f"Gestora Núñez Ibáñez {j:03d}",
        "email": f"g{j}@santamaria.gob.mx",
        "kind": "externo" if external else "servidor_publico",
        "cargo": None if external else "Analista de Redes Sociales Digitales",
        "provider": "Estrategia Digital Ñandú, S.C." if external else None,
        "area": AREA,
        "created_at": NOW - timedelta(days=500),
        "totp_state": "active",
        "totp_failures": 0,
        "responsiva_accepted_at": NOW - timedelta(days=j % 90) if j % 3 else None,
    }


async def _bulk(engine: Any, table: Any, rows: list[dict[str, Any]], batch: int = 5000) -> None:
    async with engine.begin() as conn:
        for k in range(0, len(rows), batch):
            await conn.execute(insert(table), rows[k : k + batch])


async def fill_body(url: str, accounts: int, gestores: int) -> None:
    """1,000 accounts of one área, 200 gestores, 2 assignments each, versions, checkouts."""
    engine = create_async_engine(url)
    await _bulk(engine, Account.__table__, [_account(i, AREA) for i in range(accounts)])
    await _bulk(engine, Gestor.__table__, [_gestor(j) for j in range(gestores)])
    gids = [_gestor(j)["id"] for j in range(gestores)]
    assignments, versions, checkouts, obligations = [], [], [], []
    for i in range(accounts):
        aid = str(uuid.UUID(int=i + 1))
        for k in range(2):
            assignments.append(
                {
                    "id": str(uuid.uuid4()),
                    "account_id": aid,
                    "gestor_id": gids[(i + k * 7) % gestores],
                    "assigned_at": NOW - timedelta(days=100),
                    "assigned_by": "bench",
                }
            )
        for v in range(1, 2 + i % 4):
            versions.append(
                {
                    "account_id": aid,
                    "version": v,
                    "created_time": NOW - timedelta(days=80 - v),
                    "written_by": "bench",
                    "written_by_role": "admin",
                    "reason": "rotation" if v > 1 else "alta",
                    "is_rotation": v > 1,
                }
            )
        for c in range(i % 3):
            granted = NOW - timedelta(days=c + 1)
            checkouts.append(
                {
                    "id": str(uuid.uuid4()),
                    "account_id": aid,
                    "gestor_id": gids[i % gestores],
                    "reason": "publicación",
                    "granted_at": granted,
                    "expires_at": granted + timedelta(minutes=30),
                    "rotation_required": False,
                    "closed_at": granted + timedelta(minutes=10),
                    "close_reason": "checked_in",
                }
            )
        if i % 10 == 0:
            obligations.append(
                {
                    "id": str(uuid.uuid4()),
                    "account_id": aid,
                    "reason": "max_age",
                    "triggered_by": "system",
                    "triggered_at": NOW - timedelta(days=2),
                    "due_at": NOW + timedelta(days=5 - i % 9),
                    "origins": [{"type": "scan", "id": 1, "reason": "max_age"}],
                }
            )
    await _bulk(engine, Assignment.__table__, assignments)
    await _bulk(engine, CredentialVersion.__table__, versions)
    await _bulk(engine, Checkout.__table__, checkouts)
    await _bulk(engine, RotationObligation.__table__, obligations)
    await engine.dispose()


async def fill_directory(url: str, start: int, total: int) -> None:
    """More accounts in other áreas, up to ``total``."""
    engine = create_async_engine(url)
    rows = [_account(i, AREAS[i % len(AREAS)]) for i in range(start, total)]
    await _bulk(engine, Account.__table__, rows)
    await engine.dispose()


async def timed(
    label: str, call: Callable[[], Awaitable[httpx.Response]], runs: int, results: list[str]
) -> httpx.Response:
    times = []
    resp = None
    for _ in range(runs):
        t0 = time.perf_counter()
        resp = await call()
        times.append(time.perf_counter() - t0)
        assert resp.status_code in (200, 201), (label, resp.status_code, resp.text[:300])
    assert resp is not None
    size = len(resp.content)
    line = (
        f"  {label:<46} median {statistics.median(times):6.2f} s  "
        f"min {min(times):6.2f} s  max {max(times):6.2f} s  ({runs} runs, {size / 1e6:.2f} MB)"
    )
    print(line, flush=True)
    results.append(line)
    return resp


async def run(url: str, label: str, accounts: int, gestores: int, total: int, runs: int) -> None:
    print(f"\n== {label}: {url}", flush=True)
    await asyncio.to_thread(upgrade_to_head, url)
    t0 = time.perf_counter()
    await fill_body(url, accounts, gestores)
    print(
        f"  fill body ({accounts} accounts, {gestores} gestores): {time.perf_counter() - t0:.1f} s"
    )
    settings = Settings(
        database_url=url,
        vault_addr="http://127.0.0.1:1",
        vault_token="unused",
        background_tasks=False,
        sujeto_obligado="Ayuntamiento de Santa María del Río",
        sujeto_obligado_siglas="ASMR",
        security_contact="Guardia de seguridad <seguridad@santamaria.gob.mx>",
        oic_contact="Órgano Interno de Control <oic@santamaria.gob.mx>",
        directory_show_gestores=True,
    )
    app = create_app(settings)
    rt: Runtime = app.state.runtime
    token = (await issue_token(rt, SYSTEM, role="admin", name="bench")).token
    headers = {"Authorization": f"Bearer {token}"}
    results: list[str] = []
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://b", timeout=600) as c:
        proto = "/v1/documents/security-protocol"
        pdf = await timed(
            "protocol PDF (1,000 accounts)",
            lambda: c.get(proto, params={"format": "pdf"}, headers=headers),
            runs,
            results,
        )
        print(f"    pages: {pdf.content.count(b'/Type /Page') - 1}")
        await timed(
            "protocol JSON",
            lambda: c.get(proto, params={"format": "json"}, headers=headers),
            runs,
            results,
        )
        gids = [_gestor(j)["id"] for j in (0, 1)]
        body = {
            "area": AREA,
            "outgoing": {"name": "Gestora 000", "cargo": "Jefa", "gestor_id": gids[0]},
            "incoming": {"name": "Gestora 001", "cargo": "Jefa", "gestor_id": gids[1]},
            "oic_representative": {"name": "Lic. Téllez", "cargo": "Auditor", "oficio": "OIC/1"},
            "witnesses": [
                {"name": "Testigo Uno", "cargo": "A"},
                {"name": "Testigo Dos", "cargo": "B"},
            ],
            "place": "Sala de Cabildo",
            "reason": "Conclusión del encargo",
            "started_at": NOW.isoformat(),
        }
        created = await timed(
            "handover create (1,000 accounts, one tx)",
            lambda: c.post("/v1/handovers", json=body, headers=headers),
            1,
            results,
        )
        hid = created.json()["id"]
        await timed(
            "handover close",
            lambda: c.post(f"/v1/handovers/{hid}/close", headers=headers),
            1,
            results,
        )
        acta = await timed(
            "acta PDF (1,000-row annex, closed)",
            lambda: c.get(f"/v1/handovers/{hid}", params={"format": "pdf"}, headers=headers),
            runs,
            results,
        )
        print(f"    pages: {acta.content.count(b'/Type /Page') - 1}")
        t0 = time.perf_counter()
        await fill_directory(url, accounts, total)
        print(f"  fill directory to {total} accounts: {time.perf_counter() - t0:.1f} s")
        csv = await timed(
            f"directory CSV ({total:,} accounts, with gestores)",
            lambda: c.get("/v1/public/directory", params={"format": "csv"}),
            runs,
            results,
        )
        print(f"    rows: {csv.text.count(chr(10)) - 1}")
        await timed(
            "directory JSON",
            lambda: c.get("/v1/public/directory", params={"format": "json"}),
            runs,
            results,
        )
        etag = csv.headers["etag"]
        await timed(
            "directory CSV, If-None-Match (304)",
            lambda: _not_modified(c, etag),
            runs,
            results,
        )
    await rt.stop()


async def _not_modified(c: httpx.AsyncClient, etag: str) -> httpx.Response:
    resp = await c.get(
        "/v1/public/directory", params={"format": "csv"}, headers={"If-None-Match": etag}
    )
    assert resp.status_code == 304
    resp.status_code = 200  # for timed()'s check
    return resp


async def reset_pg(url: str) -> None:
    base, _, name = url.rpartition("/")
    engine = create_async_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test_h9bench")
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--gestores", type=int, default=200)
    parser.add_argument("--directory", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sizes = (args.accounts, args.gestores, args.directory, args.runs)
    if not args.no_pg:
        asyncio.run(reset_pg(args.pg))
        asyncio.run(run(args.pg, "PostgreSQL", *sizes))
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{tmp}/bench.db"
            asyncio.run(run(url, "SQLite", *sizes))


if __name__ == "__main__":
    main()
