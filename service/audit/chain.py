"""Verification and export of the stored chain, streamed from the database in batches."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.audit.canonical import EVENT_KEYS, canonical_json
from service.audit.repository import AuditCheckpointRepository, AuditEventRepository
from service.audit.verify import ChainVerifier, VerifyResult
from service.db.models import AuditCheckpoint
from service.runtime import Runtime

BATCH = 5000


def stored_event(row: Sequence[Any]) -> dict[str, Any] | None:
    """The event of a row as hashed, or None when ``details`` is not canonical JSON text."""
    event = dict(zip(EVENT_KEYS, row, strict=True))
    try:
        details = json.loads(event["details"])
    except (TypeError, ValueError):
        return None
    # The bytes hashed must be the bytes stored: a re-spaced details column is an edit.
    if canonical_json(details).decode() != event["details"]:
        return None
    event["details"] = details
    return event


def checkpoint_dict(row: AuditCheckpoint) -> dict[str, Any]:
    """A checkpoint as verified and exported."""
    return {
        "seq": row.seq,
        "hash": row.hash,
        "ts": row.ts,
        "signature": row.signature,
        "key_version": row.key_version,
    }


async def _event_batches(
    rt: Runtime, first: int, last: int, batch: int
) -> AsyncIterator[list[Sequence[Any]]]:
    """Rows with first <= seq <= last, by keyset pages; one short read per page."""
    after = first - 1
    while after < last:
        async with rt.reader() as reader:
            rows = await AuditEventRepository(reader).columns(after, last, batch)
        if not rows:
            return
        yield rows
        after = rows[-1][0]


async def verify_stored_chain(rt: Runtime, batch: int = BATCH) -> VerifyResult:
    """Recompute the chain from genesis and check every checkpoint against Vault's keys."""
    keys = await rt.vault.public_keys()
    async with rt.reader() as reader:
        # Checkpoints first, head second: every checkpoint read then signs an event
        # committed before the head is read, so one beyond the head is a truncation.
        checkpoints = await AuditCheckpointRepository(reader).from_seq(1)
        head = await AuditEventRepository(reader).last_seq()
    verifier = ChainVerifier(keys, from_genesis=True, retain_hashes=False)
    verifier.add_checkpoints(checkpoint_dict(c) for c in checkpoints)
    async for rows in _event_batches(rt, 1, head, batch):
        for row in rows:
            event = stored_event(row)
            if event is None:
                verifier.add_hashed(row[0], row[12], row[13], False)
            else:
                verifier.add_event(event)
        if verifier.broken:
            break
    return verifier.result()


@dataclass(frozen=True)
class ExportRange:
    """The contiguous run of seqs an export covers; empty when first > last."""

    first: int
    last: int

    @property
    def empty(self) -> bool:
        return self.first > self.last


async def export_range(rt: Runtime, since: datetime | None, until: datetime | None) -> ExportRange:
    """From the first event at or after ``since`` to the last one before ``until``.

    Bounds become seqs so that the export is one unbroken run of the chain even if
    replicas' clocks disagreed by a little: it verifies from its first ``prev_hash``.
    """
    async with rt.reader() as reader:
        bounds = await AuditEventRepository(reader).seq_bounds(since, until)
    return ExportRange(1, 0) if bounds is None else ExportRange(*bounds)


async def export_lines(rt: Runtime, span: ExportRange, batch: int = BATCH) -> AsyncIterator[bytes]:
    """JSON Lines: each event's canonical JSON with its hash, then the checkpoints in range."""
    if span.empty:
        return
    async for rows in _event_batches(rt, span.first, span.last, batch):
        chunk = bytearray()
        for row in rows:
            event = stored_event(row)
            if event is None:  # exported as stored, so the verifier flags it
                event = dict(zip(EVENT_KEYS, row, strict=True))
            chunk += canonical_json(event) + b"\n"
        yield bytes(chunk)
    after = span.first - 1
    while after < span.last:
        async with rt.reader() as reader:
            page = await AuditCheckpointRepository(reader).page(after, batch, last=span.last)
        if not page:
            return
        yield b"".join(
            canonical_json({"kind": "checkpoint", **checkpoint_dict(c)}) + b"\n" for c in page
        )
        after = page[-1].seq
