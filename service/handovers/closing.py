"""An open handover until it closes: its parties corrected, then its end stamped and hashed.

``closed_sha256`` is the SHA-256 of the canonical JSON of ``{"record": ..., "annex": ...}``
as stored at closing (sorted keys, ``,``/``:`` separators, non-ASCII kept). The
audit head stamped at closing is the last event before the ``handover.closed`` event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from service.audit.log import Entry
from service.db.models import Handover
from service.documents.content import AuditHead, Obligation, to_jsonable
from service.documents.formats import canonical_sha256
from service.documents.repository import DocumentRepository
from service.errors import Conflict, InvalidInput, NotFound
from service.handovers.repository import HandoverRepository
from service.handovers.schemas import HandoverOut, HandoverPatch
from service.handovers.usecases import handover_out, witnesses
from service.principal import Caller
from service.runtime import Runtime


async def _locked_open(repo: HandoverRepository, handover_id: str) -> Handover:
    row = await repo.get(handover_id, lock=True)
    if row is None:
        raise NotFound(f"No handover with id {handover_id}")
    if row.closed_at is not None:
        raise Conflict(f"Handover {row.folio} is closed; its acta can no longer change")
    return row


async def edit(rt: Runtime, caller: Caller, handover_id: str, patch: HandoverPatch) -> HandoverOut:
    """Correct the parties' details of an open acta; the annex never changes."""
    changes = {k: v for k, v in msgspec.structs.asdict(patch).items() if v is not msgspec.UNSET}
    if "witnesses" in changes and len(changes["witnesses"]) < 2:
        raise InvalidInput("An acta needs at least two witnesses", field="witnesses")
    try:
        async with rt.unit_of_work(caller) as uow:
            row = await _locked_open(HandoverRepository(uow), handover_id)
            record = dict(row.record)
            for key, value in changes.items():
                record[key] = witnesses(value) if key == "witnesses" else msgspec.to_builtins(value)
            row.record = record
            uow.record(
                Entry(
                    "handover.changed",
                    "ok",
                    subject=f"handover:{row.id}",
                    details={"folio": row.folio, "fields": sorted(changes)},
                )
            )
    except Conflict:
        await rt.record(
            caller,
            Entry("handover.changed", "denied", subject=f"handover:{handover_id}", reason="closed"),
        )
        raise
    return handover_out(row)


def _closed_record(
    row: Handover, now: datetime, audit_head: AuditHead, pending: list[Obligation]
) -> dict[str, Any]:
    """The record with its end (in the start's offset), audit head and pending matters."""
    started = datetime.fromisoformat(row.record["started_at"])
    return {
        **row.record,
        "ended_at": now.astimezone(started.tzinfo).isoformat(),
        "audit_head": {"seq": audit_head.seq, "hash": audit_head.hash},
        "pending": to_jsonable(sorted(pending, key=lambda o: (o.due_at, o.id))),
    }


async def close(rt: Runtime, caller: Caller, handover_id: str) -> HandoverOut:
    """Stamp the end, freeze pending matters and the audit head, hash the record."""
    try:
        async with rt.unit_of_work(caller) as uow:
            row = await _locked_open(HandoverRepository(uow), handover_id)
            documents = DocumentRepository(uow)
            grouped = await documents.open_obligations(row.record["account_ids"])
            # Last: the chain stays locked from this read until handover.closed is appended.
            audit_head = AuditHead(*await uow.chain_head())
            now = uow.now()
            record = _closed_record(row, now, audit_head, [o for v in grouped.values() for o in v])
            row.record = record
            row.closed_at = now
            row.closing_head_seq, row.closing_head_hash = audit_head.seq, audit_head.hash
            row.closed_sha256 = canonical_sha256({"record": record, "annex": row.annex})
            uow.record(
                Entry(
                    "handover.closed",
                    "ok",
                    subject=f"handover:{row.id}",
                    details={
                        "folio": row.folio,
                        "closed_sha256": row.closed_sha256,
                        "audit_head_seq": audit_head.seq,
                        "pending": len(record["pending"]),
                    },
                )
            )
    except Conflict:
        await rt.record(
            caller,
            Entry("handover.closed", "denied", subject=f"handover:{handover_id}", reason="closed"),
        )
        raise
    return handover_out(row)
