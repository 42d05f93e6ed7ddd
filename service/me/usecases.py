"""The calling gestor's TOTP enrolment and responsiva; each step is audited."""

from __future__ import annotations

import io
import uuid
from datetime import datetime

import segno
import structlog

from service.audit.log import Entry
from service.db.models import Gestor
from service.domain.responsiva import acceptance_is_current, current_responsiva
from service.domain.totp import ensure_not_locked, generate_seed, matching_step, provisioning_uri
from service.errors import Conflict, DomainError, Forbidden, InvalidInput, InvalidTotp, Locked
from service.gestores.repository import GestorRepository
from service.gestores.schemas import GestorOut
from service.gestores.second_factor import (
    clear_failures,
    consume_step,
    lockout_state,
    register_bad_code,
)
from service.gestores.usecases import get_gestor
from service.me.schemas import Confirmed, Enrollment, ResponsivaOut
from service.principal import Caller
from service.runtime import Runtime

log = structlog.get_logger("custodia.me")
ALREADY_ACTIVE = "TOTP is already active; an admin must reset it before a new enrolment"


def gestor_id_of(caller: Caller) -> str:
    if caller.principal is None or caller.principal.gestor_id is None:
        raise Forbidden("Only a gestor token has a /v1/me")
    return caller.principal.gestor_id


async def me(rt: Runtime, caller: Caller) -> GestorOut:
    """The calling gestor's own record."""
    return await get_gestor(rt, gestor_id_of(caller))


async def _gestor(rt: Runtime, gestor_id: str) -> Gestor:
    async with rt.reader() as r:
        row = await GestorRepository(r).get(gestor_id)
    assert row is not None  # the token resolved, so the row exists
    return row


def qr_svg(uri: str) -> str:
    buffer = io.BytesIO()
    segno.make_qr(uri, error="m").save(buffer, kind="svg", scale=4, xmldecl=False)
    return buffer.getvalue().decode()


async def enrol(rt: Runtime, caller: Caller) -> Enrollment:
    """A new seed at its own path in Vault, named in SQL; shown once as a URI and a QR code.

    Its own path: two enrolments racing each write their seed, and the one SQL
    names last is the one a confirmation checks and activates; the other's is
    destroyed. Nothing is ever overwritten under a confirmation in progress.
    """
    gestor_id = gestor_id_of(caller)
    gestor = await _gestor(rt, gestor_id)
    if gestor.totp_state == "active":
        raise Conflict(ALREADY_ACTIVE)
    seed, seed_id = generate_seed(), str(uuid.uuid4())
    uri = provisioning_uri(seed, gestor.email)
    # Vault first: a failure here leaves nothing half-done in SQL.
    await rt.vault.put_totp_seed(gestor_id, seed, seed_id)
    error: DomainError | None = None
    async with rt.unit_of_work(caller) as uow:
        row = await GestorRepository(uow).get(gestor_id, lock=True)
        assert row is not None
        superseded = row.totp_seed_id
        if row.totp_state == "active":  # confirmed by a concurrent request meanwhile
            error = Conflict(ALREADY_ACTIVE)
        elif row.departed_at is not None:  # departed meanwhile: its seed is destroyed
            error = Forbidden("The gestor has departed")
        else:
            row.totp_seed_id = seed_id
            row.totp_state = "pending"
            uow.record(Entry("totp.enrolled", "ok", subject=f"gestor:{gestor_id}"))
    if error is not None:
        await _destroy_seed(rt, gestor_id, seed_id)
        raise error
    # The enrolment this one replaced (or the path kept before seeds had ids) is dead.
    await _destroy_seed(rt, gestor_id, superseded)
    return Enrollment(otpauth_uri=uri, qr_svg=qr_svg(uri))


async def _destroy_seed(rt: Runtime, gestor_id: str, seed_id: str | None) -> None:
    """Destroy a seed no enrolment uses; a Vault failure only leaves an unusable seed behind."""
    try:
        await rt.vault.destroy_totp_seed(gestor_id, seed_id)
    except DomainError as exc:
        log.warning("unused_totp_seed_kept", gestor_id=gestor_id, error_type=type(exc).__name__)


