"""What auditors do with the trail; each read is itself recorded (auditing the auditors)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass

import msgspec

from service.audit.canonical import GENESIS_HASH
from service.audit.chain import ExportRange, export_lines, export_range, verify_stored_chain
from service.audit.log import Entry, event_dict
from service.audit.queries import EventFilter, TimeWindow
from service.audit.repository import AuditCheckpointRepository, AuditEventRepository
from service.audit.schemas import (
    AuditEventOut,
    Checkpoint,
    EventPage,
    Head,
    PublicKey,
    Verification,
)
from service.principal import Caller
from service.runtime import Runtime


async def search_events(rt: Runtime, caller: Caller, query: EventFilter) -> EventPage:
    """One page of events matching ``query``; the search is recorded as ``audit.queried``."""
    # The search commits before the record's transaction begins: a long scan never
    # holds anything a writer of any replica waits for.
    async with rt.reader() as reader:
        found = [event_dict(row) for row in await AuditEventRepository(reader).search(query)]
    details = {**query.as_details(), "count": len(found)}
    async with rt.unit_of_work(caller) as uow:
        uow.record(Entry("audit.queried", "ok", details=details))
    last = found[-1]["seq"] if len(found) == query.limit else None
    return EventPage([msgspec.convert(e, AuditEventOut) for e in found], last)


async def list_checkpoints(
    rt: Runtime, caller: Caller, after_seq: int, limit: int
) -> list[Checkpoint]:
    """Signed checkpoints after ``after_seq``, by seq; recorded as ``audit.checkpoints_listed``."""
    async with rt.reader() as reader:
        rows = await AuditCheckpointRepository(reader).page(after_seq, limit)
    details = {"after_seq": after_seq, "count": len(rows)}
    async with rt.unit_of_work(caller) as uow:
        uow.record(Entry("audit.checkpoints_listed", "ok", details=details))
    return [Checkpoint(r.seq, r.hash, r.ts, r.signature, r.key_version) for r in rows]


async def check_chain(rt: Runtime, caller: Caller) -> Verification:
    """Recompute the stored chain from genesis; the verdict is recorded as ``audit.verified``."""
    result = await verify_stored_chain(rt)
    # An empty chain's head is seq 0 and the genesis hash.
    head = Head(result.head_seq or 0, result.head_hash or GENESIS_HASH)
    verdict = Verification(
        result.valid, result.checked, head, result.first_invalid_seq, result.problem
    )
    details = {
        "valid": verdict.valid,
        "checked": verdict.checked,
        "head_seq": head.seq,
        "first_invalid_seq": verdict.first_invalid_seq,
        "problem": verdict.problem,
    }
    async with rt.unit_of_work(caller) as uow:
        uow.record(Entry("audit.verified", "ok", details=details))
    return verdict


@dataclass(frozen=True)
class Export:
    """A started export: the run of seqs it covers and its JSON Lines, read as sent."""

    span: ExportRange
    lines: AsyncIterator[bytes]

    @property
    def filename(self) -> str:
        name = "empty" if self.span.empty else f"{self.span.first}-{self.span.last}"
        return f"custodia-audit-{name}.jsonl"


async def start_export(rt: Runtime, caller: Caller, window: TimeWindow) -> Export:
    """Record ``audit.exported``, then fix the range, so an open-ended export includes it."""
    details = {"since": window.since_text, "until": window.until_text}
    async with rt.unit_of_work(caller) as uow:
        uow.record(Entry("audit.exported", "ok", details=details))
    span = await export_range(rt, window.since, window.until)
    return Export(span, export_lines(rt, span))


async def newest_public_key(rt: Runtime) -> PublicKey:
    """The newest Ed25519 key that verifies checkpoint signatures."""
    keys = await rt.vault.public_keys()
    version = max(keys)
    return PublicKey("ed25519", base64.b64encode(keys[version]).decode(), version)
