"""One version per checkout: concurrent check-ins are claimed before Vault is written.

Six check-ins of one checkout, each with its own new password, race: exactly
one writes a version and answers 200 naming it; the others answer 409 at once.
A failed write gives the claim back, and whatever ends access still closes a
claimed checkout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pyotp
from httpx import Response
from sqlalchemy import func, select

from service.checkouts.expiry import expire_checkouts
from service.db.models import Account, Checkout, CredentialVersion
from service.errors import VaultUnavailable
from tests.support.apps import AppFactory, Client, frozen, runtime_of
from tests.support.factories import account_with_credential, checkout_body, ready_gestor
from tests.support.reads import events


async def granted(c: Client, admin: dict[str, str], at: Any) -> tuple[str, str, dict[str, str]]:
    """An account with v1 and an open checkout of it: (account, checkout, gestor headers)."""
    account_id = await account_with_credential(c, admin)
    _, headers, seed = await ready_gestor(c, admin, account_id, at)
    resp = await c.post(
        f"/v1/accounts/{account_id}/checkouts",
        json=checkout_body(pyotp.TOTP(seed).at(at)),
        headers=headers,
    )
    assert resp.status_code == 201, resp.text
    return account_id, resp.json()["checkout_id"], headers


def new_password(n: int) -> dict[str, Any]:
    return {"new_credential": {"username": "oficial", "password": f"Clave-Nueva-{n}-xyz"}}


async def versions(c: Client, account_id: str) -> tuple[list[int], list[int], int | None]:
    """The account's versions in Vault and in SQL, and the one SQL calls current."""
    rt = runtime_of(c)
    in_vault = sorted(await rt.vault.credential_versions(account_id))
    async with rt.sessions() as session:
        rows = await session.scalars(
            select(CredentialVersion.version)
            .where(CredentialVersion.account_id == account_id)
            .order_by(CredentialVersion.version)
        )
        account = await session.get(Account, account_id)
    assert account is not None
    return in_vault, list(rows), account.credential_version


def during_vault_write(c: Client, action: Callable[[], Awaitable[None]]) -> None:
    """Run ``action`` once, while the first credential write is in Vault."""
    vault = runtime_of(c).vault
    replace, merge = vault.write_credential, vault.patch_credential
    pending = [action]

    async def write_credential(account_id: str, data: dict[str, Any], cas: int) -> Any:
        if pending:
            await pending.pop()()
        return await replace(account_id, data, cas)

    async def patch_credential(account_id: str, changes: dict[str, Any], cas: int) -> Any:
        if pending:
            await pending.pop()()
        return await merge(account_id, changes, cas)

    # A check-in's new credential merges (PATCH); a PUT replaces: either is the write.
    vault.write_credential = write_credential  # type: ignore[method-assign]
    vault.patch_credential = patch_credential  # type: ignore[method-assign]


async def test_six_concurrent_checkins_write_one_version(make_client: AppFactory) -> None:
    c, clock, admin = await frozen(make_client)
    account_id, checkout_id, headers = await granted(c, admin, clock.now())
    path = f"/v1/checkouts/{checkout_id}/checkin"
    answers: list[Response] = await asyncio.gather(
        *(c.post(path, json=new_password(n), headers=headers) for n in range(6))
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [409] * 5, [a.text for a in answers]
    winner = next(a.json() for a in answers if a.status_code == 200)
    assert winner["new_version"] == 2 and winner["close_reason"] == "checked_in"
    # Exactly one new version, in Vault and in SQL, and it is the current one.
    assert await versions(c, account_id) == ([1, 2], [1, 2], 2)
    assert len(await events(c, account_id=account_id, action="credential.written")) == 2
    assert len(await events(c, account_id=account_id, action="checkout.checked_in")) == 1
    assert len(await events(c, account_id=account_id, action="credential.write_started")) == 2


async def test_a_claimed_checkout_refuses_a_second_checkin_at_once(
    make_client: AppFactory,
) -> None:
    c, clock, admin = await frozen(make_client)
    account_id, checkout_id, headers = await granted(c, admin, clock.now())
    path = f"/v1/checkouts/{checkout_id}/checkin"
    seen: list[Response] = []

    async def second_checkin() -> None:
        # Both kinds of check-in: with a new password, and without one.
        seen.append(await c.post(path, json=new_password(2), headers=headers))
        seen.append(await c.post(path, json={}, headers=headers))

    during_vault_write(c, second_checkin)
    first = await c.post(path, json=new_password(1), headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["new_version"] == 2
    assert [r.status_code for r in seen] == [409, 409], [r.text for r in seen]
    assert all("in progress" in r.json()["detail"] for r in seen)
    assert await versions(c, account_id) == ([1, 2], [1, 2], 2)


async def test_a_failed_write_gives_the_claim_back(make_client: AppFactory) -> None:
    c, clock, admin = await frozen(make_client)
    account_id, checkout_id, headers = await granted(c, admin, clock.now())
    path = f"/v1/checkouts/{checkout_id}/checkin"

    async def vault_down() -> None:
        raise VaultUnavailable("Vault is unreachable (test)")

    during_vault_write(c, vault_down)
    failed = await c.post(path, json=new_password(1), headers=headers)
    assert failed.status_code == 503, failed.text
    async with runtime_of(c).sessions() as session:
        row = await session.get(Checkout, checkout_id)
    assert row is not None and row.closed_at is None and row.checkin_claimed_at is None
    retried = await c.post(path, json=new_password(1), headers=headers)
    assert retried.status_code == 200, retried.text
    assert retried.json()["new_version"] == 2
    assert await versions(c, account_id) == ([1, 2], [1, 2], 2)


async def test_expiry_still_closes_a_claimed_checkout(make_client: AppFactory) -> None:
    c, clock, admin = await frozen(make_client)
    account_id, checkout_id, headers = await granted(c, admin, clock.now())
    rt = runtime_of(c)

    async def expire() -> None:
        clock.advance(timedelta(minutes=31))
        assert checkout_id in await expire_checkouts(rt)  # with any other test's

    during_vault_write(c, expire)
    resp = await c.post(
        f"/v1/checkouts/{checkout_id}/checkin", json=new_password(1), headers=headers
    )
    # The version written stays recorded; the answer says the checkout had expired.
    assert resp.status_code == 200, resp.text
    assert resp.json()["close_reason"] == "expired" and resp.json()["new_version"] == 2
    async with rt.sessions() as session:
        still_open = await session.scalar(
            select(func.count())
            .select_from(Checkout)
            .where(Checkout.account_id == account_id, Checkout.closed_at.is_(None))
        )
    assert still_open == 0


async def test_departure_still_closes_a_claimed_checkout(make_client: AppFactory) -> None:
    c, clock, admin = await frozen(make_client)
    account_id, checkout_id, headers = await granted(c, admin, clock.now())
    async with runtime_of(c).sessions() as session:
        row = await session.get(Checkout, checkout_id)
    assert row is not None
    gestor_id = row.gestor_id

    async def depart() -> None:
        resp = await c.post(
            f"/v1/gestores/{gestor_id}/departure", json={"reason": "baja"}, headers=admin
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["checkouts_closed"] == [checkout_id]

    during_vault_write(c, depart)
    resp = await c.post(
        f"/v1/checkouts/{checkout_id}/checkin", json=new_password(1), headers=headers
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["close_reason"] == "gestor_departure"
    forced = await events(c, account_id=account_id, action="checkout.force_closed")
    assert [e.subject for e in forced] == [f"checkout:{checkout_id}"]
