"""HTTP: gestores (admin), their tokens and TOTP reset, and account assignments."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from service.gestores import usecases
from service.gestores.schemas import AssignmentIn, AssignmentOut, GestorIn, GestorOut, GestorTokenIn
from service.http.auth import CallerDep, Rt, allow
from service.http.problems import errors
from service.tokens import usecases as tokens
from service.tokens.schemas import TokenIssued


class GestorController(Controller):
    path = "/v1/gestores"
    tags = ["gestores"]

    @post("/", summary="Register a gestor", guards=[allow("admin")], responses=errors(422))
    async def create(self, rt: Rt, caller: CallerDep, data: JSONBody[GestorIn]) -> GestorOut:
        return await usecases.create_gestor(rt, caller, data)

    @get("/", summary="List gestores", guards=[allow("admin", "auditor")])
    async def list_gestores(
        self, rt: Rt, include_departed: Annotated[bool, QueryParameter()] = True
    ) -> list[GestorOut]:
        return await usecases.list_gestores(rt, include_departed=include_departed)

    @get(
        "/{gestor_id:str}",
        summary="One gestor",
        guards=[allow("admin", "auditor")],
        responses=errors(404),
    )
    async def get_gestor(self, rt: Rt, gestor_id: FromPath[str]) -> GestorOut:
        return await usecases.get_gestor(rt, gestor_id)

    @post(
        "/{gestor_id:str}/tokens",
        summary="Issue a gestor token; the token is shown once",
        guards=[allow("admin")],
        responses=errors(404, 409),
    )
    async def issue_token(
        self, rt: Rt, caller: CallerDep, gestor_id: FromPath[str], data: JSONBody[GestorTokenIn]
    ) -> TokenIssued:
        return await tokens.issue_token(
            rt, caller, role="gestor", name=data.name, gestor_id=gestor_id
        )

    @post(
        "/{gestor_id:str}/totp/reset",
        summary="Reset a gestor's TOTP: the seed is destroyed; they enrol again",
        guards=[allow("admin")],
        status_code=200,
        responses=errors(404),
    )
    async def reset_totp(self, rt: Rt, caller: CallerDep, gestor_id: FromPath[str]) -> GestorOut:
        return await usecases.reset_totp(rt, caller, gestor_id)


class AssignmentController(Controller):
    path = "/v1/accounts"
    tags = ["gestores"]

    @post(
        "/{account_id:str}/gestores",
        summary="Assign a gestor to an account",
        guards=[allow("admin")],
        responses=errors(404, 409),
    )
    async def assign(
        self, rt: Rt, caller: CallerDep, account_id: FromPath[str], data: JSONBody[AssignmentIn]
    ) -> AssignmentOut:
        return await usecases.assign(rt, caller, account_id, data.gestor_id)

    @get(
        "/{account_id:str}/gestores",
        summary="Assignments of an account, ended ones included",
        guards=[allow("admin", "auditor")],
        responses=errors(404),
    )
    async def list_assignments(self, rt: Rt, account_id: FromPath[str]) -> list[AssignmentOut]:
        return await usecases.assignments(rt, account_id)

    @delete(
        "/{account_id:str}/gestores/{gestor_id:str}",
        summary="End an assignment: access ends now and a rotation obligation opens",
        guards=[allow("admin")],
        responses=errors(404),
    )
    async def unassign(
        self, rt: Rt, caller: CallerDep, account_id: FromPath[str], gestor_id: FromPath[str]
    ) -> None:
        await usecases.unassign(rt, caller, account_id, gestor_id)
