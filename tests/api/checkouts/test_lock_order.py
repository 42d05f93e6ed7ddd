"""The row-lock order that replaced "the chain's lock first": ending access never deadlocks.

A grant locks the account FOR SHARE, then the gestor FOR NO KEY UPDATE, then
re-reads access; a departure or an unassignment locks the gestor row first; a
check-in locks its checkout row; every one of them takes the chain's lock only
at commit, after all its row locks. Many rounds race them at different offsets:
never a 500 or a 503 (a deadlock PostgreSQL broke), either the checkout was
force-closed or the grant was refused, and the chain still verifies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

import pyotp
import pytest
from sqlalchemy import select

from service.db.models import Checkout
from tests.support.apps import AppFactory, Client, bearer, frozen, runtime_of
from tests.support.factories import (
    account_with_credential,
    check_out,
    checkout_body,
    code_at,
    ready_gestor,
)

pytestmark = pytest.mark.postgresql_only  # SQLite has one writer: nothing can cross there

T = TypeVar("T")
# Seconds the second request starts after the first (negative: the first starts later).
OFFSETS = (-0.03, -0.01, 0.0, 0.01, 0.03, 0.06, 0.1)
# What ends access -> (method, path template, body, the checkouts' close_reason).
ENDINGS = {
    "departure": ("POST", "/v1/gestores/{g}/departure", {"reason": "baja"}, "gestor_departure"),
    "unassignment": ("DELETE", "/v1/accounts/{a}/gestores/{g}", None, "gestor_unassigned"),
}


async def race(first: Awaitable[T], second: Awaitable[T], offset: float) -> tuple[T, T]:
    """Both at once, the one ``offset`` names starting that much later."""

    async def after(delay: float, call: Awaitable[T]) -> T:
        await asyncio.sleep(delay)
        return await call

    one, two = await asyncio.gather(after(-offset, first), after(offset, second))
    return one, two


async def checkout_of(c: Client, gestor_id: str) -> Checkout | None:
    """The gestor's one checkout of the round, if the grant made one."""
    async with runtime_of(c).sessions() as session:
        found = await session.scalars(select(Checkout).where(Checkout.gestor_id == gestor_id))
        rows = list(found)
    assert len(rows) <= 1
    return rows[0] if rows else None


async def assert_chain_verifies(c: Client) -> None:
    resp = await c.get("/v1/audit/verify", headers=await bearer(c, "auditor", "lock-order"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["valid"] is True, resp.json()


@pytest.mark.parametrize("ending", sorted(ENDINGS))
async def test_a_grant_racing_the_end_of_access_is_closed_or_refused(
    make_client: AppFactory, ending: str
) -> None:
    c, clock, admin = await frozen(make_client)
    method, template, body, close_reason = ENDINGS[ending]
    for offset in OFFSETS:
        account_id = await account_with_credential(c, admin)
        gestor_id, headers, seed = await ready_gestor(c, admin, account_id, clock.now())
        code = pyotp.TOTP(seed).at(clock.now())
        path = f"/v1/accounts/{account_id}/checkouts"
        granted, ended = await race(
            c.post(path, json=checkout_body(code), headers=headers),
            c.request(method, template.format(a=account_id, g=gestor_id), json=body, headers=admin),
            offset,
        )
        assert ended.status_code in (200, 204), ended.text
        # 401: the departure revoked the token first; 403: the grant saw access ended;
        # 409: the checkout was force-closed while Vault answered, nothing released.
        assert granted.status_code in (201, 401, 403, 409), (offset, granted.text)
        row = await checkout_of(c, gestor_id)
        if granted.status_code in (201, 409):
            assert row is not None and row.close_reason == close_reason, (offset, granted.text)
            if granted.status_code == 409:
                assert "before its release" in granted.json()["detail"]
            if ending == "departure":
                assert ended.json()["checkouts_closed"] == [row.id]
        else:
            assert row is None, (offset, granted.text)
    await assert_chain_verifies(c)


async def test_a_checkin_racing_a_departure_is_checked_in_or_force_closed(
    make_client: AppFactory,
) -> None:
    c, clock, admin = await frozen(make_client)
    for offset in OFFSETS:
        account_id = await account_with_credential(c, admin)
        gestor_id, headers, seed = await ready_gestor(c, admin, account_id, clock.now())
        checkout_id = await check_out(c, account_id, headers, code_at(seed, clock.now()))
        checked, departed = await race(
            c.post(f"/v1/checkouts/{checkout_id}/checkin", json={}, headers=headers),
            c.post(f"/v1/gestores/{gestor_id}/departure", json={"reason": "baja"}, headers=admin),
            offset,
        )
        assert departed.status_code == 200, departed.text
        closed = departed.json()["checkouts_closed"]
        row = await checkout_of(c, gestor_id)
        assert row is not None and row.closed_at is not None
        if checked.status_code == 200:
            assert closed == [] and row.close_reason == "checked_in", (offset, closed)
        else:
            # 401: the departure revoked the token first; 409: it closed the checkout first.
            assert checked.status_code in (401, 409), (offset, checked.text)
            assert closed == [checkout_id] and row.close_reason == "gestor_departure"
    await assert_chain_verifies(c)
