"""HTTP: the calling gestor's own TOTP enrolment and responsiva."""

from __future__ import annotations

from litestar import Controller, Response, get, post
from litestar.params import JSONBody

from service.gestores.schemas import GestorOut
from service.http.auth import CallerDep, Rt, allow
from service.http.problems import errors
from service.me import usecases
from service.me.schemas import AcceptIn, CodeIn, Confirmed, Enrollment, ResponsivaOut

NO_STORE = {"Cache-Control": "no-store"}


class MeController(Controller):
    path = "/v1/me"
    tags = ["me"]
    guards = [allow("gestor")]

    @get("/", summary="The calling gestor")
    async def me(self, rt: Rt, caller: CallerDep) -> GestorOut:
        return await usecases.me(rt, caller)

    @post(
        "/totp/enrollment",
        summary="Start TOTP enrolment: the seed is shown once, as a URI and a QR code",
        responses=errors(409),
    )
    async def enrol(self, rt: Rt, caller: CallerDep) -> Response[Enrollment]:
        found = await usecases.enrol(rt, caller)
        return Response(found, status_code=201, headers=NO_STORE)

    @post(
        "/totp/confirm",
        summary="Activate TOTP with a code from the authenticator app",
        status_code=200,
        responses=errors(409, 423),
    )
    async def confirm(self, rt: Rt, caller: CallerDep, data: JSONBody[CodeIn]) -> Confirmed:
        return await usecases.confirm(rt, caller, data.code)

    @get("/responsiva", summary="The current responsiva (Décima quinta) and whether it is accepted")
    async def responsiva(self, rt: Rt, caller: CallerDep) -> ResponsivaOut:
        return await usecases.read_responsiva(rt, caller)

    @post(
        "/responsiva",
        summary="Accept the current responsiva; its version, SHA-256 and time are recorded",
        status_code=200,
    )
    async def accept(self, rt: Rt, caller: CallerDep, data: JSONBody[AcceptIn]) -> ResponsivaOut:
        return await usecases.accept_responsiva(rt, caller, data.accept)
