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
from datetime import datetime, timedelta

from service.audit.canonical import checkpoint_message
from service.audit.repository import AuditCheckpointRepository, AuditEventRepository, ChainPoint
from service.clock import rfc3339
from service.db.work import Work
from service.principal import SYSTEM
from service.runtime import Runtime

MAX_POLL_SECONDS = 30.0  # other replicas' appends are only seen by polling


async def due_checkpoints(
    work: Work, every: int, max_age: timedelta, now: datetime
) -> list[ChainPoint]:
    """The events that should be signed now and are not, in seq order."""
    events, checkpoints = AuditEventRepository(work), AuditCheckpointRepository(work)
    head = await events.point(None)
    if head is None:
        return []
    last_signed = await checkpoints.last_seq()
    last_multiple = await checkpoints.last_seq(multiple_of=every)
    wanted = set(range(last_multiple + every, head.seq + 1, every))
    if wanted:
        wanted -= await checkpoints.signed(wanted)
    covered = max([last_signed, *wanted])
    if head.seq > covered:
        oldest = await events.point(covered + 1)
        if oldest is not None and oldest.ts <= rfc3339(now - max_age):
            wanted.add(head.seq)
    due = []
    for seq in sorted(wanted):
        found = head if seq == head.seq else await events.point(seq)
        if found is not None:
            due.append(found)
    return due


async def make_due_checkpoints(rt: Runtime) -> list[int]:
    """Sign and store every due checkpoint; return the seqs this call stored."""
    settings = rt.settings
    async with rt.reader() as reader:
        due = await due_checkpoints(
            reader,
            settings.checkpoint_every_events,
            timedelta(seconds=settings.checkpoint_every_seconds),
            rt.clock.now(),
        )
    stored: list[int] = []
    for item in due:
        # VaultUnavailable propagates: the later checkpoints wait for this one.
        signature, version = await rt.vault.sign(checkpoint_message(item.seq, item.hash, item.ts))
        # It records no event, so it never takes the chain's lock.
        async with rt.unit_of_work(SYSTEM) as uow:
            if await AuditCheckpointRepository(uow).add_unless_signed(item, signature, version):
                stored.append(item.seq)
    return stored


async def checkpoint_round(rt: Runtime) -> float:
    """One round of the job; waits for a crossed boundary or the next poll."""
    rt.checkpoint_due.clear()
    await make_due_checkpoints(rt)
    poll = min(float(rt.settings.checkpoint_every_seconds), MAX_POLL_SECONDS)
    with suppress(TimeoutError):
        await asyncio.wait_for(rt.checkpoint_due.wait(), timeout=max(poll, 0.05))
    return 0.0
