"""Persistence of API tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, or_, select, update

from service.db.models import ApiToken, Gestor
from service.db.work import Repository
from service.principal import Principal, Role

TOKEN_PREFIX = "cust_"  # noqa: S105 - a prefix, not a secret

_TOKENS = cast(Table, ApiToken.__table__)
_GESTORES = cast(Table, Gestor.__table__)
# Built once, in Core: every authenticated request runs it.
_LIVE_TOKEN = (
    select(_TOKENS.c.id, _TOKENS.c.name, _TOKENS.c.role, _TOKENS.c.gestor_id)
    .select_from(_TOKENS.outerjoin(_GESTORES, _GESTORES.c.id == _TOKENS.c.gestor_id))
    .where(_TOKENS.c.token_sha256 == bindparam("digest"))
    .where(or_(_TOKENS.c.revoked_at.is_(None), _TOKENS.c.revoked_at > bindparam("now")))
    # Compared in SQL: SQLite hands datetimes back without their offset.
    .where(or_(_GESTORES.c.departed_at.is_(None), _GESTORES.c.departed_at > bindparam("now")))
)


def new_token() -> tuple[str, str]:
    """A fresh token (256 random bits) and the SHA-256 that is all we keep."""
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return plaintext, token_digest(plaintext)


def token_digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


class TokenRepository(Repository):
    async def add(
        self,
        *,
        name: str,
        role: Role,
        digest: str,
        now: datetime,
        created_by: str | None,
        gestor_id: str | None = None,
    ) -> ApiToken:
        row = ApiToken(
            id=str(uuid.uuid4()),
            name=name,
            role=role,
            gestor_id=gestor_id,
            token_sha256=digest,
            created_at=now,
            created_by=created_by,
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def get(self, token_id: str, *, lock: bool = False) -> ApiToken | None:
        """The token; ``lock`` holds the row so two revocations queue."""
        query = select(ApiToken).where(ApiToken.id == token_id)
        if lock:
            query = query.with_for_update(key_share=True)
        return (await self.session.scalars(query)).first()

    async def list(self) -> list[ApiToken]:
        result = await self.session.scalars(select(ApiToken).order_by(ApiToken.created_at))
        return list(result)

    async def any_admin(self) -> bool:
        """Whether an admin token was ever made (revoked ones count)."""
        query = select(ApiToken.id).where(ApiToken.role == "admin").limit(1)
        return await self.session.scalar(query) is not None

    async def holder(self, gestor_id: str) -> Gestor | None:
        """The gestor a new token is for, share-locked until the transaction ends.

        A departure locks this row to change it, so it waits for the new token
        (and revokes it) or this read waits and sees ``departed_at``.
        """
        query = select(Gestor).where(Gestor.id == gestor_id).with_for_update(read=True)
        return (await self.session.scalars(query)).first()

    async def live_principal(self, digest: str, now: datetime) -> Principal | None:
        """The principal of a live token; revoked tokens and departed gestores get None."""
        params = {"digest": digest, "now": now}
        row = (await self.session.execute(_LIVE_TOKEN, params)).first()
        if row is None:
            return None
        return Principal(row.id, row.name, cast(Role, row.role), row.gestor_id)

    async def revoke_for_gestor(self, gestor_id: str, at: datetime) -> int:
        """Revoke every live token of a gestor from ``at``; return how many."""
        result = await self.session.execute(
            update(ApiToken)
            .where(ApiToken.gestor_id == gestor_id)
            .where(or_(ApiToken.revoked_at.is_(None), ApiToken.revoked_at > at))
            .values(revoked_at=at)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
