"""HTTP: admin and auditor tokens."""

from __future__ import annotations

from litestar import Controller, delete, get, post
from litestar.params import FromPath, JSONBody

from service.http.auth import CallerDep, Rt, allow
from service.http.problems import errors
from service.tokens.schemas import TokenCreate, TokenInfo, TokenIssued
from service.tokens.usecases import issue_token, list_tokens, revoke_token


class TokenController(Controller):
    path = "/v1/tokens"
    tags = ["tokens"]
    guards = [allow("admin")]

    @post("/", summary="Create an admin or auditor token; the token is shown once")
    async def create(self, rt: Rt, caller: CallerDep, data: JSONBody[TokenCreate]) -> TokenIssued:
        return await issue_token(rt, caller, role=data.role, name=data.name)

    @get("/", summary="List tokens (never their values)")
    async def list_tokens(self, rt: Rt) -> list[TokenInfo]:
        return await list_tokens(rt)

    @delete("/{token_id:str}", summary="Revoke a token", responses=errors(409))
    async def revoke(self, rt: Rt, caller: CallerDep, token_id: FromPath[str]) -> None:
        await revoke_token(rt, caller, token_id)
