"""HTTP: the calling gestor's own TOTP enrolment and responsiva."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, Response, get, post
from litestar.params import JSONBody

from service.gestores.schemas import GestorOut
from service.gestores.usecases import get_gestor
from service.http.auth import CallerDep, Rt, allow
from service.http.problems import errors
from service.me import usecases

NO_STORE = {"Cache-Control": "no-store"}


class Enrollment(msgspec.Struct):
    otpauth_uri: str
    qr_svg: str


class CodeIn(msgspec.Struct, forbid_unknown_fields=True):
    # Any string up to 10: a malformed code is a wrong code, counted as a failure.
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=10)]


class Confirmed(msgspec.Struct):
    totp_state: str


class ResponsivaOut(msgspec.Struct):
    version: str
    sha256: str
    text: str
    accepted: bool
    accepted_at: datetime | None


class AcceptIn(msgspec.Struct, forbid_unknown_fields=True):
    accept: bool


class MeController(Controller):
    path = "/v1/me"
    tags = ["me"]
    guards = [allow("gestor")]

    @get("/", summary="The calling gestor")
    async def me(self, rt: Rt, caller: CallerDep) -> GestorOut:
        return await get_gestor(rt, usecases.gestor_id_of(caller))

    @post(
        "/totp/enrollment",
        summary="Start TOTP enrolment: the seed is shown once, as a URI and a QR code",
        responses=errors(409),
    )
    async def enrol(self, rt: Rt, caller: CallerDep) -> Response[Enrollment]:
        found = await usecases.enrol(rt, caller)
        return Response(Enrollment(**found), status_code=201, headers=NO_STORE)

    @post(
        "/totp/confirm",
        summary="Activate TOTP with a code from the authenticator app",
        status_code=200,
        responses=errors(409, 423),
    )
    async def confirm(self, rt: Rt, caller: CallerDep, data: JSONBody[CodeIn]) -> Confirmed:
        return Confirmed(**await usecases.confirm(rt, caller, data.code))

    @get("/responsiva", summary="The current responsiva (Décima quinta) and whether it is accepted")
    async def responsiva(self, rt: Rt, caller: CallerDep) -> ResponsivaOut:
        return ResponsivaOut(**await usecases.read_responsiva(rt, caller))

    @post(
        "/responsiva",
        summary="Accept the current responsiva; its version, SHA-256 and time are recorded",
        status_code=200,
    )
    async def accept(self, rt: Rt, caller: CallerDep, data: JSONBody[AcceptIn]) -> ResponsivaOut:
        return ResponsivaOut(**await usecases.accept_responsiva(rt, caller, data.accept))
