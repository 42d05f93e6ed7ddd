"""Persistence of checkouts: the ORM for the rare paths, Core built once for the hot path."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite

from service.db.models import Account, Assignment, Checkout, Gestor, RotationObligation
from service.db.work import Repository


@dataclass(slots=True)
class NewCheckout:
    """A checkout being granted: the row ``insert_open`` writes, and what its release needs."""

    id: str
    account_id: str
    gestor_id: str
    reason: str
    granted_at: datetime
    expires_at: datetime
    credential_version: int | None
    rotation_required: bool = False


_CHECKOUTS = cast(Table, Checkout.__table__)
_ACCOUNTS = cast(Table, Account.__table__)
_GESTORES = cast(Table, Gestor.__table__)
_ASSIGNMENTS = cast(Table, Assignment.__table__)
_OBLIGATIONS = cast(Table, RotationObligation.__table__)
_OPEN = _CHECKOUTS.c.closed_at.is_(None)


def _owes_rotation(account_id: Any) -> Any:
    """SQL EXISTS: the account owes a new password (an obligation neither satisfied nor withdrawn).

    Read here, in the statement that needs it, rather than asked of rotations:
    the hot path pays no extra round trip for it.
    """
    return exists().where(
        _OBLIGATIONS.c.account_id == account_id,
        _OBLIGATIONS.c.satisfied_at.is_(None),
        _OBLIGATIONS.c.withdrawn_at.is_(None),
    )


# The grant's row locks, in the canonical order (accounts, then people), in one
# round trip: the account FOR SHARE in an InitPlan, evaluated before the gestor
# row is read and locked FOR NO KEY UPDATE. Whoever ends access locks one of
# these rows, so either it sees the new checkout or the grant's re-read (a new
# statement, so a new snapshot, after the locks) sees access ended.
_LOCK_FOR_GRANT = (
    select(_GESTORES.c.id)
    .where(_GESTORES.c.id == bindparam("gestor_id"))
    .where(
        select(_ACCOUNTS.c.id)
        .where(_ACCOUNTS.c.id == bindparam("account_id"))
        .with_for_update(read=True)
        .exists()
    )
    .with_for_update(key_share=True, of=_GESTORES)
)

# Everything the checks before Vault need, in one read: the gestor, the account
# (absent when the id is unknown), the assignment, and whether this account has
# an open checkout past its expiry (closed in the grant's own transaction).
_GRANT_FACTS = (
    select(
        _GESTORES.c.responsiva_version,
        _GESTORES.c.responsiva_sha256,
        _GESTORES.c.totp_state,
        _GESTORES.c.totp_seed_id,
        _GESTORES.c.totp_failures,
        _GESTORES.c.locked_until,
        _GESTORES.c.departed_at,
        _ACCOUNTS.c.id.label("account_id"),
        _ACCOUNTS.c.retired_at,
        _ACCOUNTS.c.kind,
        _ACCOUNTS.c.managed_by_area,
        _ACCOUNTS.c.term_ends_on,
        _ACCOUNTS.c.credential_version,
        exists()
        .where(
            _ASSIGNMENTS.c.account_id == bindparam("account_id"),
            _ASSIGNMENTS.c.gestor_id == _GESTORES.c.id,
            _ASSIGNMENTS.c.ended_at.is_(None),
        )
        .label("assigned"),
        exists()
        .where(
            _CHECKOUTS.c.account_id == bindparam("account_id"),
            _OPEN,
            _CHECKOUTS.c.expires_at <= bindparam("now"),
        )
        .label("has_expired"),
    )
    .select_from(_GESTORES.outerjoin(_ACCOUNTS, _ACCOUNTS.c.id == bindparam("account_id")))
    .where(_GESTORES.c.id == bindparam("gestor_id"))
)


def _insert_open(dialect: Any) -> Any:
    # The partial unique index decides exclusivity: the loser inserts nothing.
    return (
        dialect.insert(_CHECKOUTS)
        .values(rotation_required=_owes_rotation(bindparam("owner_id")))
        .on_conflict_do_nothing(index_elements=["account_id"], index_where=_OPEN)
        .returning(_CHECKOUTS.c.rotation_required)
    )


_INSERT_OPEN = {"postgresql": _insert_open(postgresql), "sqlite": _insert_open(sqlite)}
_HOLDER = select(_CHECKOUTS.c.expires_at).where(
    _CHECKOUTS.c.account_id == bindparam("account_id"), _OPEN
)
# The row to check in, locked, with whether its account owes a rotation.
_FOR_CHECKIN = (
    select(_CHECKOUTS, _owes_rotation(_CHECKOUTS.c.account_id).label("owes_rotation"))
    .where(_CHECKOUTS.c.id == bindparam("checkout_id"))
    .with_for_update(key_share=True, of=_CHECKOUTS)
)
# Whether a just-granted checkout is still open, right before its secret leaves.
_OPEN_STATE = select(_CHECKOUTS.c.closed_at, _CHECKOUTS.c.close_reason).where(
    _CHECKOUTS.c.id == bindparam("checkout_id")
)
# SET closed_at, close_reason: from the parameters' names.
_CLOSE = update(_CHECKOUTS).where(_CHECKOUTS.c.id == bindparam("checkout_id"))
# One check-in with a new credential at a time: only an open, unclaimed checkout is claimed.
_CLAIM_CHECKIN = (
    update(_CHECKOUTS)
    .where(_CHECKOUTS.c.id == bindparam("checkout_id"), _OPEN)
    .where(_CHECKOUTS.c.checkin_claimed_at.is_(None))
    .values(checkin_claimed_at=bindparam("claim_at"))
)
# A failed write gives the claim back, while the checkout is open (closed, it stays as it is).
_RELEASE_CHECKIN = (
    update(_CHECKOUTS)
    .where(_CHECKOUTS.c.id == bindparam("checkout_id"), _OPEN)
    .values(checkin_claimed_at=None)
)


class CheckoutRepository(Repository):
    async def get(self, checkout_id: str, *, lock: bool = False) -> Checkout | None:
        query = select(Checkout).where(Checkout.id == checkout_id)
        if lock:
            query = query.with_for_update(key_share=True)
        return (await self.session.scalars(query)).first()

    async def open_to_close(
        self, gestor_id: str | None, account_ids: tuple[str, ...] | None
    ) -> list[Checkout]:
        """The open checkouts of the gestor, or of the accounts, locked; oldest first."""
        query = select(Checkout).where(Checkout.closed_at.is_(None))
        if gestor_id is not None:
            query = query.where(Checkout.gestor_id == gestor_id)
        if account_ids is not None:
            query = query.where(Checkout.account_id.in_(account_ids))
        query = query.order_by(Checkout.granted_at).with_for_update(key_share=True)
        return list(await self.session.scalars(query))

    async def live_of(
        self, account_id: str, gestor_id: str, now: datetime, *, lock: bool = False
    ) -> Checkout | None:
        """The gestor's open, unexpired checkout of the account."""
        query = select(Checkout).where(
            Checkout.account_id == account_id,
            Checkout.gestor_id == gestor_id,
            Checkout.closed_at.is_(None),
            Checkout.expires_at > now,
        )
        if lock:
            query = query.with_for_update(key_share=True)
        return (await self.session.scalars(query)).first()

    async def expired_open(self, now: datetime, account_id: str | None = None) -> list[Checkout]:
        query = (
            select(Checkout)
            .where(Checkout.closed_at.is_(None))
            .where(Checkout.expires_at <= now)
            .order_by(Checkout.expires_at)
            .with_for_update(skip_locked=True, key_share=True)
        )
        if account_id is not None:
            query = query.where(Checkout.account_id == account_id)
        return list(await self.session.scalars(query))

    async def any_expired_open(self, now: datetime, account_id: str | None = None) -> bool:
        """Whether some open checkout (of the account, or any) is past its expiry."""
        probe = select(Checkout.id).where(Checkout.closed_at.is_(None), Checkout.expires_at <= now)
        if account_id is not None:
            probe = probe.where(Checkout.account_id == account_id)
        return (await self.session.scalars(probe.limit(1))).first() is not None

    async def search(
        self,
        *,
        active: bool | None,
        account_id: str | None,
        gestor_id: str | None,
        limit: int,
    ) -> list[Checkout]:
        query = select(Checkout).order_by(Checkout.granted_at.desc(), Checkout.id).limit(limit)
        if active is True:
            query = query.where(Checkout.closed_at.is_(None))
        elif active is False:
            query = query.where(Checkout.closed_at.is_not(None))
        if account_id is not None:
            query = query.where(Checkout.account_id == account_id)
        if gestor_id is not None:
            query = query.where(Checkout.gestor_id == gestor_id)
        return list(await self.session.scalars(query))

    # -- the hot path in Core: statements built once, one round trip each ------------

    async def lock_for_grant(self, account_id: str, gestor_id: str) -> None:
        """The account FOR SHARE, then the gestor FOR NO KEY UPDATE (PostgreSQL; SQLite is serial).

        Retirement, incidents and hand-backs lock the account; departures and
        unassignments lock the gestor; concurrent codes of one gestor queue here.
        """
        if self.session.get_bind().dialect.name != "postgresql":
            return
        params = {"account_id": account_id, "gestor_id": gestor_id}
        await self.session.execute(_LOCK_FOR_GRANT, params)

    async def grant_facts(self, account_id: str, gestor_id: str, now: datetime) -> Row[Any] | None:
        """The gestor's and the account's facts the grant checks; None when the gestor is gone."""
        params = {"account_id": account_id, "gestor_id": gestor_id, "now": now}
        return cast("Row[Any] | None", (await self.session.execute(_GRANT_FACTS, params)).first())

    async def insert_open(self, checkout: NewCheckout) -> bool | None:
        """Insert an open checkout; its ``rotation_required``, or None when another is open."""
        statement = _INSERT_OPEN[self.session.get_bind().dialect.name]
        params = {
            "id": checkout.id,
            "account_id": checkout.account_id,
            "owner_id": checkout.account_id,
            "gestor_id": checkout.gestor_id,
            "reason": checkout.reason,
            "granted_at": checkout.granted_at,
            "expires_at": checkout.expires_at,
            "closed_at": None,
            "close_reason": None,
            "credential_version": checkout.credential_version,
        }
        inserted = (await self.session.execute(statement, params)).first()
        return None if inserted is None else bool(inserted.rotation_required)

    async def holder_expiry(self, account_id: str) -> datetime | None:
        """When the account's open checkout expires (the exclusivity refusal names it)."""
        return (await self.session.execute(_HOLDER, {"account_id": account_id})).scalar()

    async def open_state(self, checkout_id: str) -> Row[Any] | None:
        """The checkout's ``closed_at`` and ``close_reason``."""
        params = {"checkout_id": checkout_id}
        return cast("Row[Any] | None", (await self.session.execute(_OPEN_STATE, params)).first())

    async def for_checkin(self, checkout_id: str) -> Row[Any] | None:
        """The checkout, locked, with ``owes_rotation`` for its account."""
        params = {"checkout_id": checkout_id}
        return (await self.session.execute(_FOR_CHECKIN, params)).first()

    async def claim_checkin(self, checkout_id: str, at: datetime) -> bool:
        """Claim the open checkout for one check-in; False when it is closed or claimed already."""
        params = {"checkout_id": checkout_id, "claim_at": at}
        claimed = await self.session.execute(_CLAIM_CHECKIN, params)
        return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]

    async def release_checkin(self, checkout_id: str) -> None:
        """Give a check-in's claim back (its write failed), if the checkout is still open."""
        await self.session.execute(_RELEASE_CHECKIN, {"checkout_id": checkout_id})

    async def close(self, checkout_id: str, at: datetime, reason: str) -> None:
        params = {"checkout_id": checkout_id, "closed_at": at, "close_reason": reason}
        await self.session.execute(_CLOSE, params)
