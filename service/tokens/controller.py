"""HTTP: admin and auditor tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from litestar import Controller, delete, get, post
from litestar.params import FromPath, JSONBody

from service.http.auth import CallerDep, Rt, allow
from service.http.problems import errors
from service.tokens.usecases import issue_token, list_tokens, revoke_token

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class TokenCreate(msgspec.Struct, forbid_unknown_fields=True):
    role: Literal["admin", "auditor"]
    name: Name


class TokenIssued(msgspec.Struct):
    id: str
    name: str
    role: str
    gestor_id: str | None
    created_at: datetime
    token: str


class TokenInfo(msgspec.Struct):
    id: str
    name: str
    role: str
    gestor_id: str | None
    created_at: datetime
    revoked_at: datetime | None


class TokenController(Controller):
    path = "/v1/tokens"
    tags = ["tokens"]
    guards = [allow("admin")]

    @post("/", summary="Create an admin or auditor token; the token is shown once")
    async def create(self, rt: Rt, caller: CallerDep, data: JSONBody[TokenCreate]) -> TokenIssued:
        issued = await issue_token(rt, caller, role=data.role, name=data.name)
        return TokenIssued(**issued.__dict__)

    @get("/", summary="List tokens (never their values)")
    async def list_tokens(self, rt: Rt) -> list[TokenInfo]:
        return [TokenInfo(**row) for row in await list_tokens(rt)]

    @delete("/{token_id:str}", summary="Revoke a token", responses=errors(409))
    async def revoke(self, rt: Rt, caller: CallerDep, token_id: FromPath[str]) -> None:
        await revoke_token(rt, caller, token_id)
