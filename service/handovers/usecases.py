"""Entrega-recepción: create (custody moves, obligations open, annex freezes), list, read.

Corrections and closing are in ``service.handovers.closing``; moving the
assignments is in ``service.handovers.transfer``.
"""

from __future__ import annotations

import uuid
from typing import Any, NoReturn

from service.audit.log import Entry, append
from service.clock import past_instant_problem
from service.db.models import Handover
from service.documents.acta import annex_sha256, annex_to_json
from service.documents.facts import in_custody
from service.documents.repository import DocumentRepository
from service.domain.triggers import Trigger
from service.errors import Conflict, DomainError, InvalidInput, NotFound
from service.handovers.annex import build_annex, gestores_before
from service.handovers.repository import HandoverRepository
from service.handovers.schemas import HandoverIn, HandoverOut
from service.handovers.transfer import transfer_custody
from service.principal import Caller
from service.rotations import triggers
from service.rotations.obligations import as_utc, opt_utc
from service.runtime import Runtime


async def _refuse(rt: Runtime, caller: Caller, error: DomainError, why: str, area: str) -> NoReturn:
    await rt.record(caller, Entry("handover.created", "denied", reason=why, details={"area": area}))
    raise error


def witnesses(items: list[Any]) -> list[dict[str, str]]:
    """Witnesses as the record stores them: name and cargo."""
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
        repo = HandoverRepository(session)
        incoming = await repo.gestor(data.incoming.gestor_id)
        if incoming is None:
            raise InvalidInput("incoming.gestor_id names no gestor", field="incoming.gestor_id")
        if incoming.departed_at is not None:
            raise Conflict("The incoming gestor has departed and cannot receive custody")
        outgoing_id = data.outgoing.gestor_id
        if outgoing_id is not None and await repo.gestor(outgoing_id) is None:
            raise InvalidInput("outgoing.gestor_id names no gestor", field="outgoing.gestor_id")
        accounts = [a for a in await repo.live_accounts(data.area) if in_custody(a, rt.clock.now())]
        if not accounts:
            raise InvalidInput(
                f"The área {data.area!r} has no accounts in custody to hand over", field="area"
            )
        ids = [a.id for a in accounts]
        since = opt_utc(await repo.previous_start(data.area))
        documents = DocumentRepository(session)
        gestores = await gestores_before(documents, ids)
        ended = await transfer_custody(
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
            if obligation is not None:  # None: handed back (Décima novena)
                obligation_ids.append(obligation.id)
        annex = await build_annex(
            repo,
            documents,
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
            "witnesses": witnesses(data.witnesses),
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
