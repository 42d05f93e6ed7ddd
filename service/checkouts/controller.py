"""HTTP: checkout (gestor), check-in (holder) and the list of checkouts (admin, auditor)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from service.checkouts import usecases
from service.checkouts.grant import grant
from service.credentials.schemas import CredentialIn
from service.http.auth import KEEP_CONNECTION, CallerDep, Rt, allow, take_connection
from service.http.problems import errors
from service.settings import CHECKOUT_MINUTES_CAP


class CheckoutIn(msgspec.Struct, forbid_unknown_fields=True):
    totp_code: Annotated[str, msgspec.Meta(min_length=1, max_length=10)]
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    minutes: Annotated[int, msgspec.Meta(ge=1, le=CHECKOUT_MINUTES_CAP)] | None = None


class Credential(msgspec.Struct):
    username: str | None
    password: str | None
    recovery_email: str | None
    recovery_phone: str | None
    backup_codes: list[str] | None


class PlatformTotp(msgspec.Struct):
    code: str
    valid_for_seconds: int


class Granted(msgspec.Struct):
    checkout_id: str
    expires_at: datetime
    rotation_required: bool
    credential_version: int
    credential: Credential
    platform_totp: PlatformTotp | None


class CheckinIn(msgspec.Struct, forbid_unknown_fields=True):
    new_credential: CredentialIn | None = None


class CheckoutOut(msgspec.Struct):
    id: str
    account_id: str
    gestor_id: str
    reason: str
    granted_at: datetime
    expires_at: datetime
    rotation_required: bool
    closed_at: datetime | None
    close_reason: str | None
    credential_version: int | None


class CheckedIn(CheckoutOut):
    new_version: int | None


class AccountCheckoutController(Controller):
    path = "/v1/accounts"
    tags = ["checkouts"]

    @post(
        "/{account_id:str}/checkouts",
        summary="Check a credential out with a TOTP code; audited before anything is released",
        # Other roles reach the use case so that their refusal is audited too.
        guards=[allow("gestor", "admin", "auditor")],
        responses=errors(404, 409, 422, 423),
        opt=KEEP_CONNECTION,
    )
    async def checkout(
        self,
        request: Request[Any, Any, Any],
        rt: Rt,
        caller: CallerDep,
        account_id: FromPath[str],
        data: JSONBody[CheckoutIn],
    ) -> Response[Granted]:
        found = await grant(
            rt,
            caller,
            account_id,
            totp_code=data.totp_code,
            reason=data.reason,
            minutes=data.minutes,
            conn=take_connection(request),
        )
        return Response(
            msgspec.convert(found, Granted),
            status_code=201,
            headers={"Cache-Control": "no-store"},
        )


class CheckoutController(Controller):
    path = "/v1/checkouts"
    tags = ["checkouts"]

    @post(
        "/{checkout_id:str}/checkin",
        summary="Check in; new_credential is mandatory while a rotation is owed",
        guards=[allow("gestor")],
        status_code=200,
        responses=errors(404, 409, 422),
        opt=KEEP_CONNECTION,
    )
    async def checkin(
        self,
        request: Request[Any, Any, Any],
        rt: Rt,
        caller: CallerDep,
        checkout_id: FromPath[str],
        data: JSONBody[CheckinIn],
    ) -> CheckedIn:
        view = await usecases.checkin(
            rt, caller, checkout_id, data.new_credential, take_connection(request)
        )
        return msgspec.convert(view, CheckedIn)

    @get("/", summary="List checkouts, newest first", guards=[allow("admin", "auditor")])
    async def list_checkouts(
        self,
        rt: Rt,
        active: Annotated[bool | None, QueryParameter()] = None,
        account_id: Annotated[str | None, QueryParameter(max_length=36)] = None,
        gestor_id: Annotated[str | None, QueryParameter(max_length=36)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> list[CheckoutOut]:
        rows = await usecases.list_checkouts(
            rt, active=active, account_id=account_id, gestor_id=gestor_id, limit=limit
        )
        return [msgspec.convert(r, CheckoutOut) for r in rows]
