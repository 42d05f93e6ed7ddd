"""Every trigger of a rotation obligation (Décima quinta), each through ``open_or_merge``.

Called inside the caller's transaction: the obligation, its audit event and its
webhook outbox row commit together with the change that caused them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from service.clock import Clock
from service.db.models import RotationObligation
from service.domain.rotation import make_origin
from service.principal import Caller
from service.rotations.obligations import open_or_merge
from service.settings import Settings


async def gestor_unassigned(
    session: AsyncSession,
    caller: Caller,
    clock: Clock,
    *,
    account_id: str,
    gestor_id: str,
    settings: Settings,
) -> None:
    """A gestor stopped being gestor of this account: its password must change."""
    await open_or_merge(
        session,
        caller,
        clock,
        settings,
        account_id=account_id,
        reason="gestor_unassigned",
        origin=make_origin("gestor", gestor_id, "gestor_unassigned"),
    )


async def gestor_departed(
    session: AsyncSession,
    caller: Caller,
    clock: Clock,
    *,
    account_id: str,
    gestor_id: str,
    settings: Settings,
    effective_at: datetime,
) -> RotationObligation:
    """One account of a departed gestor not rotated since their access to it ended."""
    row, _ = await open_or_merge(
        session,
        caller,
        clock,
        settings,
        account_id=account_id,
        reason="gestor_departure",
        origin=make_origin("gestor", gestor_id, "gestor_departure"),
        triggered_at=effective_at,
    )
    return row


async def incident_reported(
    session: AsyncSession,
    caller: Caller,
    clock: Clock,
    *,
    account_id: str,
    incident_id: str,
    incident_type: str,
    settings: Settings,
) -> RotationObligation:
    """Security protocol: an urgent obligation for an affected account."""
    row, _ = await open_or_merge(
        session,
        caller,
        clock,
        settings,
        account_id=account_id,
        reason="incident",
        origin=make_origin("incident", incident_id, incident_type),
    )
    return row


async def max_age_reached(
    session: AsyncSession,
    caller: Caller,
    clock: Clock,
    *,
    account_id: str,
    reached_at: datetime,
    credential_version: int | None,
    settings: Settings,
) -> RotationObligation:
    """The credential outlived CUSTODIA_ROTATION_MAX_AGE_DAYS; due a grace period later."""
    row, _ = await open_or_merge(
        session,
        caller,
        clock,
        settings,
        account_id=account_id,
        reason="max_age",
        origin=make_origin("scan", credential_version, "max_age"),
        triggered_at=reached_at,
    )
    return row


async def handover(
    session: AsyncSession,
    caller: Caller,
    clock: Clock,
    *,
    account_id: str,
    handover_id: str,
    settings: Settings,
) -> RotationObligation:
    """Entrega-recepción (Décima sexta): the incoming official gets a fresh password."""
    row, _ = await open_or_merge(
        session,
        caller,
        clock,
        settings,
        account_id=account_id,
        reason="handover",
        origin=make_origin("handover", handover_id, "handover"),
    )
    return row


async def manual(
    session: AsyncSession,
    caller: Caller,
    clock: Clock,
    *,
    account_id: str,
    reason: str,
    settings: Settings,
) -> RotationObligation:
    """An admin opens an obligation, saying why."""
    row, _ = await open_or_merge(
        session,
        caller,
        clock,
        settings,
        account_id=account_id,
        reason="manual",
        origin=make_origin("manual", caller.actor, reason),
        note=reason,
    )
    return row
