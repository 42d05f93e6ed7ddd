"""Making and revoking API tokens; each is an audit event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.audit.log import Entry, append
from service.db.models import Gestor
from service.errors import Conflict, NotFound
from service.principal import Caller, Role
from service.rotations.obligations import as_utc, opt_utc
from service.runtime import Runtime
from service.tokens.repository import TokenRepository, new_token


@dataclass(frozen=True)
class IssuedToken:
    id: str
    name: str
    role: Role
    gestor_id: str | None
    created_at: datetime
    token: str


async def issue_token(
    rt: Runtime, caller: Caller, *, role: Role, name: str, gestor_id: str | None = None
) -> IssuedToken:
    """Create a token; the plaintext is returned once and never stored.

    A gestor's token is refused once they departed, checked in the transaction:
    it holds the chain lock a departure takes too, so either the departure sees
    this token and revokes it, or this check sees the departure.
    """
    plaintext, digest = new_token()
    now = rt.clock.now()
    async with rt.transaction() as session:
        if gestor_id is not None:
            gestor = await session.get(Gestor, gestor_id)
            if gestor is None:
                raise NotFound(f"No gestor with id {gestor_id}")
            if gestor.departed_at is not None:
                raise Conflict("The gestor has departed; no new tokens")
        row = await TokenRepository(session).add(
            name=name,
            role=role,
            digest=digest,
            now=now,
            created_by=caller.actor,
            gestor_id=gestor_id,
        )
        await append(
            session,
            caller,
            Entry(
                "token.created",
                "ok",
                subject=f"token:{row.id}",
                details={"role": role, "name": name, "gestor_id": gestor_id},
            ),
            rt.clock,
        )
    return IssuedToken(row.id, name, role, gestor_id, now, plaintext)


async def revoke_token(rt: Runtime, caller: Caller, token_id: str) -> None:
    """Revoke a token from now on."""
    async with rt.transaction() as session:
        row = await TokenRepository(session).get(token_id)
        if row is None:
            raise NotFound(f"No token with id {token_id}")
        # A departure may have scheduled the revocation: until then it can be revoked now.
        if row.revoked_at is not None and row.revoked_at <= rt.clock.now():
            raise Conflict("The token is already revoked")
        row.revoked_at = rt.clock.now()
        await append(
            session,
            caller,
            Entry("token.revoked", "ok", subject=f"token:{row.id}", details={"role": row.role}),
            rt.clock,
        )


async def list_tokens(rt: Runtime) -> list[dict[str, Any]]:
    """Every token's facts, never its value; times in UTC (SQLite keeps no offset)."""
    async with rt.sessions() as session:
        rows = await TokenRepository(session).list()
    return [
        {
            "id": r.id,
            "name": r.name,
            "role": r.role,
            "gestor_id": r.gestor_id,
            "created_at": as_utc(r.created_at),
            "revoked_at": opt_utc(r.revoked_at),
        }
        for r in rows
    ]
