"""HTTP: writing a credential version, listing versions (never secrets), handing it back."""

from __future__ import annotations

from litestar import Controller, get, post, put
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
        guards=[allow("admin", "gestor")],
        responses=errors(404, 409, 422),
    )
    async def write(
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
