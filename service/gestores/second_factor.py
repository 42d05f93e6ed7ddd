"""A gestor's TOTP second factor at use time: lockout, one use per step, failures; reset.

Shared by enrolment confirmation and checkout. The used step is a unique row
(gestor, seed, step), so a code is good once across restarts, replicas and
concurrent requests, and a reset's new seed owes nothing to the old one's steps.
A wrong code counts towards the lockout. A replay (a code of this seed already
used, still in its window) is refused and audited but not counted: it proves
the gestor holds the seed, and ten retries of one good code must not lock them out.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, or_, update
from sqlalchemy.dialects import postgresql, sqlite

from service.audit.log import Entry
from service.db.models import Gestor, TotpUsedStep
from service.domain.events import AccessEnded
from service.domain.totp import LockoutPolicy, LockoutState, register_failure
from service.errors import NotFound
from service.gestores.repository import GestorRepository
from service.principal import Caller
from service.runtime import Runtime
from service.settings import Settings
from service.uow import UnitOfWork

_STEPS = cast(Table, TotpUsedStep.__table__)
# The (gestor, seed, step) primary key decides; a duplicate inserts nothing, not an error.
_BOOK_STEP = {
    "postgresql": postgresql.insert(_STEPS).on_conflict_do_nothing(),
    "sqlite": sqlite.insert(_STEPS).on_conflict_do_nothing(),
}
_GESTORES = cast(Table, Gestor.__table__)
_RESET = (
    update(_GESTORES)
    .where(_GESTORES.c.id == bindparam("gestor_id"))
    .where(or_(_GESTORES.c.totp_failures != 0, _GESTORES.c.locked_until.is_not(None)))
    .values(totp_failures=0, locked_until=None)
)


def lockout_policy(settings: Settings) -> LockoutPolicy:
    return LockoutPolicy(
        max_failures=settings.totp_max_failures,
        duration=timedelta(minutes=settings.totp_lockout_minutes),
    )


def lockout_state(gestor: Gestor) -> LockoutState:
    return LockoutState(failures=gestor.totp_failures, locked_until=gestor.locked_until)


def seed_key(seed_id: str | None) -> str:
    """The used steps' key for a seed ('' for the one kept before seeds had ids)."""
    return seed_id or ""


async def consume_step(
    uow: UnitOfWork, gestor_id: str, seed_id: str | None, step: int, now: datetime
) -> bool:
    """Book the step of this gestor's seed; False when it was already used (a replay)."""
    session = uow.session
    booked = await session.execute(
        _BOOK_STEP[session.get_bind().dialect.name],
        {"gestor_id": gestor_id, "seed_id": seed_key(seed_id), "step": step, "used_at": now},
    )
    return bool(booked.rowcount == 1)  # type: ignore[attr-defined]


def clear_failures(gestor: Gestor) -> None:
    """A valid code resets the count; skip the write when there is nothing to reset."""
    if gestor.totp_failures or gestor.locked_until is not None:
        gestor.totp_failures = 0
        gestor.locked_until = None


async def reset_failures(uow: UnitOfWork, gestor_id: str) -> None:
    """``clear_failures`` by id, in one statement that writes only when there is a count."""
    await uow.session.execute(_RESET, {"gestor_id": gestor_id})


async def register_bad_code(
    uow: UnitOfWork,
    gestor_id: str,
    *,
    replayed: bool,
    purpose: str,
    account_id: str | None = None,
    then: Entry | None = None,
) -> None:
    """Audit a refused code, then ``then`` (e.g. the refused checkout).

    A wrong code counts a failure (maybe locking); a replay leaves the count as it is.
    """
    now = uow.now()
    gestor = await GestorRepository(uow).get(gestor_id, lock=True)
    assert gestor is not None  # the caller's own row: tokens of deleted gestores cannot exist
    before = lockout_state(gestor)
    after = before if replayed else register_failure(before, now, lockout_policy(uow.settings))
    if after != before:
        gestor.totp_failures = after.failures
        gestor.locked_until = after.locked_until
        await uow.flush()
    subject = f"gestor:{gestor_id}"
    uow.record(
        Entry(
            "totp.replayed" if replayed else "totp.failed",
            "denied",
            account_id=account_id,
            subject=subject,
            reason="code_already_used" if replayed else "invalid_code",
            details={"purpose": purpose, "failures": after.failures},
        )
    )
    if not replayed and after.locked_until is not None and before.retry_after(now) is None:
        uow.record(
            Entry(
                "totp.locked",
                "denied",
                account_id=account_id,
                subject=subject,
                reason="too_many_failures",
                details={"until": after.locked_until.isoformat(), "failures": after.failures},
            )
        )
    if then is not None:
        uow.record(then)


async def reset(rt: Runtime, caller: Caller, gestor_id: str) -> Gestor:
    """SQL first, so the old factor stops working even while Vault is down; then the seed.

    Whatever the old factor opened closes with it: the gestor's open checkouts are
    force-closed in the same transaction (the gestor's row locked first, then theirs).
    """
    async with rt.unit_of_work(caller) as uow:
        row = await GestorRepository(uow).get(gestor_id, lock=True)
        if row is None:
            raise NotFound(f"No gestor with id {gestor_id}")
        previous = row.totp_state
        row.totp_state = "none"
        row.totp_failures = 0
        row.locked_until = None
        await uow.publish(AccessEnded("totp_reset", gestor_id=gestor_id))
        uow.record(
            Entry(
                "totp.reset",
                "ok",
                subject=f"gestor:{gestor_id}",
                details={"previous_state": previous},
            )
        )
    # totp_seed_id still names the seed, so a retry after a Vault failure destroys it.
    await rt.vault.destroy_totp_seed(gestor_id, row.totp_seed_id)
    return row
