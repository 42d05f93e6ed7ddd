"""Gestores: registration, assignments and TOTP reset; each change is audited."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError

from service.accounts.repository import AccountRepository
from service.audit.log import Entry, append
from service.db.models import Assignment, Gestor
from service.domain.contact import validate_email
from service.domain.triggers import Trigger
from service.errors import Conflict, InvalidInput, NotFound
from service.gestores.repository import GestorRepository
from service.gestores.schemas import AssignmentOut, GestorIn, GestorOut
from service.principal import Caller
from service.rotations import triggers
from service.rotations.access import force_close_checkouts
from service.rotations.obligations import as_utc, opt_utc
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
        created_at=as_utc(row.created_at),
        totp_state=row.totp_state,
        locked_until=opt_utc(row.locked_until),
        responsiva_version=row.responsiva_version,
        responsiva_accepted_at=opt_utc(row.responsiva_accepted_at),
        departed_at=opt_utc(row.departed_at),
    )


def assignment_out(row: Assignment) -> AssignmentOut:
    return AssignmentOut(
        id=row.id,
        account_id=row.account_id,
        gestor_id=row.gestor_id,
        assigned_at=as_utc(row.assigned_at),
        assigned_by=row.assigned_by,
        ended_at=opt_utc(row.ended_at),
        ended_reason=row.ended_reason,
    )


async def create_gestor(rt: Runtime, caller: Caller, data: GestorIn) -> GestorOut:
    """Décima segunda: a servant has a cargo; an external provider names the firm."""
    email = validate_email(data.email)
    if data.kind == "servidor_publico" and data.cargo is None:
        raise InvalidInput("cargo is required for a servidor_publico", field="cargo")
    if data.kind == "externo" and data.provider is None:
        raise InvalidInput("provider (the firm) is required for an externo", field="provider")
    row = Gestor(
        id=str(uuid.uuid4()),
        name=data.name,
        email=email,
        kind=data.kind,
        cargo=data.cargo if data.kind == "servidor_publico" else None,
        provider=data.provider if data.kind == "externo" else None,
        area=data.area,
        created_at=rt.clock.now(),
        totp_state="none",
        totp_failures=0,
    )
    async with rt.transaction() as session:
        session.add(row)
        await session.flush()
        await append(
            session,
            caller,
            Entry(
                "gestor.created",
                "ok",
                subject=f"gestor:{row.id}",
                details={"kind": row.kind, "area": row.area},
            ),
            rt.clock,
        )
    return gestor_out(row)


async def get_gestor(rt: Runtime, gestor_id: str) -> GestorOut:
    async with rt.sessions() as session:
        row = await GestorRepository(session).get(gestor_id)
    if row is None:
        raise NotFound(f"No gestor with id {gestor_id}")
    return gestor_out(row)


async def list_gestores(rt: Runtime, *, include_departed: bool) -> list[GestorOut]:
    async with rt.sessions() as session:
        rows = await GestorRepository(session).list_all(include_departed=include_departed)
    return [gestor_out(r) for r in rows]


async def assign(rt: Runtime, caller: Caller, account_id: str, gestor_id: str) -> AssignmentOut:
    async with rt.transaction() as session:
        account = await AccountRepository(session).get(account_id)
        if account is None:
            raise NotFound(f"No account with id {account_id}")
        if account.retired_at is not None:
            raise Conflict("The account is retired")
        # Locked so that a departure committing meanwhile cannot be missed.
        gestor = await GestorRepository(session).get(gestor_id, lock=True)
        if gestor is None:
            raise NotFound(f"No gestor with id {gestor_id}")
        if gestor.departed_at is not None:
            raise Conflict("The gestor has departed and cannot be assigned")
        row = Assignment(
            id=str(uuid.uuid4()),
            account_id=account_id,
            gestor_id=gestor_id,
            assigned_at=rt.clock.now(),
            assigned_by=caller.actor,
        )
        try:
            # The partial unique index, not this code, decides a concurrent duplicate.
            async with session.begin_nested():
                session.add(row)
                await session.flush()
        except IntegrityError:
            raise Conflict("The gestor is already assigned to this account") from None
        await append(
            session,
            caller,
            Entry(
                "gestor.assigned",
                "ok",
                account_id=account_id,
                subject=f"gestor:{gestor_id}",
                details={"assignment_id": row.id},
            ),
            rt.clock,
        )
    return assignment_out(row)


async def unassign(rt: Runtime, caller: Caller, account_id: str, gestor_id: str) -> None:
    """Access ends now (open checkout included); the rotation feature opens its obligation."""
    async with rt.transaction() as session:
        repo = GestorRepository(session)
        row = await repo.active_assignment(account_id, gestor_id)
        if row is None:
            raise NotFound("The gestor is not assigned to this account")
        row.ended_at = rt.clock.now()
        row.ended_reason = "unassigned"
        closed = await force_close_checkouts(
            session,
            caller,
            rt.clock,
            close_reason="gestor_unassigned",
            gestor_id=gestor_id,
            account_ids=[account_id],
        )
        await append(
            session,
            caller,
            Entry(
                "gestor.unassigned",
                "ok",
                account_id=account_id,
                subject=f"gestor:{gestor_id}",
                details={"assignment_id": row.id, "closed_checkouts": closed},
            ),
            rt.clock,
        )
        await triggers.fire(
            session,
            caller,
            rt.clock,
            rt.settings,
            account_id=account_id,
            trigger=Trigger.gestor_unassigned(gestor_id),
        )


async def assignments(rt: Runtime, account_id: str) -> list[AssignmentOut]:
    async with rt.sessions() as session:
        if await AccountRepository(session).get(account_id) is None:
            raise NotFound(f"No account with id {account_id}")
        rows = await GestorRepository(session).assignments_of_account(account_id)
    return [assignment_out(r) for r in rows]


async def reset_totp(rt: Runtime, caller: Caller, gestor_id: str) -> GestorOut:
    """SQL first, so the old factor stops working even while Vault is down; then the seed."""
    async with rt.transaction() as session:
        row = await GestorRepository(session).get(gestor_id, lock=True)
        if row is None:
            raise NotFound(f"No gestor with id {gestor_id}")
        previous = row.totp_state
        row.totp_state = "none"
        row.totp_failures = 0
        row.locked_until = None
        await append(
            session,
            caller,
            Entry(
                "totp.reset",
                "ok",
                subject=f"gestor:{gestor_id}",
                details={"previous_state": previous},
            ),
            rt.clock,
        )
    # A retry after a Vault failure repeats this idempotently.
    await rt.vault.destroy_totp_seed(gestor_id)
    return gestor_out(row)
