"""Queries the hand-back needs: accounts holding a credential or owing a rotation, and events."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from service.accounts.usecases import profile_of_row
from service.db.models import Account, AuditEvent, CredentialVersion
from service.domain.accounts import may_hold_credential
from service.domain.custody import DESTROYED, HANDED_BACK, CustodyEvent, Held
from service.rotations.hooks import owes_rotation


async def holding(session: AsyncSession) -> list[Held[str]]:
    """Accounts with a credential in custody that the rules may ask to hand back.

    Official accounts are always holdable (Segunda II), so only the others are read;
    the domain rule decides among them. Retired accounts count: retiring one does
    not make its password the body's.
    """
    rows = await session.scalars(
        select(Account)
        .where(Account.credential_version.is_not(None), Account.kind != "oficial")
        .order_by(Account.id)
    )
    return [Held(a.id, profile_of_row(a), a.credential_version) for a in rows]


async def owing_without_credential(session: AsyncSession) -> list[Held[str]]:
    """Accounts that owe a rotation but hold no credential; the domain rule decides which left.

    Official accounts are always holdable (Segunda II), so only the others are read.
    """
    rows = await session.scalars(
        select(Account)
        .where(
            Account.credential_version.is_(None),
            Account.kind != "oficial",
            owes_rotation(Account.id),
        )
        .order_by(Account.id)
    )
    return [Held(a.id, profile_of_row(a), a.credential_version) for a in rows]


async def may_hold_now(session: AsyncSession, account_id: str, at: datetime) -> bool:
    """Whether the body may hold the account's password at ``at``; no such account: False."""
    account = await session.get(Account, account_id)
    return account is not None and may_hold_credential(profile_of_row(account), at)


async def locked_account(
    session: AsyncSession, account_id: str, *, skip_locked: bool = False
) -> Account | None:
    """The account row, locked (PostgreSQL); with ``skip_locked`` None while another holds it."""
    query = (
        select(Account)
        .where(Account.id == account_id)
        .with_for_update(key_share=True, skip_locked=skip_locked)
    )
    return (await session.scalars(query)).first()


async def versions_kept(session: AsyncSession, account_id: str) -> int:
    query = select(func.count()).where(CredentialVersion.account_id == account_id)
    return int((await session.execute(query)).scalar_one())


async def custody_events(session: AsyncSession, account_id: str) -> list[CustodyEvent]:
    """The account's hand-back and destroy events, in chain order."""
    rows = await session.execute(
        select(
            AuditEvent.seq,
            AuditEvent.action,
            AuditEvent.outcome,
            AuditEvent.ts,
            AuditEvent.actor,
            AuditEvent.reason,
            AuditEvent.details,
        )
        .where(AuditEvent.account_id == account_id)
        .where(AuditEvent.action.in_((HANDED_BACK, DESTROYED)))
        .order_by(AuditEvent.seq)
    )
    return [
        CustodyEvent(r.seq, r.action, r.outcome, r.ts, r.actor, r.reason, json.loads(r.details))
        for r in rows
    ]


async def ever_handed_back(session: AsyncSession, account_id: str) -> bool:
    query = select(
        exists().where(AuditEvent.account_id == account_id, AuditEvent.action == HANDED_BACK)
    )
    return bool((await session.execute(query)).scalar())


async def pending_destroys(session: AsyncSession) -> list[str]:
    """Accounts handed back whose Vault copy no later successful destroy event covers.

    The indexes on (action, seq) and (account_id, seq) keep this a small read.
    """
    back, done = aliased(AuditEvent), aliased(AuditEvent)
    destroyed = exists().where(
        done.account_id == back.account_id,
        done.action == DESTROYED,
        done.outcome == "ok",
        done.seq > back.seq,
    )
    rows = await session.scalars(
        select(back.account_id).where(back.action == HANDED_BACK, ~destroyed).distinct()
    )
    return sorted(a for a in rows if a is not None)
