"""Mutation tests against the database: each tampering is found at the right seq.

Each test makes its own freshly migrated database (a temporary SQLite file, or a
PostgreSQL database created and dropped here), turns its append-only triggers
off and tampers with it, restoring the original rows after every mutation. The
session's shared database is never touched.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from service.app import create_app
from service.audit.canonical import EVENT_KEYS, canonical_json, checkpoint_message, event_hash
from service.audit.checkpoints import make_due_checkpoints
from service.principal import SYSTEM
from service.runtime import Runtime
from service.settings import Settings
from service.tokens.usecases import issue_token
from tests.support.apps import PG_URL
from tests.support.databases import fresh_database
from tests.support.factories import add_events

EVENT_COLUMNS = list(EVENT_KEYS)
CHECKPOINT_COLUMNS = ["seq", "hash", "ts", "signature", "key_version"]
EVERY = 10
Rows = list[dict[str, Any]]


@dataclasses.dataclass
class Lab:
    """A private database with a chain, its pristine rows and an auditor's client."""

    engine: AsyncEngine
    client: httpx.AsyncClient
    headers: dict[str, str]
    events: Rows
    checkpoints: Rows

    @property
    def head(self) -> int:
        return int(self.events[-1]["seq"])

    @property
    def checkpoint_seqs(self) -> list[int]:
        return [int(c["seq"]) for c in self.checkpoints]

    async def verify(self) -> dict[str, Any]:
        resp = await self.client.get("/v1/audit/verify", headers=self.headers)
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        return body

    async def restore(self) -> None:
        async with self.engine.begin() as conn:
            await _replace(conn, self.events, self.checkpoints)


async def _replace(conn: AsyncConnection, events: Rows, checkpoints: Rows) -> None:
    await conn.execute(text("DELETE FROM audit_events"))
    await conn.execute(text("DELETE FROM audit_checkpoints"))
    for table, columns, rows in (
        ("audit_events", EVENT_COLUMNS, events),
        ("audit_checkpoints", CHECKPOINT_COLUMNS, checkpoints),
    ):
        if rows:
            names = ", ".join(columns)
            values = ", ".join(f":{c}" for c in columns)
            await conn.execute(text(f"INSERT INTO {table} ({names}) VALUES ({values})"), rows)


async def _rows(conn: AsyncConnection, table: str, columns: list[str]) -> Rows:
    result = await conn.execute(text(f"SELECT {', '.join(columns)} FROM {table} ORDER BY seq"))
    return [dict(row._mapping) for row in result]


async def _triggers_off(conn: AsyncConnection) -> None:
    if conn.dialect.name == "postgresql":
        for table in ("audit_events", "audit_checkpoints"):
            await conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        return
    for table in ("audit_events", "audit_checkpoints"):
        for verb in ("update", "delete"):
            await conn.execute(text(f"DROP TRIGGER {table}_no_{verb}"))


@pytest.fixture
async def lab(settings: Settings, tmp_path: Path) -> AsyncIterator[Lab]:
    kind = "sqlite" if settings.is_sqlite else "postgresql"
    async with fresh_database(kind, PG_URL, tmp_path) as url:
        app = create_app(
            dataclasses.replace(settings, database_url=url, checkpoint_every_events=EVERY)
        )
        rt: Runtime = app.state.runtime
        await rt.start()
        engine = create_async_engine(url)
        try:
            issued = await issue_token(rt, SYSTEM, role="auditor", name="oic")
            await add_events(rt, 44, "lab")
            await make_due_checkpoints(rt)
            async with engine.begin() as conn:
                await _triggers_off(conn)
                events = await _rows(conn, "audit_events", EVENT_COLUMNS)
                checkpoints = await _rows(conn, "audit_checkpoints", CHECKPOINT_COLUMNS)
            transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
            async with httpx.AsyncClient(transport=transport, base_url="http://lab") as client:
                yield Lab(
                    engine,
                    client,
                    {"Authorization": f"Bearer {issued.token}"},
                    events,
                    checkpoints,
                )
        finally:
            await engine.dispose()
            await rt.stop()


def _event(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "details": json.loads(row["details"])}


def _stored(event: dict[str, Any]) -> dict[str, Any]:
    return {**event, "details": canonical_json(event["details"]).decode()}


def _flip(value: str, rng: random.Random, alphabet: str) -> str:
    pos = rng.randrange(len(value))
    choice = rng.choice([c for c in alphabet if c != value[pos]])
    return value[:pos] + choice + value[pos + 1 :]


Mutation = Callable[[Lab, random.Random], tuple[Rows, Rows, int, str]]


def edit_byte(lab: Lab, rng: random.Random) -> tuple[Rows, Rows, int, str]:
    events = [dict(e) for e in lab.events]
    seq = rng.randrange(1, lab.head + 1)
    row = events[seq - 1]
    field = rng.choice([c for c in EVENT_COLUMNS if c != "seq" and row[c]])
    alphabet = "0123456789abcdef" if field in ("hash", "prev_hash") else 'xyzXYZ019:,{}" '
    row[field] = _flip(row[field], rng, alphabet)
    return events, lab.checkpoints, seq, "hash_mismatch"


