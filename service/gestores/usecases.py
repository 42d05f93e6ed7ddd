"""Gestores: registration, assignments and TOTP reset; each change is audited."""

from __future__ import annotations

import uuid

from service.accounts.repository import AccountRepository
from service.audit.log import Entry
from service.db.models import Assignment, Gestor
from service.domain.contact import validate_email
from service.domain.events import AccessEnded, CheckoutsClosed, RotationTriggered
from service.domain.text_safety import check_text
from service.domain.triggers import Trigger
from service.errors import Conflict, InvalidInput, NotFound
from service.gestores import second_factor
from service.gestores.assignments import AssignmentRepository
from service.gestores.repository import GestorRepository
from service.gestores.schemas import AssignmentOut, GestorIn, GestorOut
from service.principal import Caller
from service.runtime import Runtime


def gestor_out(row: Gestor) -> GestorOut:
    return GestorOut(
        id=row.id,
        name=row.name,
        email=row.email,
        kind=row.kind,
        cargo=row.cargo,
        provider=row.provider,
        area=row.area,
        created_at=row.created_at,
        totp_state=row.totp_state,
        locked_until=row.locked_until,
        responsiva_version=row.responsiva_version,
        responsiva_accepted_at=row.responsiva_accepted_at,
        departed_at=row.departed_at,
    )


def assignment_out(row: Assignment) -> AssignmentOut:
    return AssignmentOut(
        id=row.id,
        account_id=row.account_id,
        gestor_id=row.gestor_id,
        assigned_at=row.assigned_at,
        assigned_by=row.assigned_by,
        ended_at=row.ended_at,
        ended_reason=row.ended_reason,
    )


async def create_gestor(rt: Runtime, caller: Caller, data: GestorIn) -> GestorOut:
    """Décima segunda: a servant has a cargo; an external provider names the firm."""
    email = validate_email(data.email)
    if data.kind == "servidor_publico" and data.cargo is None:
        raise InvalidInput("cargo is required for a servidor_publico", field="cargo")
    if data.kind == "externo" and data.provider is None:
        raise InvalidInput("provider (the firm) is required for an externo", field="provider")
    cargo = data.cargo if data.kind == "servidor_publico" else None
    provider = data.provider if data.kind == "externo" else None
    # Décima segunda lets the directory publish these: they must read as what they are.
    shown = {"name": data.name, "area": data.area, "cargo": cargo, "provider": provider}
    for field, value in shown.items():
        check_text(field, value)
    row = Gestor(
        id=str(uuid.uuid4()),
        name=data.name,
        email=email,
        kind=data.kind,
        cargo=cargo,
        provider=provider,
        area=data.area,
        created_at=rt.clock.now(),
        totp_state="none",
        totp_failures=0,
    )
    async with rt.unit_of_work(caller) as uow:
        GestorRepository(uow).add(row)
        await uow.flush()
        uow.record(
            Entry(
                "gestor.created",
                "ok",
                subject=f"gestor:{row.id}",
                details={"kind": row.kind, "area": row.area},
            )
        )
    return gestor_out(row)


async def get_gestor(rt: Runtime, gestor_id: str) -> GestorOut:
    async with rt.reader() as r:
        row = await GestorRepository(r).get(gestor_id)
    if row is None:
        raise NotFound(f"No gestor with id {gestor_id}")
    return gestor_out(row)


async def list_gestores(rt: Runtime, *, include_departed: bool) -> list[GestorOut]:
    async with rt.reader() as r:
        rows = await GestorRepository(r).list_all(include_departed=include_departed)
    return [gestor_out(g) for g in rows]


async def assign(rt: Runtime, caller: Caller, account_id: str, gestor_id: str) -> AssignmentOut:
    """Assign a gestor to an account, neither retired nor departed.

    Locks in the canonical order: the account shared (a retirement waits), then
    the gestor (a departure waits), so neither can commit unseen meanwhile.
    """
    async with rt.unit_of_work(caller) as uow:
        account = await AccountRepository(uow).get(account_id, share=True)
        if account is None:
            raise NotFound(f"No account with id {account_id}")
        if account.retired_at is not None:
            raise Conflict("The account is retired")
        gestor = await GestorRepository(uow).get(gestor_id, lock=True)
        if gestor is None:
            raise NotFound(f"No gestor with id {gestor_id}")
        if gestor.departed_at is not None:
            raise Conflict("The gestor has departed and cannot be assigned")
        row = Assignment(
            id=str(uuid.uuid4()),
            account_id=account_id,
            gestor_id=gestor_id,
            assigned_at=uow.now(),
            assigned_by=caller.actor,
        )
        if not await AssignmentRepository(uow).add(row):
            raise Conflict("The gestor is already assigned to this account")
        uow.record(
            Entry(
                "gestor.assigned",
                "ok",
                account_id=account_id,
                subject=f"gestor:{gestor_id}",
                details={"assignment_id": row.id},
            )
        )
    return assignment_out(row)


async def unassign(rt: Runtime, caller: Caller, account_id: str, gestor_id: str) -> None:
    """Access ends now (open checkout included); the rotation feature opens its obligation.

    Locks in the canonical order: the account shared (the rotation reads it too,
    and a retirement holding it must not wait on rows locked here), then the
    gestor, then the assignment; a grant locks the same two rows in that order.
    """
    async with rt.unit_of_work(caller) as uow:
        await AccountRepository(uow).get(account_id, share=True)
        await GestorRepository(uow).get(gestor_id, lock=True)
        ended = await AssignmentRepository(uow).end_active(
            gestor_id, at=uow.now(), reason="unassigned", account_ids=[account_id]
        )
        if not ended:
            raise NotFound("The gestor is not assigned to this account")
        answers = await uow.publish(
            AccessEnded(
                close_reason="gestor_unassigned", gestor_id=gestor_id, account_ids=(account_id,)
            )
        )
        closed = [i for a in answers if isinstance(a, CheckoutsClosed) for i in a.ids]
        uow.record(
            Entry(
                "gestor.unassigned",
                "ok",
                account_id=account_id,
                subject=f"gestor:{gestor_id}",
                details={"assignment_id": ended[0].id, "closed_checkouts": closed},
            )
        )
        # The answer (an obligation, or none once the account left custody) is not shown.
        await uow.publish(RotationTriggered(account_id, Trigger.gestor_unassigned(gestor_id)))


async def assignments(rt: Runtime, account_id: str) -> list[AssignmentOut]:
    async with rt.reader() as r:
        if await AccountRepository(r).get(account_id) is None:
            raise NotFound(f"No account with id {account_id}")
        rows = await AssignmentRepository(r).of_account(account_id)
    return [assignment_out(a) for a in rows]


async def reset_totp(rt: Runtime, caller: Caller, gestor_id: str) -> GestorOut:
    """The factor stops working and the gestor's checkouts close; then the seed is destroyed."""
    return gestor_out(await second_factor.reset(rt, caller, gestor_id))
