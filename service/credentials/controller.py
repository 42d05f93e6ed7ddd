"""HTTP: writing a credential version, listing versions (never secrets), handing it back."""

from __future__ import annotations

from litestar import Controller, get, patch, post, put
from litestar.params import FromPath, JSONBody

from service.credentials import handback, usecases
from service.credentials.schemas import CredentialIn, HandBackOut, VersionOut, WrittenVersion
from service.http.auth import CallerDep, Rt, allow
from service.http.problems import errors


class CredentialController(Controller):
    path = "/v1/accounts"
    tags = ["credentials"]

    @put(
        "/{account_id:str}/credential",
        summary="Write a new credential version to Vault (check-and-set); answers no secret",
        description=(
            "Full replacement: the new version holds exactly the fields sent. If the current "
            "version holds totp_secret, backup_codes, recovery_email, recovery_phone or notes "
            "and the request neither sends it nor names it in `remove` (with a reason), the "
            "write is refused with a 422 whose `fields` names them, and nothing is written. "
            "To change the password and keep everything else, use PATCH."
        ),
        guards=[allow("admin", "gestor")],
        responses=errors(404, 409, 422),
    )
    async def write(
        self, rt: Rt, caller: CallerDep, account_id: FromPath[str], data: JSONBody[CredentialIn]
    ) -> WrittenVersion:
        version = await usecases.write_credential(
            rt, caller, account_id, data, reason="credential written", replace=True
        )
        return WrittenVersion(version.version, version.created_time)

    @patch(
        "/{account_id:str}/credential",
        summary="Rotate: a new credential version that keeps every field not sent",
        description=(
            "Merge: Vault merges the fields sent into the current version (KV v2 patch, "
            "check-and-set), so the 2FA seed, backup codes, recovery channels and notes "
            "the request does not name are carried over; the service never reads them. "
            "A field is dropped only when `remove` names it with a reason; the audit event "
            "names the field and the reason, never the value. The check-in's "
            "`new_credential` merges the same way."
        ),
        guards=[allow("admin", "gestor")],
        responses=errors(404, 409, 422),
    )
    async def merge(
        self, rt: Rt, caller: CallerDep, account_id: FromPath[str], data: JSONBody[CredentialIn]
    ) -> WrittenVersion:
        version = await usecases.write_credential(
            rt, caller, account_id, data, reason="credential written"
        )
        return WrittenVersion(version.version, version.created_time)

    @get(
        "/{account_id:str}/credential/versions",
        summary="Credential versions: when, by whom and why; no secrets",
        guards=[allow("admin", "auditor")],
        responses=errors(404),
    )
    async def versions(self, rt: Rt, account_id: FromPath[str]) -> list[VersionOut]:
        return await usecases.list_versions(rt, account_id)

    @post(
        "/{account_id:str}/credential/hand-back",
        summary="Hand back the credential of an account that left custody (Décima novena); "
        "idempotent",
        guards=[allow("admin")],
        status_code=200,
        responses=errors(404, 409, 503),
    )
    async def hand_back(self, rt: Rt, caller: CallerDep, account_id: FromPath[str]) -> HandBackOut:
        return await handback.hand_back(rt, caller, account_id)
