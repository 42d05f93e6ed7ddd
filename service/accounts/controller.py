"""HTTP: accounts (admin writes; admin and auditor read)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter

from service.accounts import usecases
from service.accounts.schemas import AccountIn, AccountOut, AccountPatch
from service.domain.accounts import AccountKind
from service.http.auth import CallerDep, Rt, allow
from service.http.problems import errors


class AccountController(Controller):
    path = "/v1/accounts"
    tags = ["accounts"]

    @post("/", summary="Register an account", guards=[allow("admin")], responses=errors(409, 422))
    async def create(self, rt: Rt, caller: CallerDep, data: JSONBody[AccountIn]) -> AccountOut:
        return await usecases.create_account(rt, caller, data)

    @get("/", summary="List accounts", guards=[allow("admin", "auditor")])
    async def list_accounts(
        self,
        rt: Rt,
        area: Annotated[str | None, QueryParameter(max_length=200)] = None,
        kind: Annotated[AccountKind | None, QueryParameter()] = None,
        include_retired: Annotated[bool, QueryParameter()] = True,
    ) -> list[AccountOut]:
        return await usecases.list_accounts(
            rt, area=area, kind=kind, include_retired=include_retired
        )

    @get(
        "/{account_id:str}",
        summary="One account",
        guards=[allow("admin", "auditor")],
        responses=errors(404),
    )
    async def get_account(self, rt: Rt, account_id: FromPath[str]) -> AccountOut:
        return await usecases.get_account(rt, account_id)

    @patch(
        "/{account_id:str}",
        summary="Change an account's record",
        guards=[allow("admin")],
        responses=errors(404, 409, 422),
    )
    async def update(
        self, rt: Rt, caller: CallerDep, account_id: FromPath[str], data: JSONBody[AccountPatch]
    ) -> AccountOut:
        return await usecases.update_account(rt, caller, account_id, data)

    @post(
        "/{account_id:str}/retire",
        summary="Retire an account: no more checkouts; its history stays",
        guards=[allow("admin")],
        status_code=200,
        responses=errors(404, 409),
    )
    async def retire(self, rt: Rt, caller: CallerDep, account_id: FromPath[str]) -> AccountOut:
        return await usecases.retire_account(rt, caller, account_id)
