"""The SQL of rotation obligations; status filters are computed in SQL from the clock."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Exists, Select, and_, exists, func, select, update
from sqlalchemy.exc import IntegrityError

from service.db.models import Account, AuditEvent, Checkout, CredentialVersion, RotationObligation
from service.db.work import Repository
from service.domain.accounts import AccountProfile, may_hold_credential
from service.domain.custody import HANDED_BACK
from service.domain.exposure import BACKUP_CODE_REVEALED, Exposure, revealed_index, set_by_version
from service.domain.rotation import RotationStatus

Ob = RotationObligation
AccountState = Literal["missing", "retired", "live"]


def still_owed() -> ColumnElement[bool]:
    """SQL: neither satisfied nor withdrawn (the unique index's predicate, OPEN_OBLIGATION)."""
    return and_(Ob.satisfied_at.is_(None), Ob.withdrawn_at.is_(None))


def owes_rotation(account_id: Any) -> Exists:
    """SQL EXISTS: the account (a value or a column) owes a new password.

    For custody statements that read or write other rows in the same round trip.
    """
    return exists().where(Ob.account_id == account_id, still_owed())


def _with_status(query: Select[Any], status: RotationStatus, now: datetime) -> Select[Any]:
    """Same rule as domain.obligation_status: satisfied wins, then withdrawn, then by due_at."""
    if status == "satisfied":
        return query.where(Ob.satisfied_at.is_not(None))
    if status == "withdrawn":
        return query.where(Ob.satisfied_at.is_(None), Ob.withdrawn_at.is_not(None))
    query = query.where(still_owed())
    return query.where(Ob.due_at < now) if status == "overdue" else query.where(Ob.due_at >= now)


class RotationRepository(Repository):
    async def get(self, obligation_id: str) -> Ob | None:
        return await self.session.get(Ob, obligation_id)

    async def owed(self, account_id: str, *, lock: bool = False) -> Ob | None:
        """The account's owed obligation (open or overdue), row-locked when asked."""
        query = select(Ob).where(Ob.account_id == account_id).where(still_owed())
        if lock:
            query = query.with_for_update(key_share=True)
        return (await self.session.scalars(query)).first()

    async def add_unless_owed(self, row: Ob) -> Ob | None:
        """Insert ``row`` as the account's owed obligation: None, or the one owed already.

        A savepoint: a concurrent trigger may win the one-owed-per-account index,
        and then its obligation is the account's.
        """
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError:
            existing = await self.owed(row.account_id, lock=True)
            if existing is None:
                raise
            return existing
        return None

    async def claim_overdue_notice(self, obligation_id: str, now: datetime) -> Ob | None:
        """Mark an owed obligation's overdue notice sent; None if it was sent (or it ended).

        The conditional update makes the notice once-only across replicas.
        """
        claimed = await self.session.execute(
            update(Ob)
            .where(Ob.id == obligation_id)
            .where(Ob.overdue_notified_at.is_(None))
            .where(still_owed())
            .values(overdue_notified_at=now)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return await self.session.get(Ob, obligation_id)

    async def account_state(self, account_id: str) -> AccountState:
        """Whether the account exists and is live; share-locked so a retirement waits."""
        query = select(Account.retired_at).where(Account.id == account_id)
        retired = (await self.session.execute(query.with_for_update(read=True))).first()
        if retired is None:
            return "missing"
        return "live" if retired[0] is None else "retired"

    async def may_hold_now(self, account_id: str, at: datetime, *, lock: bool = True) -> bool:
        """Whether the body may hold the account's password at ``at`` (no account: False).

        The row is share-locked: whatever makes it unholdable (an edit, a hand-back)
        locks it for update, so it commits before this read or waits for its end.
        """
        query = select(Account).where(Account.id == account_id)
        if lock:
            query = query.with_for_update(read=True)
        account = (await self.session.scalars(query)).first()
        if account is None:
            return False
        profile = AccountProfile(
            kind=account.kind,  # type: ignore[arg-type]
            managed_by_area=account.managed_by_area,
            term_ends_on=account.term_ends_on,
        )
        return may_hold_credential(profile, at)

    async def ever_handed_back(self, account_id: str) -> bool:
        """Whether the account's credential was ever handed back (its audit event exists)."""
        query = select(
            exists().where(AuditEvent.account_id == account_id, AuditEvent.action == HANDED_BACK)
        )
        return bool((await self.session.execute(query)).scalar())

    async def exposure(self, account_id: str, gestor_id: str) -> Exposure:
        """Whether the gestor saw a current backup code, or wrote the current platform seed."""
        facts = (
            await self.session.execute(
                select(
                    Account.credential_version,
                    Account.backup_codes_version,
                    Account.totp_secret_version,
                    Account.two_factor_method,
                ).where(Account.id == account_id)
            )
        ).first()
        if facts is None:
            return Exposure()
        codes_since = set_by_version(facts.backup_codes_version, facts.credential_version)
        seed_since = set_by_version(
            facts.totp_secret_version,
            facts.credential_version,
            present=facts.two_factor_method == "totp",
        )
        return Exposure(
            saw_backup_codes=codes_since is not None
            and await self._saw_codes(account_id, gestor_id, codes_since),
            wrote_totp_secret=seed_since is not None
            and await self._wrote(account_id, gestor_id, seed_since),
        )

    async def _saw_codes(self, account_id: str, gestor_id: str, since: int) -> bool:
        """Whether a code of the set current since ``since`` was revealed to the gestor."""
        query = select(AuditEvent.details).where(
            AuditEvent.account_id == account_id,
            AuditEvent.action == BACKUP_CODE_REVEALED,
            AuditEvent.outcome == "ok",
            AuditEvent.actor == f"gestor:{gestor_id}",
        )
        found = await self.session.scalars(query)
        return any(revealed_index(json.loads(details), since) is not None for details in found)

    async def _wrote(self, account_id: str, gestor_id: str, version: int) -> bool:
        """Whether the gestor wrote that version (through their checkout)."""
        query = (
            select(CredentialVersion.written_by, Checkout.gestor_id)
            .outerjoin(Checkout, Checkout.id == CredentialVersion.checkout_id)
            .where(CredentialVersion.account_id == account_id)
            .where(CredentialVersion.version == version)
        )
        row = (await self.session.execute(query)).first()
        return row is not None and gestor_id in (row.gestor_id, _gestor_of(row.written_by))

    async def search(
        self,
        now: datetime,
        *,
        status: RotationStatus | None = None,
        account_id: str | None = None,
        reason: str | None = None,
        limit: int = 100,
    ) -> list[Ob]:
        query = select(Ob)
        if status is not None:
            query = _with_status(query, status, now)
        if account_id is not None:
            query = query.where(Ob.account_id == account_id)
        if reason is not None:
            query = query.where(Ob.reason == reason)
        query = query.order_by(Ob.due_at, Ob.id).limit(limit)
        return list(await self.session.scalars(query))

    async def count(self, now: datetime, status: RotationStatus) -> int:
        query = _with_status(select(func.count()).select_from(Ob), status, now)
        return int((await self.session.execute(query)).scalar_one())

    async def oldest_overdue(self, now: datetime) -> Ob | None:
        query = _with_status(select(Ob), "overdue", now).order_by(Ob.due_at, Ob.id).limit(1)
        return (await self.session.scalars(query)).first()

    async def for_accounts(self, account_ids: list[str]) -> list[Ob]:
        if not account_ids:
            return []
        query = select(Ob).where(Ob.account_id.in_(account_ids)).order_by(Ob.triggered_at)
        return list(await self.session.scalars(query))

    async def overdue_unnotified(self, now: datetime, limit: int = 200) -> list[str]:
        query = (
            _with_status(select(Ob.id), "overdue", now)
            .where(Ob.overdue_notified_at.is_(None))
            .order_by(Ob.due_at)
            .limit(limit)
        )
        return list(await self.session.scalars(query))

    async def credential_ages(self) -> list[tuple[str, datetime | None, int | None, bool]]:
        """(account, credential created_time, version, owes a rotation) of live accounts.

        The rows are share-locked in id order: a credential written or an account
        retired meanwhile commits before this read (and is seen) or waits for its end.
        """
        query = (
            select(
                Account.id,
                Account.credential_created_time,
                Account.credential_version,
                owes_rotation(Account.id),
            )
            .where(Account.retired_at.is_(None))
            .order_by(Account.id)
            .with_for_update(read=True, of=Account)
        )
        rows = await self.session.execute(query)
        return [(r[0], r[1], r[2], bool(r[3])) for r in rows]


def _gestor_of(actor: str | None) -> str | None:
    """The gestor id of an audit actor ``gestor:<id>``; None for anyone else."""
    return actor.removeprefix("gestor:") if actor and actor.startswith("gestor:") else None