async def confirm(rt: Runtime, caller: Caller, code: str) -> Confirmed:
    """The first valid code from the app activates the factor."""
    gestor_id = gestor_id_of(caller)
    gestor = await _gestor(rt, gestor_id)
    subject = f"gestor:{gestor_id}"
    if gestor.totp_state != "pending":
        raise Conflict("There is no pending TOTP enrolment to confirm")
    now = rt.clock.now()
    try:
        ensure_not_locked(lockout_state(gestor), now)
    except Locked:
        await rt.record(
            caller, Entry("totp.confirm_refused", "denied", subject=subject, reason="locked")
        )
        raise
    seed_id = gestor.totp_seed_id
    seed = await rt.vault.get_totp_seed(gestor_id, seed_id)
    if seed is None:
        raise Conflict("The enrolment's seed is gone; enrol again")
    step = matching_step(seed, code, now)
    async with rt.unit_of_work(caller) as uow:
        # Re-read under the row lock: concurrent codes queue here, so no guess
        # slips past a lockout that another request has just set.
        row = await GestorRepository(uow).get(gestor_id, lock=True)
        assert row is not None
        refused = _confirm_refusal(row, now, seed_id)
        error: DomainError | None = None
        if refused is not None:
            reason, error = refused
            uow.record(Entry("totp.confirm_refused", "denied", subject=subject, reason=reason))
        elif step is not None and await consume_step(uow, gestor_id, seed_id, step, now):
            row.totp_state = "active"
            clear_failures(row)
            uow.record(Entry("totp.confirmed", "ok", subject=subject))
        else:
            await register_bad_code(uow, gestor_id, replayed=step is not None, purpose="confirm")
            error = InvalidTotp("The code is not valid for this enrolment")
    if error is not None:
        raise error
    return Confirmed(totp_state="active")


def _confirm_refusal(
    row: Gestor, now: datetime, seed_id: str | None
) -> tuple[str, DomainError] | None:
    """Why the pending enrolment cannot be confirmed now (reason, error), if it cannot."""
    if row.totp_state != "pending":
        return "not_pending", Conflict("There is no pending TOTP enrolment to confirm")
    try:
        ensure_not_locked(lockout_state(row), now)
    except Locked as locked:
        return "locked", locked
    if row.totp_seed_id != seed_id:
        # The code was checked against a seed another enrolment has just replaced.
        return "enrolment_replaced", Conflict(
            "A newer enrolment replaced this one; confirm with a code of the newest"
        )
    return None


def responsiva_view(gestor: Gestor) -> ResponsivaOut:
    current = current_responsiva()
    accepted = acceptance_is_current(gestor.responsiva_version, gestor.responsiva_sha256)
    return ResponsivaOut(
        version=current.version,
        sha256=current.sha256,
        text=current.text,
        accepted=accepted,
        accepted_at=gestor.responsiva_accepted_at if accepted else None,
    )


async def read_responsiva(rt: Runtime, caller: Caller) -> ResponsivaOut:
    return responsiva_view(await _gestor(rt, gestor_id_of(caller)))


async def accept_responsiva(rt: Runtime, caller: Caller, accept: bool) -> ResponsivaOut:
    """Décima quinta: record that this exact text was accepted, and when."""
    if not accept:
        raise InvalidInput("Send accept: true to accept the responsiva", field="accept")
    gestor_id = gestor_id_of(caller)
    current = current_responsiva()
    async with rt.unit_of_work(caller) as uow:
        row = await GestorRepository(uow).get(gestor_id, lock=True)
        assert row is not None
        row.responsiva_version = current.version
        row.responsiva_sha256 = current.sha256
        row.responsiva_accepted_at = uow.now()
        uow.record(
            Entry(
                "responsiva.accepted",
                "ok",
                subject=f"gestor:{gestor_id}",
                details={"version": current.version, "sha256": current.sha256},
            )
        )
    return responsiva_view(row)
