"""Audit-trail benchmark on PostgreSQL and a real OpenBao dev server (not a test).

    python bench/audit.py [--events 1000000] [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/test_h7bench]

Creates (and at the end keeps) the database named in --pg, then prints:
append rate through the real ``append`` (sequential and 16 concurrent callers,
on a sample), the fill of the remaining events by a bulk path that still
computes the real chain (COPY), checkpoint signing through Vault transit, the
service's verify rate, the export rate, the offline verifier's rate on that
export, the hashlib floor over the same bytes, and p50/p95 of filtered queries.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import io
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import select
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.audit.canonical import canonical_json, event_hash  # noqa: E402
from service.audit.chain import export_lines, export_range, verify_stored_chain  # noqa: E402
from service.audit.checkpoints import make_due_checkpoints  # noqa: E402
from service.audit.log import Entry, head  # noqa: E402
from service.audit.offline import main as offline_main  # noqa: E402
from service.clock import rfc3339  # noqa: E402
from service.db.migrate import upgrade_to_head  # noqa: E402
from service.db.models import AuditEvent  # noqa: E402
from service.devstack.bootstrap import bootstrap_vault  # noqa: E402
from service.principal import Caller, Principal  # noqa: E402
from service.runtime import Runtime, build_runtime  # noqa: E402
from service.settings import Settings  # noqa: E402
from tests.bao_server import start_dev_server, stop  # noqa: E402

ACTORS = [f"gestor:{i:08d}-3b9d-4c1e-9a8f-2d3c4b5a6e7f" for i in range(200)]
ACCOUNTS = [f"{i:08d}-4e5f-6789-abcd-ef0123456789" for i in range(500)]
ACTIONS = ["checkout.granted", "checkout.checked_in", "checkout.refused", "credential.written"]
START = datetime(2025, 11, 28, tzinfo=UTC)
STEP = timedelta(seconds=30)  # 1M events over about a year
COLUMNS = [c.name for c in AuditEvent.__table__.columns]


def synthetic(seq: int, prev: str, rng: random.Random) -> dict[str, object]:
    """A realistic event; the hash is computed by the real rule."""
    action = rng.choice(ACTIONS)
    event: dict[str, object] = {
        "seq": seq,
        "ts": rfc3339(START + STEP * seq),
        "actor": rng.choice(ACTORS),
        "actor_role": "gestor",
        "action": action,
        "outcome": "denied" if action == "checkout.refused" else "granted",
        "account_id": rng.choice(ACCOUNTS),
        "subject": f"checkout:{seq:08d}-4f5a-6b7c-8d9e-0f1a2b3c4d5e",
        "reason": "publicación programada",
        "request_id": f"{seq:08d}-5b4a-3928-1706-f5e4d3c2b1a0",
        "ip": "10.0.0.12",
        "details": {"minutes": 30, "rotation_required": False},
        "prev_hash": prev,
    }
    event["hash"] = event_hash(event)
    return event


async def create_database(url: str) -> None:
    parsed = make_url(url)
    dsn = parsed.set(drivername="postgresql", database="postgres").render_as_string(False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        await conn.close()
    await asyncio.to_thread(upgrade_to_head, url)


async def append_rate(rt: Runtime, n: int, concurrency: int) -> float:
    caller = Caller(Principal("bench", "bench", "admin"), request_id="bench", ip="127.0.0.1")
    queue = list(range(n))

    async def worker() -> None:
        while queue:
            i = queue.pop()
            await rt.record(caller, Entry("audit.queried", "ok", details={"i": i}))

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - t0)


async def bulk_fill(url: str, rt: Runtime, total: int) -> float:
    """COPY the remaining events; the chain continues from the real head."""
    async with rt.reader() as reader:
        seq, prev = await head(reader.session)
    dsn = make_url(url).set(drivername="postgresql").render_as_string(False)
    conn = await asyncpg.connect(dsn)
    rng = random.Random(1)
    t0 = time.perf_counter()
    try:
        while seq < total:
            rows = []
            for s in range(seq + 1, min(seq + 50_000, total) + 1):
                event = synthetic(s, prev, rng)
                prev = str(event["hash"])
                stored = {**event, "details": canonical_json(event["details"]).decode()}  # type: ignore[arg-type]
                rows.append(tuple(stored[c] for c in COLUMNS))
            await conn.copy_records_to_table("audit_events", records=rows, columns=COLUMNS)
            seq = rows[-1][COLUMNS.index("seq")]  # type: ignore[assignment]
        await conn.execute("ANALYZE audit_events")
    finally:
        await conn.close()
    return time.perf_counter() - t0


async def query_latencies(rt: Runtime, n: int) -> dict[str, list[float]]:
    rng = random.Random(2)
    out: dict[str, list[float]] = {
        "actor+time range": [],
        "actor+time range as seq range": [],
        "account": [],
        "account, next page": [],
    }
    # Raw queries, timed one by one: the variants compared are SQL, not use cases.
    async with rt.reader() as reader:
        session = reader.session
        for _ in range(n):
            since = START + timedelta(days=rng.randrange(0, 330))
            until = since + timedelta(days=rng.choice([1, 7, 30]))
            queries = {
                "actor+time range": select(AuditEvent)
                .where(
                    AuditEvent.actor == rng.choice(ACTORS),
                    AuditEvent.ts >= rfc3339(since),
                    AuditEvent.ts < rfc3339(until),
                )
                .order_by(AuditEvent.seq)
                .limit(100),
                "account": select(AuditEvent)
                .where(AuditEvent.account_id == rng.choice(ACCOUNTS))
                .order_by(AuditEvent.seq)
                .limit(100),
                "account, next page": select(AuditEvent)
                .where(
                    AuditEvent.account_id == rng.choice(ACCOUNTS),
                    AuditEvent.seq > rng.randrange(1, 900_000),
                )
                .order_by(AuditEvent.seq)
                .limit(100),
            }
            # The same filter with the time range first turned into a seq range
            # (ts grows with seq), so the (actor, seq) index seeks instead of scanning.
            t0 = time.perf_counter()
            first = (
                await session.execute(
                    select(AuditEvent.seq)
                    .where(AuditEvent.ts >= rfc3339(since))
                    .order_by(AuditEvent.ts)
                    .limit(1)
                )
            ).scalar()
            last = (
                await session.execute(
                    select(AuditEvent.seq)
                    .where(AuditEvent.ts < rfc3339(until))
                    .order_by(AuditEvent.ts.desc())
                    .limit(1)
                )
            ).scalar()
            (
                await session.execute(
                    select(AuditEvent)
                    .where(
                        AuditEvent.actor == rng.choice(ACTORS),
                        AuditEvent.seq >= (first or 0),
                        AuditEvent.seq <= (last or 0),
                    )
                    .order_by(AuditEvent.seq)
                    .limit(100)
                )
            ).scalars().all()
            out["actor+time range as seq range"].append((time.perf_counter() - t0) * 1000)
            for name, query in queries.items():
                t0 = time.perf_counter()
                (await session.execute(query)).scalars().all()
                out[name].append((time.perf_counter() - t0) * 1000)
    return out


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


async def queries_only(args: argparse.Namespace, settings: Settings) -> None:
    rt = build_runtime(dataclasses.replace(settings, database_url=args.pg))
    try:
        latencies = await query_latencies(rt, args.queries)
    finally:
        await rt.stop()
    for name, values in latencies.items():
        print(
            f"query {name} (limit 100): p50 {pct(values, 50):.2f} ms, "
            f"p95 {pct(values, 95):.2f} ms over {len(values)}"
        )


async def run(args: argparse.Namespace, settings: Settings) -> None:
    if args.queries_only:
        await queries_only(args, settings)
        return
    await create_database(args.pg)
    rt = build_runtime(dataclasses.replace(settings, database_url=args.pg))
    await rt.start()
    try:
        seq_rate = await append_rate(rt, args.sample, 1)
        conc_rate = await append_rate(rt, args.sample, 16)
        print(
            f"append (real append, PG): {seq_rate:,.0f} events/s sequential, "
            f"{conc_rate:,.0f} events/s with 16 concurrent callers ({args.sample} each)"
        )
        took = await bulk_fill(args.pg, rt, args.events)
        print(f"bulk fill to {args.events:,} events (chain computed, COPY): {took:.1f} s")
        t0 = time.perf_counter()
        made = await make_due_checkpoints(rt)
        print(
            f"checkpoints signed through Vault transit: {len(made)} in "
            f"{time.perf_counter() - t0:.1f} s"
        )

        t0 = time.perf_counter()
        result = await verify_stored_chain(rt)
        took = time.perf_counter() - t0
        print(
            f"service verify (DB -> verifier, from genesis): {result.checked / took:,.0f} "
            f"events/s ({took:.1f} s), valid={result.valid}"
        )

        path = Path(args.export)
        t0 = time.perf_counter()
        with path.open("wb") as out:  # noqa: ASYNC230 - a benchmark, measured as a whole
            async for chunk in export_lines(rt, await export_range(rt, None, None)):
                out.write(chunk)
        took = time.perf_counter() - t0
        size = path.stat().st_size  # noqa: ASYNC240
        print(
            f"export (streamed from DB): {result.checked / took:,.0f} events/s ({took:.1f} s, "
            f"{size / 1e6:.0f} MB)"
        )
        key = await rt.vault.public_keys()
        key_file = path.with_suffix(".key")
        key_file.write_text(base64.b64encode(key[max(key)]).decode())
    finally:
        await rt.stop()

    t0 = time.perf_counter()
    n = 0
    with path.open("rb") as stream:  # noqa: ASYNC230
        for line in stream:
            hashlib.sha256(line).digest()
            n += 1
    floor = time.perf_counter() - t0
    print(f"floor, hashlib.sha256 per line of the export: {n / floor:,.0f} lines/s ({floor:.2f} s)")
    out_text = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out_text):
        code = offline_main([str(path), "--public-key", str(key_file)])
    took = time.perf_counter() - t0
    print(
        f"offline verify (custodia audit verify): {result.checked / took:,.0f} events/s "
        f"({took:.2f} s), exit {code}: {out_text.getvalue().strip()}"
    )

    await queries_only(args, settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=2000, help="events appended per rate")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--queries-only", action="store_true", help="reuse the filled --pg")
    parser.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test_h7bench")
    parser.add_argument(
        "--export", default=os.path.join(tempfile.gettempdir(), "audit-bench.jsonl")
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = start_dev_server(Path(tmp))
        try:
            creds = bootstrap_vault(server.addr, server.root_token, ROOT / "vault_policies")
            settings = Settings(
                vault_addr=server.addr,
                vault_role_id=creds.role_id,
                vault_secret_id=creds.secret_id,
                background_tasks=False,
            )
            asyncio.run(run(args, settings))
        finally:
            stop(server)


if __name__ == "__main__":
    main()
