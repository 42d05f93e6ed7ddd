"""Read-only SQL the handovers still keep here: set-based queries, never one per account.

Nothing here calls Vault: credential facts come from the columns custody keeps
in SQL (``accounts.credential_*``, ``credential_versions``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.models import Account, Checkout, CredentialVersion
from service.rotations.obligations import as_utc


async def live_accounts(session: AsyncSession, area: str | None = None) -> list[Account]:
    """Accounts not retired, optionally of one área, in a stable order."""
    query = select(Account).where(Account.retired_at.is_(None))
    if area is not None:
        query = query.where(Account.area == area)
    return list(await session.scalars(query.order_by(Account.area, Account.platform, Account.id)))


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
