"""Persistence of checkouts and of used TOTP steps."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.models import Checkout


class CheckoutRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

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
