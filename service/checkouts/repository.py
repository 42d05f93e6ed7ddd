"""Persistence of checkouts and of used TOTP steps."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.db.models import Account, Assignment, Checkout, Gestor
from service.db.reads import read_row
from service.db.work import Repository
from service.rotations import hooks


class CheckoutRepository(Repository):
    async def get(self, checkout_id: str, *, lock: bool = False) -> Checkout | None:
        query = select(Checkout).where(Checkout.id == checkout_id)
        if lock:
            query = query.with_for_update(key_share=True)
        return (await self.session.scalars(query)).first()

    async def open_of_account(self, account_id: str) -> Checkout | None:
        return (
            await self.session.scalars(
                select(Checkout)
                .where(Checkout.account_id == account_id)
                .where(Checkout.closed_at.is_(None))
            )
        ).first()

    async def live_of(self, account_id: str, gestor_id: str, now: datetime) -> Checkout | None:
        """The gestor's open, unexpired checkout of the account."""
        return (
            await self.session.scalars(
                select(Checkout)
                .where(Checkout.account_id == account_id)
                .where(Checkout.gestor_id == gestor_id)
                .where(Checkout.closed_at.is_(None))
                .where(Checkout.expires_at > now)
            )
        ).first()

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


# -- the hot path in Core: statements built once, one round trip each ----------

_CHECKOUTS = cast(Table, Checkout.__table__)
_ACCOUNTS = cast(Table, Account.__table__)
_GESTORES = cast(Table, Gestor.__table__)
_ASSIGNMENTS = cast(Table, Assignment.__table__)
_OPEN = _CHECKOUTS.c.closed_at.is_(None)

# Everything the checks before Vault need, in one read: the gestor, the account
# (absent when the id is unknown), the assignment, and whether this account has
# an open checkout past its expiry (closed in the grant's own transaction).
_GRANT_FACTS = (
    select(
        _GESTORES.c.responsiva_version,
        _GESTORES.c.responsiva_sha256,
        _GESTORES.c.totp_state,
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
        .values(rotation_required=hooks.owes_rotation(bindparam("owner_id")))
        .on_conflict_do_nothing(index_elements=["account_id"], index_where=_OPEN)
        .returning(_CHECKOUTS.c.rotation_required)
    )


_INSERT_OPEN = {"postgresql": _insert_open(postgresql), "sqlite": _insert_open(sqlite)}
_HOLDER = select(_CHECKOUTS.c.expires_at).where(
    _CHECKOUTS.c.account_id == bindparam("account_id"), _OPEN
)
# The row to check in, locked, with whether its account owes a rotation.
_FOR_CHECKIN = (
    select(_CHECKOUTS, hooks.owes_rotation(_CHECKOUTS.c.account_id).label("owes_rotation"))
    .where(_CHECKOUTS.c.id == bindparam("checkout_id"))
    .with_for_update(key_share=True, of=_CHECKOUTS)
)
# Whether a just-granted checkout is still open, right before its secret leaves.
_OPEN_STATE = select(_CHECKOUTS.c.closed_at, _CHECKOUTS.c.close_reason).where(
    _CHECKOUTS.c.id == bindparam("checkout_id")
)
# SET closed_at, close_reason: from the parameters' names.
_CLOSE = update(_CHECKOUTS).where(_CHECKOUTS.c.id == bindparam("checkout_id"))


async def grant_facts(
    conn: AsyncConnection, account_id: str, gestor_id: str, now: datetime
) -> Row[Any] | None:
    """The facts, read outside any transaction (the checks before Vault)."""
    params = {"account_id": account_id, "gestor_id": gestor_id, "now": now}
    return await read_row(conn, _GRANT_FACTS, params)


async def grant_facts_in_transaction(
    session: AsyncSession, account_id: str, gestor_id: str, now: datetime
) -> Row[Any] | None:
    """The same facts re-read inside the grant's transaction, after the chain lock."""
    params = {"account_id": account_id, "gestor_id": gestor_id, "now": now}
    return cast("Row[Any] | None", (await session.execute(_GRANT_FACTS, params)).first())


async def insert_open(session: AsyncSession, values: dict[str, Any]) -> bool | None:
    """Insert an open checkout; its ``rotation_required``, or None when another is open."""
    statement = _INSERT_OPEN[session.get_bind().dialect.name]
    params = {**values, "owner_id": values["account_id"]}
    inserted = (await session.execute(statement, params)).first()
    return None if inserted is None else bool(inserted.rotation_required)


async def open_state(conn: AsyncConnection, checkout_id: str) -> Row[Any] | None:
    """The checkout's ``closed_at`` and ``close_reason``, read outside a transaction."""
    return await read_row(conn, _OPEN_STATE, {"checkout_id": checkout_id})


async def holder_expiry(session: AsyncSession, account_id: str) -> datetime | None:
    return (await session.execute(_HOLDER, {"account_id": account_id})).scalar()


async def for_checkin(session: AsyncSession, checkout_id: str) -> Row[Any] | None:
    return (await session.execute(_FOR_CHECKIN, {"checkout_id": checkout_id})).first()


async def close(session: AsyncSession, checkout_id: str, at: datetime, reason: str) -> None:
    await session.execute(
        _CLOSE, {"checkout_id": checkout_id, "closed_at": at, "close_reason": reason}
    )
