"""Signed checkpoints of the hash chain, made by a job in every replica.

Two rules, both from settings: the event at every multiple of
``checkpoint_every_events`` is signed, and the head is signed once the oldest
unsigned event is ``checkpoint_every_seconds`` old. The message is
``canonical.checkpoint_message(seq, hash, ts)`` with the event's own ``ts``,
signed by the Ed25519 transit key in Vault. Replicas may race to sign the same
seq: the primary key keeps the first row and the others are skipped. If Vault
is unavailable the error propagates and the job retries; nothing is skipped or
faked.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from service.audit.canonical import checkpoint_message
from service.clock import rfc3339
from service.db.models import AuditCheckpoint, AuditEvent
from service.runtime import Runtime

MAX_POLL_SECONDS = 30.0  # other replicas' appends are only seen by polling


@dataclass(frozen=True)
class Due:
    seq: int
    hash: str
    ts: str


async def due_checkpoints(
    session: AsyncSession, every: int, max_age: timedelta, now: datetime
) -> list[Due]:
    """The events that should be signed now and are not, in seq order."""
    head = await _event_at(session, None)
    if head is None:
        return []
    last_signed = (await session.execute(select(func.max(AuditCheckpoint.seq)))).scalar() or 0
    last_multiple = (
        await session.execute(
            select(func.max(AuditCheckpoint.seq)).where(AuditCheckpoint.seq % every == 0)
        )
    ).scalar() or 0
    wanted = set(range(last_multiple + every, head.seq + 1, every))
    if wanted:
        signed = (
            await session.execute(
                select(AuditCheckpoint.seq).where(AuditCheckpoint.seq.in_(sorted(wanted)))
            )
        ).scalars()
        wanted -= set(signed)
    covered = max([last_signed, *wanted])
    if head.seq > covered:
        oldest = await _event_at(session, covered + 1)
        if oldest is not None and oldest.ts <= rfc3339(now - max_age):
            wanted.add(head.seq)
    due = []
    for seq in sorted(wanted):
        found = head if seq == head.seq else await _event_at(session, seq)
        if found is not None:
            due.append(found)
    return due


async def _event_at(session: AsyncSession, seq: int | None) -> Due | None:
    query = select(AuditEvent.seq, AuditEvent.hash, AuditEvent.ts)
    query = (
        query.order_by(AuditEvent.seq.desc()).limit(1)
        if seq is None
        else query.where(AuditEvent.seq == seq)
    )
    row = (await session.execute(query)).first()
    return None if row is None else Due(row.seq, row.hash, row.ts)


async def make_due_checkpoints(rt: Runtime) -> list[int]:
    """Sign and store every due checkpoint; return the seqs this call stored."""
    settings = rt.settings
    async with rt.sessions() as session:
        due = await due_checkpoints(
            session,
            settings.checkpoint_every_events,
            timedelta(seconds=settings.checkpoint_every_seconds),
            rt.clock.now(),
        )
    stored: list[int] = []
    for item in due:
        # VaultUnavailable propagates: the later checkpoints wait for this one.
        signature, version = await rt.vault.sign(checkpoint_message(item.seq, item.hash, item.ts))
        async with rt.transaction() as session:
            if await _insert_or_skip(session, item, signature, version):
                stored.append(item.seq)
    return stored


async def _insert_or_skip(session: AsyncSession, item: Due, signature: str, version: int) -> bool:
    values = {
        "seq": item.seq,
        "hash": item.hash,
        "ts": item.ts,
        "signature": signature,
        "key_version": version,
    }
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(AuditCheckpoint).values(**values).on_conflict_do_nothing()
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0))


async def checkpoint_round(rt: Runtime) -> float:
    """One round of the job; waits for a crossed boundary or the next poll."""
    rt.checkpoint_due.clear()
    await make_due_checkpoints(rt)
    poll = min(float(rt.settings.checkpoint_every_seconds), MAX_POLL_SECONDS)
    with suppress(TimeoutError):
        await asyncio.wait_for(rt.checkpoint_due.wait(), timeout=max(poll, 0.05))
    return 0.0
