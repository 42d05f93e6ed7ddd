"""A leaver never chooses the password meant to lock them out (Décima quinta).

The removal (unassignment or departure) is injected while the gestor's own
check-in or PUT is writing to Vault: the version is recorded, but it satisfies
no obligation, and the events say why. An admin's later rotation satisfies it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import pyotp
import pytest
from httpx import Response
from sqlalchemy import select

from service.db.models import Checkout, CredentialVersion, RotationObligation
from tests.support.apps import AppFactory, Client, frozen, runtime_of
from tests.support.factories import (
    account_with_credential,
    assign,
    check_out,
    checkout_body,
    code_at,
    depart,
    ready_gestor,
)
from tests.support.reads import events, head_seq

Removal = Literal["unassigned", "departed"]
REASON = {"unassigned": "gestor_unassigned", "departed": "gestor_departure"}


async def remove(
    c: Client, admin: dict[str, str], account_id: str, gestor_id: str, how: Removal
) -> None:
    if how == "unassigned":
        resp = await c.delete(f"/v1/accounts/{account_id}/gestores/{gestor_id}", headers=admin)
        assert resp.status_code == 204, resp.text
    else:
        await depart(c, admin, gestor_id)


async def during_vault_write(
    c: Client, removal: Callable[[], Awaitable[None]], request: Callable[[], Awaitable[Response]]
) -> Response:
    """Run ``request`` with ``removal`` injected just before its Vault write lands."""
    vault = runtime_of(c).vault
    original, original_patch = vault.write_credential, vault.patch_credential

    async def racing(account_id: str, secret: dict[str, Any], cas: int) -> Any:
        await removal()
        return await original(account_id, secret, cas=cas)

    # A check-in merges into the current version (Vault's patch) instead of replacing it.
    async def racing_patch(account_id: str, changes: dict[str, Any], cas: int) -> Any:
        await removal()
        return await original_patch(account_id, changes, cas=cas)

    vault.write_credential = racing  # type: ignore[method-assign,assignment]
    vault.patch_credential = racing_patch  # type: ignore[method-assign]
    try:
        return await request()
    finally:
        vault.write_credential = original  # type: ignore[method-assign]
        vault.patch_credential = original_patch  # type: ignore[method-assign]


async def raced(
    c: Client, admin: dict[str, str], account_id: str, how: Removal, *, via: str
) -> tuple[str, str, Response, int]:
    """A gestor checks out, then writes a new password while being removed."""
    clock_now = runtime_of(c).clock.now()
    gestor_id, headers, seed = await ready_gestor(c, admin, account_id, clock_now)
    checkout_id = await check_out(c, account_id, headers, code_at(seed, clock_now))
    chosen = {"username": "oficial", "password": "Elegida-Por-Quien-Se-Va-9"}
    before = await head_seq(c)

    async def request() -> Response:
        if via == "checkin":
            return await c.post(
                f"/v1/checkouts/{checkout_id}/checkin",
                json={"new_credential": chosen},
                headers=headers,
            )
        return await c.put(f"/v1/accounts/{account_id}/credential", json=chosen, headers=headers)

    async def removal() -> None:
        await remove(c, admin, account_id, gestor_id, how)

    return gestor_id, checkout_id, await during_vault_write(c, removal, request), before


async def obligations(c: Client, account_id: str) -> list[RotationObligation]:
    async with runtime_of(c).sessions() as session:
        query = select(RotationObligation).where(RotationObligation.account_id == account_id)
        return list(await session.scalars(query))


async def assert_version_kept_but_no_rotation(
    c: Client, account_id: str, checkout_id: str, how: Removal, before: int
) -> None:
    [obligation] = await obligations(c, account_id)
    assert obligation.reason == REASON[how]
    assert obligation.satisfied_at is None and obligation.satisfied_by_version is None
    async with runtime_of(c).sessions() as session:
        row = await session.get(CredentialVersion, (account_id, 2))
        checkout = await session.get(Checkout, checkout_id)
    assert row is not None and row.checkout_id == checkout_id and row.is_rotation is False
    assert checkout is not None and checkout.close_reason == REASON[how]
    [written] = await events(c, after=before, action="credential.written")
    details = json.loads(written.details)
    assert details["version"] == 2 and details["is_rotation"] is False
    assert details["satisfies_rotation"] is False
    assert details["why"] == "access_ended_during_write"
    assert details["checkout_closed"] == REASON[how]
    assert await events(c, after=before, action="rotation.satisfied") == []
    assert await events(c, after=before, action="checkout.checked_in") == []


@pytest.mark.parametrize("how", ["unassigned", "departed"])
async def test_checkin_written_while_removed_satisfies_nothing(
    make_client: AppFactory, how: Removal
) -> None:
    c, _, admin = await frozen(make_client)
    account_id = await account_with_credential(c, admin)
    _, checkout_id, resp, before = await raced(c, admin, account_id, how, via="checkin")
    # 200 as for any check-in whose checkout was closed meanwhile: the version is
    # recorded (new_version) and close_reason says who closed the checkout.
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["new_version"] == 2
    assert body["close_reason"] == REASON[how] and body["closed_at"] is not None
    await assert_version_kept_but_no_rotation(c, account_id, checkout_id, how, before)


@pytest.mark.parametrize("how", ["unassigned", "departed"])
async def test_gestor_put_written_while_removed_satisfies_nothing(
    make_client: AppFactory, how: Removal
) -> None:
    c, _, admin = await frozen(make_client)
    account_id = await account_with_credential(c, admin)
    _, checkout_id, resp, before = await raced(c, admin, account_id, how, via="put")
    assert resp.status_code == 200, resp.text
    assert resp.json()["version"] == 2
    await assert_version_kept_but_no_rotation(c, account_id, checkout_id, how, before)


@pytest.mark.parametrize("how", ["unassigned", "departed"])
async def test_an_admin_rotation_afterwards_satisfies_it(
    make_client: AppFactory, how: Removal
) -> None:
    c, _, admin = await frozen(make_client)
    account_id = await account_with_credential(c, admin)
    await raced(c, admin, account_id, how, via="checkin")
    before = await head_seq(c)
    resp = await c.put(
        f"/v1/accounts/{account_id}/credential",
        json={"username": "oficial", "password": "Rotada-Por-Seguridad-3"},
        headers=admin,
    )
    assert resp.status_code == 200, resp.text
    [obligation] = await obligations(c, account_id)
    assert obligation.satisfied_by_version == 3
    assert obligation.satisfied_by is not None and obligation.satisfied_by.startswith("token:")
    [written] = await events(c, after=before, action="credential.written")
    details = json.loads(written.details)
    assert details["is_rotation"] is True and "satisfies_rotation" not in details
    assert len(await events(c, after=before, action="rotation.satisfied")) == 1


async def test_a_reassigned_gestor_does_not_satisfy_their_own_unassignment(
    make_client: AppFactory,
) -> None:
    c, clock, admin = await frozen(make_client)
    account_id = await account_with_credential(c, admin)
    gestor_id, headers, seed = await ready_gestor(c, admin, account_id, clock.now())
    await remove(c, admin, account_id, gestor_id, "unassigned")
    await assign(c, admin, account_id, gestor_id)
    out = await c.post(
        f"/v1/accounts/{account_id}/checkouts",
        json=checkout_body(pyotp.TOTP(seed).at(clock.now())),
        headers=headers,
    )
    assert out.status_code == 201 and out.json()["rotation_required"] is True, out.text
    before = await head_seq(c)
    done = await c.post(
        f"/v1/checkouts/{out.json()['checkout_id']}/checkin",
        json={"new_credential": {"username": "oficial", "password": "Otra-Del-Mismo-7"}},
        headers=headers,
    )
    assert done.status_code == 200 and done.json()["close_reason"] == "checked_in", done.text
    [obligation] = await obligations(c, account_id)
    assert obligation.satisfied_at is None
    [written] = await events(c, after=before, action="credential.written")
    details = json.loads(written.details)
    assert details["is_rotation"] is True and details["satisfies_rotation"] is False
    assert details["why"] == "writer_named_by_obligation"
    assert await events(c, after=before, action="rotation.satisfied") == []
