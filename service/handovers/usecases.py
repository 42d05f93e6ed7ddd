"""Entrega-recepción: create (custody moves, obligations open, annex freezes), list.

Corrections and closing are in ``service.handovers.closing``; moving the
assignments is in ``service.handovers.transfer``; rendering the acta is in
``service.handovers.render``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, NoReturn

from service.audit.log import Entry
from service.clock import past_instant_problem, rfc3339
from service.db.models import Account, Handover
from service.db.models import Gestor as GestorRow
from service.documents.acta import annex_sha256, annex_to_json
from service.documents.content import AnnexRow
from service.documents.facts import in_custody
from service.documents.repository import DocumentRepository
from service.domain.events import ObligationRef, RotationTriggered
from service.domain.triggers import Trigger
from service.errors import Conflict, DomainError, InvalidInput
from service.handovers.annex import build_annex, gestores_before
from service.handovers.repository import HandoverRepository
from service.handovers.schemas import HandoverIn, HandoverOut
from service.handovers.transfer import transfer_custody
from service.principal import Caller
from service.runtime import Runtime
from service.uow import UnitOfWork


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


async def _incoming(repo: HandoverRepository, data: HandoverIn) -> GestorRow:
    """Lock both gestors' rows (by id); the incoming one must exist and not have departed."""
    outgoing_id = data.outgoing.gestor_id
    wanted = [data.incoming.gestor_id, *([outgoing_id] if outgoing_id is not None else [])]
    gestores = await repo.lock_gestores(wanted)
    incoming = gestores.get(data.incoming.gestor_id)
    if incoming is None:
        raise InvalidInput("incoming.gestor_id names no gestor", field="incoming.gestor_id")
    if incoming.departed_at is not None:
        raise Conflict("The incoming gestor has departed and cannot receive custody")
    if outgoing_id is not None and outgoing_id not in gestores:
        raise InvalidInput("outgoing.gestor_id names no gestor", field="outgoing.gestor_id")
    return incoming


async def _refuse_before_area_existed(repo: HandoverRepository, data: HandoverIn) -> None:
    """A handover cannot start before its área existed.

    An área has no row of its own: in this service it exists from the registration
    of its first account (a retired one included, as the área held it). A handover
    hands over the área's accounts, so before that there was nothing in its custody.
    """
    since = await repo.area_since(data.area)
    if since is not None and data.started_at < since:
        raise InvalidInput(
            f"started_at cannot precede {rfc3339(since)}, when the área {data.area!r} "
            "got its first account",
            field="started_at",
            not_before=rfc3339(since),
        )


async def _rotations(uow: UnitOfWork, handover_id: str, ids: list[str]) -> list[str]:
    """Open (or merge) each account's obligation; a handed-back account gets none."""
    obligation_ids = []
    for account_id in ids:
        answers = await uow.publish(RotationTriggered(account_id, Trigger.handover(handover_id)))
        obligation_ids += [a.id for a in answers if isinstance(a, ObligationRef)]
    return obligation_ids


async def _create(rt: Runtime, caller: Caller, data: HandoverIn) -> Handover:
    handover_id = str(uuid.uuid4())
    async with rt.unit_of_work(caller) as uow:
        now = uow.now()
        repo, documents = HandoverRepository(uow), DocumentRepository(uow)
        # Row locks in the canonical order: the área's accounts, then the gestors.
        live = await repo.lock_live_accounts(data.area)
        incoming = await _incoming(repo, data)
        accounts = [a for a in live if in_custody(a, now)]
        if not accounts:
            raise InvalidInput(
                f"The área {data.area!r} has no accounts in custody to hand over", field="area"
            )
        await _refuse_before_area_existed(repo, data)
        ids = [a.id for a in accounts]
        outgoing_id = data.outgoing.gestor_id
        since = await repo.previous_start(data.area)
        gestores = await gestores_before(documents, ids)
        ended = await transfer_custody(uow, repo, handover_id, ids, incoming.id, outgoing_id)
        obligation_ids = await _rotations(uow, handover_id, ids)
        annex = await build_annex(
            repo, documents, accounts, gestores,
            since=since, until=now, outgoing_gestor_id=outgoing_id,
        )  # fmt: skip
        record = _record(rt, data, accounts, obligation_ids, len(ended), since)
        # Folios count the year's handovers: one writer at a time from the count to commit.
        await uow.serialize("handover_folio")
        row = _row(handover_id, await repo.next_folio(now.year), data, record, annex, now, caller)
        await repo.add(row)
        uow.record(_created(row, incoming.id, outgoing_id))
    return row


def _record(
    rt: Runtime,
    data: HandoverIn,
    accounts: list[Account],
    obligation_ids: list[str],
    ended: int,
    since: datetime | None,
) -> dict[str, Any]:
    """The acta's record as stored (JSON): parties, accounts and what the handover did."""
    oic = data.oic_representative
    assert oic is not None  # checked by _validate
    return {
        "sujeto_obligado": rt.settings.sujeto_obligado,
        "place": data.place,
        "reason": data.reason,
        "started_at": data.started_at.isoformat(),
        "outgoing": {"name": data.outgoing.name, "cargo": data.outgoing.cargo},
        "outgoing_gestor_id": data.outgoing.gestor_id,
        "incoming": {"name": data.incoming.name, "cargo": data.incoming.cargo},
        "incoming_identity": f"gestor:{data.incoming.gestor_id}",
        "oic_representative": {"name": oic.name, "cargo": oic.cargo, "oficio": oic.oficio},
        "witnesses": witnesses(data.witnesses),
        "account_ids": [a.id for a in accounts],
        "obligation_ids": obligation_ids,
        "ended_assignments": ended,
        "period_since": since.isoformat() if since else None,
    }


def _row(
    handover_id: str,
    folio: str,
    data: HandoverIn,
    record: dict[str, Any],
    annex: tuple[AnnexRow, ...],
    now: datetime,
    caller: Caller,
) -> Handover:
    return Handover(
        id=handover_id,
        folio=folio,
        area=data.area,
        record=record,
        annex=annex_to_json(annex),
        annex_sha256=annex_sha256(annex),
        started_at=data.started_at,
        created_at=now,
        created_by=caller.actor,
    )


def _created(row: Handover, incoming_id: str, outgoing_id: str | None) -> Entry:
    return Entry(
        "handover.created",
        "ok",
        subject=f"handover:{row.id}",
        details={
            "folio": row.folio,
            "area": row.area,
            "accounts": len(row.annex),
            "annex_sha256": row.annex_sha256,
            "incoming": f"gestor:{incoming_id}",
            "outgoing": f"gestor:{outgoing_id}" if outgoing_id else None,
        },
    )


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
        created_at=row.created_at.isoformat(),
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
    async with rt.reader() as r:
        rows = await HandoverRepository(r).list_all(area, limit)
    return [handover_out(r) for r in rows]
