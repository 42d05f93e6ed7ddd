"""Read-only SQL for the documents: set-based queries, never one per account.

Nothing here calls Vault: credential facts come from the columns custody keeps
in SQL (``accounts.credential_*``, ``credential_versions``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.models import (
    Account,
    Assignment,
    AuditEvent,
    Checkout,
    CredentialVersion,
    Gestor,
    RotationObligation,
)
from service.documents.content import MASK, Obligation
from service.domain.masking import mask_channel
from service.rotations.obligations import as_utc, still_owed

PROTOCOL_ACTION = "document.security_protocol"


TWO_FACTOR_LABELS = {"totp": "TOTP de la plataforma (semilla en custodia)"}
NO_2FA = "sin segundo factor registrado"


def two_factor_label(method: str | None) -> str:
    """How documents name the account's second factor, as custody recorded it in SQL."""
    if not method:
        return NO_2FA
    return TWO_FACTOR_LABELS.get(method, method)


def masked_channels(account: Account | Row[Any]) -> tuple[str, ...]:
    """The account's recovery channels, masked; a value stored unmasked is masked here."""
    out = []
    for value in (account.recovery_email_masked, account.recovery_phone_masked):
        if value:
            out.append(value if MASK in value else (mask_channel(value) or ""))
    return tuple(out)


async def live_accounts(session: AsyncSession, area: str | None = None) -> list[Account]:
    """Accounts not retired, optionally of one área, in a stable order."""
    query = select(Account).where(Account.retired_at.is_(None))
    if area is not None:
        query = query.where(Account.area == area)
    return list(await session.scalars(query.order_by(Account.area, Account.platform, Account.id)))


async def holders_by_account(
    session: AsyncSession, account_ids: Sequence[str] | None = None
) -> dict[str, list[Gestor]]:
    """Active assignments of gestores who have not departed, grouped by account: one query."""
    query = (
        select(Assignment.account_id, Gestor)
        .join(Gestor, Gestor.id == Assignment.gestor_id)
        .join(Account, Account.id == Assignment.account_id)
        .where(Assignment.ended_at.is_(None), Gestor.departed_at.is_(None))
        .where(Account.retired_at.is_(None))
        .order_by(Assignment.account_id, Gestor.name, Gestor.id)
    )
    if account_ids is not None:
        query = query.where(Assignment.account_id.in_(list(account_ids)))
    grouped: dict[str, list[Gestor]] = defaultdict(list)
    for account_id, gestor in await session.execute(query):
        grouped[account_id].append(gestor)
    return grouped


async def open_obligations(
    session: AsyncSession, account_ids: Sequence[str] | None = None
) -> dict[str, list[Obligation]]:
    """Owed obligations (neither satisfied nor withdrawn) of live accounts, by account."""
    query = (
        select(RotationObligation, Account.platform, Account.handle)
        .join(Account, Account.id == RotationObligation.account_id)
        .where(still_owed(), Account.retired_at.is_(None))
        .order_by(RotationObligation.due_at, RotationObligation.id)
    )
    if account_ids is not None:
        query = query.where(RotationObligation.account_id.in_(list(account_ids)))
    grouped: dict[str, list[Obligation]] = defaultdict(list)
    for row, platform, handle in await session.execute(query):
        grouped[row.account_id].append(
            Obligation(
                id=row.id,
                platform=platform,
                handle=handle,
                reason=row.reason,
                triggered_at=as_utc(row.triggered_at),
                due_at=as_utc(row.due_at),
            )
        )
    return grouped


async def protocol_generations(session: AsyncSession) -> int:
    """How many protocols were generated before: the next version is this plus one."""
    count = await session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == PROTOCOL_ACTION)
    )
    return int(count or 0)


async def last_rotations(
    session: AsyncSession, account_ids: Sequence[str]
) -> dict[str, tuple[datetime, str]]:
    """The newest rotation version of each account: (created_time, reason)."""
    newest = (
        select(CredentialVersion.account_id, func.max(CredentialVersion.version).label("v"))
        .where(CredentialVersion.is_rotation.is_(True))
        .where(CredentialVersion.account_id.in_(list(account_ids)))
        .group_by(CredentialVersion.account_id)
        .subquery()
    )
    query = select(
        CredentialVersion.account_id, CredentialVersion.created_time, CredentialVersion.reason
    ).join(
        newest,
        (newest.c.account_id == CredentialVersion.account_id)
        & (newest.c.v == CredentialVersion.version),
    )
    return {a: (as_utc(t), r) for a, t, r in await session.execute(query)}


async def checkout_facts(
    session: AsyncSession,
    account_ids: Sequence[str],
    *,
    since: datetime | None,
    until: datetime,
    outgoing_gestor_id: str | None,
) -> tuple[dict[str, int], dict[str, datetime]]:
    """Checkouts per account in [since, until], and the outgoing gestor's last retrieval."""
    ids = list(account_ids)
    counted = (
        select(Checkout.account_id, func.count())
        .where(Checkout.account_id.in_(ids), Checkout.granted_at <= until)
        .group_by(Checkout.account_id)
    )
    if since is not None:
        counted = counted.where(Checkout.granted_at >= since)
    counts = {a: int(n) for a, n in await session.execute(counted)}
    last: dict[str, datetime] = {}
    if outgoing_gestor_id is not None:
        query = (
            select(Checkout.account_id, func.max(Checkout.granted_at))
            .where(Checkout.account_id.in_(ids), Checkout.gestor_id == outgoing_gestor_id)
            .group_by(Checkout.account_id)
        )
        last = {a: as_utc(t) for a, t in await session.execute(query) if t is not None}
    return counts, last
