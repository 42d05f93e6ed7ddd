"""Entrega-recepción: create (custody moves, obligations open, annex freezes), edit, close.

``closed_sha256`` is the SHA-256 of the canonical JSON of ``{"record": ..., "annex": ...}``
as stored at closing (sorted keys, ``,``/``:`` separators, non-ASCII kept). The
audit head stamped at closing is the last event before the ``handover.closed`` event.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, NoReturn

import msgspec
from sqlalchemy.exc import IntegrityError

from service.audit.log import Entry, append, head
from service.clock import past_instant_problem
from service.db.models import Assignment, Handover
from service.documents.acta import annex_sha256, annex_to_json
from service.documents.content import to_jsonable
from service.documents.formats import canonical_sha256
from service.documents.queries import live_accounts, open_obligations
from service.documents.usecases import in_custody
from service.domain.triggers import Trigger
from service.errors import Conflict, DomainError, InvalidInput, NotFound
from service.handovers.annex import build_annex, gestores_before
from service.handovers.repository import HandoverRepository
from service.handovers.schemas import HandoverIn, HandoverOut, HandoverPatch
from service.principal import Caller
from service.rotations import triggers
from service.rotations.access import force_close_checkouts
from service.rotations.obligations import as_utc, audit_lock_first, opt_utc
from service.runtime import Runtime


async def _refuse(rt: Runtime, caller: Caller, error: DomainError, why: str, area: str) -> NoReturn:
    await rt.record(caller, Entry("handover.created", "denied", reason=why, details={"area": area}))
    raise error


def _witnesses(items: list[Any]) -> list[dict[str, str]]:
    return [{"name": w.name, "cargo": w.cargo} for w in items]


async def _validate(rt: Runtime, caller: Caller, data: HandoverIn) -> None:
    area = data.area
    if data.oic_representative is None:
        error = InvalidInput(
            "An acta needs the representative of the órgano interno de control",
            field="oic_representative",
        )
        await _refuse(rt, caller, error, "no_oic_representative", area)
    if len(data.witnesses) < 2:
        error = InvalidInput("An acta needs at least two witnesses", field="witnesses")
        await _refuse(rt, caller, error, "too_few_witnesses", area)
    problem = past_instant_problem(data.started_at, rt.clock.now())
    if problem is not None:
        error = InvalidInput(f"started_at {problem}", field="started_at")
        await _refuse(rt, caller, error, "bad_started_at", area)
    if data.incoming.gestor_id == data.outgoing.gestor_id:
        error = InvalidInput("The incoming and outgoing gestor must differ", field="incoming")
        await _refuse(rt, caller, error, "same_gestor", area)


async def create(rt: Runtime, caller: Caller, data: HandoverIn) -> HandoverOut:
    """All or nothing: assignments, obligations, the frozen annex and the row commit together."""
    await _validate(rt, caller, data)
    try:
        row = await _create(rt, caller, data)
    except DomainError as error:
        # The transaction rolled back; the refusal is recorded on its own.
        await _refuse(rt, caller, error, type(error).__name__, data.area)
    return handover_out(row)


async def _create(rt: Runtime, caller: Caller, data: HandoverIn) -> Handover:
    now = rt.clock.now()
    handover_id = str(uuid.uuid4())
    oic = data.oic_representative
    assert oic is not None  # checked by _validate
    async with rt.transaction() as session:
        await audit_lock_first(session)
        repo = HandoverRepository(session)
        incoming = await repo.gestor(data.incoming.gestor_id)
        if incoming is None:
            raise InvalidInput("incoming.gestor_id names no gestor", field="incoming.gestor_id")
        if incoming.departed_at is not None:
            raise Conflict("The incoming gestor has departed and cannot receive custody")
        outgoing_id = data.outgoing.gestor_id
        if outgoing_id is not None and await repo.gestor(outgoing_id) is None:
            raise InvalidInput("outgoing.gestor_id names no gestor", field="outgoing.gestor_id")
        accounts = [a for a in await live_accounts(session, data.area) if in_custody(a, rt)]
        if not accounts:
            raise InvalidInput(
                f"The área {data.area!r} has no accounts in custody to hand over", field="area"
            )
        ids = [a.id for a in accounts]
        since = opt_utc(await repo.previous_start(data.area))
        gestores = await gestores_before(session, ids)
        ended = await _transfer(
            rt, caller, session, repo, handover_id, ids, incoming.id, outgoing_id
        )
        obligation_ids = []
        for account_id in ids:
            obligation = await triggers.fire(
                session,
                caller,
                rt.clock,
                rt.settings,
                account_id=account_id,
                trigger=Trigger.handover(handover_id),
            )
            obligation_ids.append(obligation.id)
        annex = await build_annex(
            session,
            accounts,
            gestores,
            since=since,
            until=now,
            outgoing_gestor_id=outgoing_id,
        )
        record: dict[str, Any] = {
            "sujeto_obligado": rt.settings.sujeto_obligado,
            "place": data.place,
            "reason": data.reason,
            "started_at": data.started_at.isoformat(),
            "outgoing": {"name": data.outgoing.name, "cargo": data.outgoing.cargo},
            "outgoing_gestor_id": outgoing_id,
            "incoming": {"name": data.incoming.name, "cargo": data.incoming.cargo},
            "incoming_identity": f"gestor:{incoming.id}",
            "oic_representative": {"name": oic.name, "cargo": oic.cargo, "oficio": oic.oficio},
            "witnesses": _witnesses(data.witnesses),
            "account_ids": ids,
            "obligation_ids": obligation_ids,
            "ended_assignments": len(ended),
            "period_since": since.isoformat() if since else None,
        }
        row = Handover(
            id=handover_id,
            folio=await repo.next_folio(now.year),
            area=data.area,
            record=record,
            annex=annex_to_json(annex),
            annex_sha256=annex_sha256(annex),
            started_at=data.started_at,
            created_at=now,
            created_by=caller.actor,
        )
        session.add(row)
        await session.flush()
        await append(
            session,
            caller,
            Entry(
                "handover.created",
                "ok",
                subject=f"handover:{handover_id}",
                details={
                    "folio": row.folio,
                    "area": data.area,
                    "accounts": len(ids),
                    "annex_sha256": row.annex_sha256,
                    "incoming": f"gestor:{incoming.id}",
                    "outgoing": f"gestor:{outgoing_id}" if outgoing_id else None,
                },
            ),
            rt.clock,
        )
    return row


async def _transfer(
    rt: Runtime,
    caller: Caller,
    session: Any,
    repo: HandoverRepository,
    handover_id: str,
    ids: list[str],
    incoming_id: str,
    outgoing_id: str | None,
) -> list[tuple[str, str]]:
    """End the outgoing gestor's access to these accounts; assign the incoming one."""
    now = rt.clock.now()
    ended: list[tuple[str, str]] = []
    if outgoing_id is not None:
        ended = await repo.end_assignments(outgoing_id, ids, now)
        await force_close_checkouts(
            session,
            caller,
            rt.clock,
            close_reason="handover",
            gestor_id=outgoing_id,
            account_ids=ids,
        )
        for assignment_id, account_id in ended:
            await append(
                session,
                caller,
                Entry(
                    "gestor.unassigned",
                    "ok",
                    account_id=account_id,
                    subject=f"gestor:{outgoing_id}",
                    details={"assignment_id": assignment_id, "handover_id": handover_id},
                ),
                rt.clock,
            )
    already = await repo.assigned_accounts(incoming_id, ids)
    for account_id in ids:
        if account_id in already:
            continue
        row = Assignment(
            id=str(uuid.uuid4()),
            account_id=account_id,
            gestor_id=incoming_id,
            assigned_at=now,
            assigned_by=caller.actor,
        )
        try:
            # The partial unique index decides a concurrent assignment of the same pair.
            async with session.begin_nested():
                session.add(row)
                await session.flush()
        except IntegrityError:
            continue
        await append(
            session,
            caller,
            Entry(
                "gestor.assigned",
                "ok",
                account_id=account_id,
                subject=f"gestor:{incoming_id}",
                details={"assignment_id": row.id, "handover_id": handover_id},
            ),
            rt.clock,
        )
    return ended


