"""Every query of credentials: its versions, its audit trail, and the accounts leaving custody."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.orm import aliased

from service.accounts.profiles import profile_of_row
from service.db.models import Account, AuditEvent, CredentialVersion, RotationObligation
from service.db.work import Repository
from service.domain.custody import DESTROYED, HANDED_BACK, CustodyEvent, Held
from service.domain.rotation import Origin
from service.domain.write_intents import (
    CONFLICT,
    FAILED,
    INTENT,
    RECOVERED,
    SETTLING,
    WRITTEN,
    CredentialEvent,
)

_READ = (INTENT, WRITTEN, RECOVERED, CONFLICT, FAILED)


def _owed(account_id: Any) -> ColumnElement[bool]:
    """SQL: the account (a value or a column) owes a new password: neither satisfied nor withdrawn.

    Read only over rotations' table: what is owed is rotations' to change; this is
    the predicate of its one-open-obligation-per-account index.
    """
    return and_(
        RotationObligation.account_id == account_id,
        RotationObligation.satisfied_at.is_(None),
        RotationObligation.withdrawn_at.is_(None),
    )


class CredentialRepository(Repository):
    # -- credential versions -------------------------------------------------------

    async def versions(self, account_id: str) -> list[CredentialVersion]:
        query = (
            select(CredentialVersion)
            .where(CredentialVersion.account_id == account_id)
            .order_by(CredentialVersion.version)
        )
        return list(await self.session.scalars(query))

    async def version_numbers(self, account_id: str) -> set[int]:
        query = select(CredentialVersion.version).where(CredentialVersion.account_id == account_id)
        return set(await self.session.scalars(query))

    async def version(self, account_id: str, number: int) -> CredentialVersion | None:
        return await self.session.get(CredentialVersion, (account_id, number))

    async def count_versions(self, account_id: str) -> int:
        query = select(func.count()).where(CredentialVersion.account_id == account_id)
        return int((await self.session.execute(query)).scalar_one())

    def add(self, row: CredentialVersion) -> None:
        self.session.add(row)

    # -- the account rows credentials changes --------------------------------------

    async def locked_account(self, account_id: str, *, skip_locked: bool = False) -> Account | None:
        """The account row FOR NO KEY UPDATE; with ``skip_locked`` None while another holds it."""
        query = (
            select(Account)
            .where(Account.id == account_id)
            .with_for_update(key_share=True, skip_locked=skip_locked)
        )
        return (await self.session.scalars(query)).first()

    async def holding(self) -> list[Held[str]]:
        """Accounts with a credential in custody that the rules may ask to hand back.

        Official accounts are always holdable (Segunda II), so only the others are read;
        the domain rule decides among them. Retired accounts count: retiring one does
        not make its password the body's.
        """
        rows = await self.session.scalars(
            select(Account)
            .where(Account.credential_version.is_not(None), Account.kind != "oficial")
            .order_by(Account.id)
        )
        return [Held(a.id, profile_of_row(a), a.credential_version) for a in rows]

    async def owing_without_credential(self) -> list[Held[str]]:
        """Accounts that owe a rotation but hold no credential; the domain rule decides which left.

        Official accounts are always holdable (Segunda II), so only the others are read.
        """
        rows = await self.session.scalars(
            select(Account)
            .where(
                Account.credential_version.is_(None),
                Account.kind != "oficial",
                exists().where(_owed(Account.id)),
            )
            .order_by(Account.id)
        )
        return [Held(a.id, profile_of_row(a), a.credential_version) for a in rows]

    # -- what the account owes (rotations' rows, read only) -------------------------

    async def owed_origins(self, account_id: str) -> list[Origin] | None:
        """The origins of the account's owed obligation; None when it owes nothing."""
        query = select(RotationObligation.origins).where(_owed(account_id))
        origins = (await self.session.execute(query)).scalars().first()
        return None if origins is None else list(origins)

    # -- the credential's audit trail ------------------------------------------------

    async def credential_events(self, account_id: str) -> list[CredentialEvent]:
        """The account's credential events that recovery reads, in chain order."""
        rows = await self.session.execute(
            select(
                AuditEvent.seq,
                AuditEvent.action,
                AuditEvent.details,
                AuditEvent.actor,
                AuditEvent.actor_role,
                AuditEvent.reason,
            )
            .where(AuditEvent.account_id == account_id, AuditEvent.action.in_(_READ))
            .order_by(AuditEvent.seq)
        )
        return [
            CredentialEvent(r.seq, r.action, json.loads(r.details), r.actor, r.actor_role, r.reason)
            for r in rows
        ]

    async def accounts_with_open_intents(self, since: str, until: str) -> list[str]:
        """Accounts with an intent in [since, until) that no later recorded version settles.

        Every write first recovers what Vault holds and SQL lacks, so a version
        recorded after an intent means the intent's version is recorded too. The
        indexes on (action, seq) and (account_id, seq) keep this a small read.
        """
        intent, later = aliased(AuditEvent), aliased(AuditEvent)
        settled = exists().where(
            later.account_id == intent.account_id,
            later.action.in_(SETTLING),
            later.seq > intent.seq,
        )
        rows = await self.session.scalars(
            select(intent.account_id)
            .where(intent.action == INTENT, intent.ts >= since, intent.ts < until, ~settled)
            .distinct()
        )
        return [a for a in rows if a is not None]

    async def custody_events(self, account_id: str) -> list[CustodyEvent]:
        """The account's hand-back and destroy events, in chain order."""
        rows = await self.session.execute(
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

    async def ever_handed_back(self, account_id: str) -> bool:
        query = select(
            exists().where(AuditEvent.account_id == account_id, AuditEvent.action == HANDED_BACK)
        )
        return bool((await self.session.execute(query)).scalar())

    async def pending_destroys(self) -> list[str]:
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
        rows = await self.session.scalars(
            select(back.account_id).where(back.action == HANDED_BACK, ~destroyed).distinct()
        )
        return sorted(a for a in rows if a is not None)
