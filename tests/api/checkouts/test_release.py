"""Release after the grant commits: the read is pinned to the granted version and
withheld when the checkout was closed meanwhile; custody checks come after TOTP."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pyotp
from sqlalchemy import select

from service.db.models import Checkout
from service.vault.types import SecretVersion
from tests.support.apps import AppFactory, Client, frozen, runtime_of
from tests.support.factories import (
    accept_responsiva,
    account_with_credential,
    assign,
    checkout_body,
    create_account,
    create_gestor,
    enrol,
    gestor_token,
    put_credential,
    ready_gestor,
)
from tests.support.reads import events, head_seq

Injected = Callable[[str], Awaitable[None]]


async def checkout_with(
    c: Client, account_id: str, headers: dict[str, str], code: str, inject: Injected
) -> Any:
    """POST a checkout with ``inject`` run after the grant commits, before the Vault read."""
    rt = runtime_of(c)
    original = rt.vault.checkout_read

    async def racing(
        account_id: str, metadata: dict[str, str], version: int | None = None
    ) -> tuple[dict[str, Any], SecretVersion] | None:
        await inject(account_id)
        return await original(account_id, metadata, version)

    rt.vault.checkout_read = racing  # type: ignore[method-assign]
    try:
        return await c.post(
            f"/v1/accounts/{account_id}/checkouts", json=checkout_body(code), headers=headers
        )
    finally:
        rt.vault.checkout_read = original  # type: ignore[method-assign]


async def checkouts_of(c: Client, account_id: str) -> list[Checkout]:
    async with runtime_of(c).sessions() as session:
        query = select(Checkout).where(Checkout.account_id == account_id)
        return list(await session.scalars(query))


async def test_unassigned_and_rotated_before_the_read_releases_nothing(
    make_client: AppFactory,
) -> None:
    c, clock, admin = await frozen(make_client)
    account_id = await account_with_credential(c, admin)
    gestor_id, headers, seed = await ready_gestor(c, admin, account_id, clock.now())

    async def unassign_and_rotate(account: str) -> None:
        gone = await c.delete(f"/v1/accounts/{account}/gestores/{gestor_id}", headers=admin)
        assert gone.status_code in (200, 204), gone.text
        assert (await put_credential(c, admin, account, "Rotada-Tras-Baja-9"))["version"] == 2

    before = await head_seq(c)
    code = pyotp.TOTP(seed).at(clock.now())
    resp = await checkout_with(c, account_id, headers, code, unassign_and_rotate)
    assert resp.status_code == 409, resp.text
    assert "Rotada-Tras-Baja-9" not in resp.text and "Clave-Inicial-1" not in resp.text
    assert "credential" not in resp.json()
    [row] = await checkouts_of(c, account_id)
    assert row.closed_at is not None and row.close_reason == "gestor_unassigned"
    assert row.credential_version == 1
    [granted] = await events(c, after=before, action="checkout.granted")
    assert json.loads(granted.details)["credential_version"] == 1
    [failed] = await events(c, after=before, action="checkout.failed")
    assert failed.reason == "closed_meanwhile" and failed.subject == f"checkout:{row.id}"
    assert json.loads(failed.details) == {
        "credential_version": 1,
        "closed_by": "gestor_unassigned",
    }
    assert failed.seq > granted.seq


async def test_a_rotation_alone_before_the_read_releases_the_granted_version(
    make_client: AppFactory,
) -> None:
    c, clock, admin = await frozen(make_client)
    account_id = await account_with_credential(c, admin)
    _, headers, seed = await ready_gestor(c, admin, account_id, clock.now())

    async def rotate(account: str) -> None:
        assert (await put_credential(c, admin, account, "Clave-Nueva-2"))["version"] == 2

    before = await head_seq(c)
    code = pyotp.TOTP(seed).at(clock.now())
    resp = await checkout_with(c, account_id, headers, code, rotate)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["credential_version"] == 1
    assert body["credential"]["password"] == "Clave-Inicial-1"
    assert "Clave-Nueva-2" not in resp.text
    [granted] = await events(c, after=before, action="checkout.granted")
    assert json.loads(granted.details)["credential_version"] == body["credential_version"]
    assert not await events(c, after=before, action="checkout.failed")


async def test_a_destroyed_granted_version_releases_nothing(make_client: AppFactory) -> None:
    c, clock, admin = await frozen(make_client)
    account_id = await account_with_credential(c, admin)
    _, headers, seed = await ready_gestor(c, admin, account_id, clock.now())
    rt = runtime_of(c)

    async def rotate_and_destroy_v1(account: str) -> None:
        await put_credential(c, admin, account, "Clave-Nueva-2")
        rt.vault._client.secrets.kv.v2.destroy_secret_versions(
            path=f"accounts/{account}", versions=[1], mount_point=rt.vault._kv
        )

    before = await head_seq(c)
    code = pyotp.TOTP(seed).at(clock.now())
    resp = await checkout_with(c, account_id, headers, code, rotate_and_destroy_v1)
    assert resp.status_code == 409, resp.text
    assert "Clave" not in resp.text
    [row] = await checkouts_of(c, account_id)
    assert row.closed_at is not None and row.close_reason == "version_unavailable"
    [failed] = await events(c, after=before, action="checkout.failed")
    assert failed.reason == "version_unavailable"


async def test_an_unassigned_gestor_does_not_learn_the_custody_state(
    make_client: AppFactory,
) -> None:
    """Assignment (403) comes before 'no credential' and 'not in custody' (409)."""
    c, clock, admin = await frozen(make_client)
    empty = await create_account(c, admin)  # never given a credential
    elsewhere = await account_with_credential(c, admin)
    # Ready in every other way (responsiva, TOTP), but assigned to another account.
    _, headers, seed = await ready_gestor(c, admin, elsewhere, clock.now())
    before = await head_seq(c)
    resp = await c.post(
        f"/v1/accounts/{empty}/checkouts",
        json=checkout_body(pyotp.TOTP(seed).at(clock.now())),
        headers=headers,
    )
    assert resp.status_code == 403, resp.text
    assert [e.reason for e in await events(c, after=before, action="checkout.refused")] == [
        "not_assigned"
    ]
    # A bare gestor (no responsiva, no TOTP) too.
    bare = await gestor_token(c, admin, await create_gestor(c, admin))
    resp = await c.post(f"/v1/accounts/{empty}/checkouts", json=checkout_body("1"), headers=bare)
    assert resp.status_code == 403, resp.text


async def test_custody_is_checked_after_the_totp_code(make_client: AppFactory) -> None:
    """Assigned and ready, on an account with no credential: a wrong code is 401 first."""
    c, clock, admin = await frozen(make_client)
    empty = await create_account(c, admin)
    gestor_id = await create_gestor(c, admin)
    headers = await gestor_token(c, admin, gestor_id)
    await assign(c, admin, empty, gestor_id)
    path = f"/v1/accounts/{empty}/checkouts"
    before = await head_seq(c)
    resp = await c.post(path, json=checkout_body("1"), headers=headers)
    assert resp.status_code == 403  # responsiva first
    await accept_responsiva(c, headers)
    resp = await c.post(path, json=checkout_body("1"), headers=headers)
    assert resp.status_code == 403  # TOTP enrolment next
    seed = await enrol(c, headers, clock.now())
    good = pyotp.TOTP(seed).at(clock.now())
    wrong = "000000" if good != "000000" else "111111"
    resp = await c.post(path, json=checkout_body(wrong), headers=headers)
    assert resp.status_code == 401, resp.text
    resp = await c.post(path, json=checkout_body(good), headers=headers)
    assert resp.status_code == 409, resp.text
    reasons = [e.reason for e in await events(c, after=before, action="checkout.refused")]
    assert reasons == [
        "responsiva_not_accepted",
        "totp_not_enrolled",
        "invalid_totp",
        "no_credential",
    ]
    assert not await events(c, after=before, action="checkout.granted")
