"""HTTP: checkout (gestor), check-in (holder) and the list of checkouts (admin, auditor)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from service.checkouts import usecases
from service.checkouts.backup_codes import reveal_backup_code
from service.checkouts.grant import grant
from service.checkouts.schemas import (
    BackupCode,
    BackupCodeIn,
    CheckedIn,
    CheckinIn,
    CheckoutIn,
    CheckoutOut,
    Granted,
)
from service.http.auth import CallerDep, Rt, allow
from service.http.problems import errors


class AccountCheckoutController(Controller):
    path = "/v1/accounts"
    tags = ["checkouts"]

    @post(
        "/{account_id:str}/checkouts",
        summary="Check a credential out with a TOTP code; audited before anything is released",
        # Other roles reach the use case so that their refusal is audited too.
        guards=[allow("gestor", "admin", "auditor")],
        responses=errors(404, 409, 422, 423),
    )
    async def checkout(
        self,
        rt: Rt,
        caller: CallerDep,
        account_id: FromPath[str],
        data: JSONBody[CheckoutIn],
    ) -> Response[Granted]:
        granted = await grant(
            rt,
            caller,
            account_id,
            totp_code=data.totp_code,
            reason=data.reason,
            minutes=data.minutes,
        )
        return Response(granted, status_code=201, headers={"Cache-Control": "no-store"})


class CheckoutController(Controller):
    path = "/v1/checkouts"
    tags = ["checkouts"]

    @post(
        "/{checkout_id:str}/checkin",
        summary="Check in; new_credential is mandatory while a rotation is owed",
        description=(
            "new_credential merges into the current version like PATCH "
            "/v1/accounts/{id}/credential: fields it does not name are kept; `remove` "
            "drops a field only when it names it with a reason."
        ),
        guards=[allow("gestor")],
        status_code=200,
        responses=errors(404, 409, 422),
    )
    async def checkin(
        self,
        rt: Rt,
        caller: CallerDep,
        checkout_id: FromPath[str],
        data: JSONBody[CheckinIn],
    ) -> CheckedIn:
        return await usecases.checkin(rt, caller, checkout_id, data.new_credential)

    @post(
        "/{checkout_id:str}/backup-code",
        summary="Reveal the next unused backup code, one at a time; audited before it leaves",
        description=(
            "The holder of an open checkout asks for one backup code with a reason: the "
            "lowest index of the checkout version's set not revealed yet. Its "
            "checkout.backup_code_revealed event (checkout, version, index; never the code) "
            "commits first. A checkout answers only how many codes are left "
            "(credential.backup_codes_left), never the codes. 409 once every code of the "
            "set was revealed, when the checkout closed, or when a newer version replaced "
            "the codes."
        ),
        guards=[allow("gestor")],
        status_code=200,
        responses=errors(404, 409, 503),
    )
    async def backup_code(
        self,
        rt: Rt,
        caller: CallerDep,
        checkout_id: FromPath[str],
        data: JSONBody[BackupCodeIn],
    ) -> Response[BackupCode]:
        code = await reveal_backup_code(rt, caller, checkout_id, data.reason)
        return Response(code, headers={"Cache-Control": "no-store"})

    @get("/", summary="List checkouts, newest first", guards=[allow("admin", "auditor")])
    async def list_checkouts(
        self,
        rt: Rt,
        active: Annotated[bool | None, QueryParameter()] = None,
        account_id: Annotated[str | None, QueryParameter(max_length=36)] = None,
        gestor_id: Annotated[str | None, QueryParameter(max_length=36)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> list[CheckoutOut]:
        return await usecases.list_checkouts(
            rt, active=active, account_id=account_id, gestor_id=gestor_id, limit=limit
        )