def delete_event(lab: Lab, rng: random.Random) -> tuple[Rows, Rows, int, str]:
    seq = rng.randrange(1, lab.head)  # deleting the very last event is a truncation
    events = [e for e in lab.events if e["seq"] != seq]
    return events, lab.checkpoints, seq, "gap"


def swap_events(lab: Lab, rng: random.Random) -> tuple[Rows, Rows, int, str]:
    first, second = sorted(rng.sample(range(1, lab.head + 1), 2))
    events = [dict(e) for e in lab.events]
    a, b = events[first - 1], events[second - 1]
    events[first - 1] = {**b, "seq": first}
    events[second - 1] = {**a, "seq": second}
    return events, lab.checkpoints, first, "hash_mismatch"


def _forged(prev: dict[str, Any], seq: int) -> dict[str, Any]:
    event = {**_event(prev), "seq": seq, "actor": "token:forged", "prev_hash": prev["hash"]}
    event["details"] = {"forged": True}
    event["hash"] = event_hash(event)
    return _stored(event)


def insert_forged(lab: Lab, rng: random.Random) -> tuple[Rows, Rows, int, str]:
    seq = rng.randrange(2, lab.head + 1)
    before = [dict(e) for e in lab.events[: seq - 1]]
    after = [{**e, "seq": e["seq"] + 1} for e in lab.events[seq - 1 :]]
    events = [*before, _forged(before[-1], seq), *after]
    if seq in lab.checkpoint_seqs:
        return events, lab.checkpoints, seq, "checkpoint_mismatch"
    return events, lab.checkpoints, seq + 1, "hash_mismatch"


def rewrite_tail(lab: Lab, rng: random.Random) -> tuple[Rows, Rows, int, str]:
    """A careful forger: edits one event and re-hashes everything after it."""
    seq = rng.randrange(1, max(lab.checkpoint_seqs) + 1)
    events = [dict(e) for e in lab.events]
    prev = events[seq - 2]["hash"] if seq > 1 else "0" * 64
    for index in range(seq - 1, len(events)):
        event = _event(events[index])
        if index == seq - 1:
            event["actor"] = "token:someone-else"
        event["prev_hash"] = prev
        event["hash"] = prev = event_hash(event)
        events[index] = _stored(event)
    first = min(c for c in lab.checkpoint_seqs if c >= seq)
    return events, lab.checkpoints, first, "checkpoint_mismatch"


def truncate_tail(lab: Lab, rng: random.Random) -> tuple[Rows, Rows, int, str]:
    cut = rng.randrange(2, max(lab.checkpoint_seqs) + 1)
    events = [e for e in lab.events if e["seq"] < cut]
    first = min(c for c in lab.checkpoint_seqs if c >= cut)
    return events, lab.checkpoints, first, "checkpoint_mismatch"


def edit_checkpoint(lab: Lab, rng: random.Random) -> tuple[Rows, Rows, int, str]:
    checkpoints = [dict(c) for c in lab.checkpoints]
    row = rng.choice(checkpoints)
    field = rng.choice(["hash", "ts", "signature"])
    if field == "signature":  # the last base64 characters may carry only padding bits
        row[field] = _flip(row[field][:80], rng, "ABCxyz0189+/") + row[field][80:]
    else:
        row[field] = _flip(row[field], rng, "0123456789abcdef")
    return lab.events, checkpoints, int(row["seq"]), "bad_signature"


def foreign_key_signature(lab: Lab, rng: random.Random) -> tuple[Rows, Rows, int, str]:
    """Checkpoints re-signed with a key that is not Vault's: the public key replaced."""
    key = Ed25519PrivateKey.generate()
    checkpoints = [dict(c) for c in lab.checkpoints]
    for row in checkpoints:
        signature = key.sign(checkpoint_message(row["seq"], row["hash"], row["ts"]))
        row["signature"] = base64.b64encode(signature).decode()
    return lab.events, checkpoints, min(lab.checkpoint_seqs), "bad_signature"


MUTATIONS: list[Mutation] = [
    edit_byte,
    delete_event,
    swap_events,
    insert_forged,
    rewrite_tail,
    truncate_tail,
    edit_checkpoint,
    foreign_key_signature,
]


async def test_every_database_tampering_is_found_at_its_seq(lab: Lab) -> None:
    pristine = await lab.verify()
    assert pristine["valid"] is True, pristine
    assert lab.checkpoint_seqs == [10, 20, 30, 40]
    rng = random.Random(20261128)
    for round_ in range(48):
        mutation = MUTATIONS[round_ % len(MUTATIONS)]
        events, checkpoints, seq, problem = mutation(lab, rng)
        async with lab.engine.begin() as conn:
            await _replace(conn, events, checkpoints)
        found = await lab.verify()
        assert (found["valid"], found["first_invalid_seq"], found["problem"]) == (
            False,
            seq,
            problem,
        ), (mutation.__name__, found)
        await lab.restore()
    assert (await lab.verify())["valid"] is True
