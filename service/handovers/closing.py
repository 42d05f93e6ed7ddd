"""An open handover until it closes: its parties corrected, then its end stamped and hashed.

``closed_sha256`` is the SHA-256 of the canonical JSON of ``{"record": ..., "annex": ...}``
as stored at closing (sorted keys, ``,``/``:`` separators, non-ASCII kept). The
audit head stamped at closing is the last event before the ``handover.closed`` event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from service.audit.log import Entry, append, head
from service.db.models import Handover
from service.documents.content import to_jsonable
from service.documents.formats import canonical_sha256
from service.documents.repository import DocumentRepository
from service.errors import Conflict, InvalidInput, NotFound
from service.handovers.repository import HandoverRepository
from service.handovers.schemas import HandoverOut, HandoverPatch
from service.handovers.usecases import handover_out, witnesses
from service.principal import Caller
from service.runtime import Runtime


async def _locked_open(session: Any, handover_id: str) -> Handover:
    row = await HandoverRepository(session).get(handover_id, lock=True)
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
        async with rt.transaction() as session:
            row = await _locked_open(session, handover_id)
            record = dict(row.record)
            for key, value in changes.items():
                record[key] = witnesses(value) if key == "witnesses" else msgspec.to_builtins(value)
            row.record = record
            await append(
                session,
                caller,
                Entry(
                    "handover.changed",
                    "ok",
                    subject=f"handover:{row.id}",
                    details={"folio": row.folio, "fields": sorted(changes)},
                ),
                rt.clock,
            )
    except Conflict:
        await rt.record(
            caller,
            Entry("handover.changed", "denied", subject=f"handover:{handover_id}", reason="closed"),
        )
        raise
    return handover_out(row)


async def close(rt: Runtime, caller: Caller, handover_id: str) -> HandoverOut:
    """Stamp the end, freeze pending matters and the audit head, hash the record."""
    try:
        async with rt.transaction() as session:
            row = await _locked_open(session, handover_id)
            seq, chain_hash = await head(session)
            started = datetime.fromisoformat(row.record["started_at"])
            now = rt.clock.now()
            pending = await DocumentRepository(session).open_obligations(row.record["account_ids"])
            record = {
                **row.record,
                "ended_at": now.astimezone(started.tzinfo).isoformat(),
                "audit_head": {"seq": seq, "hash": chain_hash},
                "pending": to_jsonable(
                    sorted(
                        (o for obs in pending.values() for o in obs), key=lambda o: (o.due_at, o.id)
                    )
                ),
            }
            row.record = record
            row.closed_at = now
            row.closing_head_seq, row.closing_head_hash = seq, chain_hash
            row.closed_sha256 = canonical_sha256({"record": record, "annex": row.annex})
            await append(
                session,
                caller,
                Entry(
                    "handover.closed",
                    "ok",
                    subject=f"handover:{row.id}",
                    details={
                        "folio": row.folio,
                        "closed_sha256": row.closed_sha256,
                        "audit_head_seq": seq,
                        "pending": len(record["pending"]),
                    },
                ),
                rt.clock,
            )
    except Conflict:
        await rt.record(
            caller,
            Entry("handover.closed", "denied", subject=f"handover:{handover_id}", reason="closed"),
        )
        raise
    return handover_out(row)
