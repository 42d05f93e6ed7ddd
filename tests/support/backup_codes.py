"""Backup codes in tests: a credential holding codes and a seed, checked out; reveals."""

from __future__ import annotations

from typing import Any

import httpx
import pyotp

from tests.support.apps import Client, runtime_of
from tests.support.factories import account_with_credential, checkout_body, ready_gestor

CODES = ["RESPALDO-0000", "RESPALDO-1111", "RESPALDO-2222"]
PLATFORM_SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
WHY = "entrar desde un equipo nuevo"


async def check_out_now(c: Client, account_id: str, headers: dict[str, str], seed: str) -> Any:
    resp = await c.post(
        f"/v1/accounts/{account_id}/checkouts",
        json=checkout_body(pyotp.TOTP(seed).at(runtime_of(c).clock.now())),
        headers=headers,
    )
    assert resp.status_code == 201, resp.text
    return resp.json()


async def reveal(
    c: Client, checkout_id: str, headers: dict[str, str], reason: str = WHY
) -> httpx.Response:
    return await c.post(
        f"/v1/checkouts/{checkout_id}/backup-code", json={"reason": reason}, headers=headers
    )


async def holder(c: Client, admin: dict[str, str], **credential: Any) -> tuple[str, Any, Any]:
    """An account (codes and seed by default) checked out by a ready gestor: ids and headers."""
    fields = {"backup_codes": CODES, "totp_secret": PLATFORM_SEED, **credential}
    account_id = await account_with_credential(c, admin, **fields)
    gestor_id, headers, seed = await ready_gestor(c, admin, account_id, runtime_of(c).clock.now())
    granted = await check_out_now(c, account_id, headers, seed)
    return account_id, (gestor_id, headers, seed), granted