def handover_out(row: Handover) -> HandoverOut:
    record = row.record
    head_ = record.get("audit_head") or {}
    return HandoverOut(
        id=row.id,
        folio=row.folio,
        area=row.area,
        status="closed" if row.closed_at else "open",
        started_at=record["started_at"],
        ended_at=record.get("ended_at"),
        created_at=as_utc(row.created_at).isoformat(),
        created_by=row.created_by,
        accounts=len(row.annex),
        incoming_identity=record["incoming_identity"],
        annex_sha256=row.annex_sha256,
        obligation_ids=list(record.get("obligation_ids", [])),
        closing_head_seq=head_.get("seq"),
        closing_head_hash=head_.get("hash"),
        closed_sha256=row.closed_sha256,
    )


async def list_handovers(rt: Runtime, area: str | None, limit: int) -> list[HandoverOut]:
    async with rt.sessions() as session:
        rows = await HandoverRepository(session).list_all(area, limit)
    return [handover_out(r) for r in rows]


async def get(rt: Runtime, handover_id: str) -> Handover:
    async with rt.sessions() as session:
        row = await HandoverRepository(session).get(handover_id)
    if row is None:
        raise NotFound(f"No handover with id {handover_id}")
    return row


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
            await audit_lock_first(session)
            row = await _locked_open(session, handover_id)
            record = dict(row.record)
            for key, value in changes.items():
                record[key] = (
                    _witnesses(value) if key == "witnesses" else msgspec.to_builtins(value)
                )
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
            await audit_lock_first(session)
            row = await _locked_open(session, handover_id)
            seq, chain_hash = await head(session)
            started = datetime.fromisoformat(row.record["started_at"])
            now = rt.clock.now()
            pending = await open_obligations(session, row.record["account_ids"])
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
