"""HTTP: writing a credential version and listing versions (never secrets)."""

from __future__ import annotations

from litestar import Controller, get, put
from litestar.params import FromPath, JSONBody

from service.auth import CallerDep, Rt, allow
from service.credentials import usecases
from service.credentials.schemas import CredentialIn, VersionOut, WrittenVersion
from service.problems import errors


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
