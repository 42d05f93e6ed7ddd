"""Making and revoking API tokens; each is an audit event."""

from __future__ import annotations

from service.audit.log import Entry
from service.errors import Conflict, NotFound
from service.principal import Caller, Role
from service.runtime import Runtime
from service.tokens.repository import TokenRepository, new_token
from service.tokens.schemas import TokenInfo, TokenIssued


async def issue_token(
    rt: Runtime, caller: Caller, *, role: Role, name: str, gestor_id: str | None = None
) -> TokenIssued:
    """Create a token; the plaintext is returned once and never stored.

    A gestor's token is refused once they departed. Their row is share-locked
    before the check, and a departure locks it to change it: either the
    departure waits and then revokes this token, or this check sees it.
    """
    plaintext, digest = new_token()
    now = rt.clock.now()
    async with rt.unit_of_work(caller) as uow:
        repo = TokenRepository(uow)
        if gestor_id is not None:
            gestor = await repo.holder(gestor_id)
            if gestor is None:
                raise NotFound(f"No gestor with id {gestor_id}")
            if gestor.departed_at is not None:
                raise Conflict("The gestor has departed; no new tokens")
        row = await repo.add(
            name=name,
            role=role,
            digest=digest,
            now=now,
            created_by=caller.actor,
            gestor_id=gestor_id,
        )
        uow.record(
            Entry(
                "token.created",
                "ok",
                subject=f"token:{row.id}",
                details={"role": role, "name": name, "gestor_id": gestor_id},
            )
        )
    return TokenIssued(row.id, name, role, gestor_id, now, plaintext)


async def revoke_token(rt: Runtime, caller: Caller, token_id: str) -> None:
    """Revoke a token from now on."""
    async with rt.unit_of_work(caller) as uow:
        row = await TokenRepository(uow).get(token_id, lock=True)
        if row is None:
            raise NotFound(f"No token with id {token_id}")
        now = uow.now()
        # A departure may have scheduled the revocation: until then it can be revoked now.
        if row.revoked_at is not None and row.revoked_at <= now:
            raise Conflict("The token is already revoked")
        row.revoked_at = now
        uow.record(
            Entry("token.revoked", "ok", subject=f"token:{row.id}", details={"role": row.role})
        )


async def list_tokens(rt: Runtime) -> list[TokenInfo]:
    """Every token's facts, never its value."""
    async with rt.reader() as r:
        rows = await TokenRepository(r).list()
    return [TokenInfo(t.id, t.name, t.role, t.gestor_id, t.created_at, t.revoked_at) for t in rows]
