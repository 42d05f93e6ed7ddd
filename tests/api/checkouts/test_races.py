"""A checkout racing whatever ends access, and TOTP guesses racing the lockout.

The window of interest is between the grant's first read (assignment, lockout)
and its write transaction, while the gestor's TOTP seed is read from Vault. The
tests put the competing change exactly there by wrapping the runtime's Vault
facade; everything else (OpenBao, the database, the HTTP app) is real.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial

import pyotp
import pytest
from sqlalchemy import func, select, text, update

from service.audit.log import AUDIT_LOCK_KEY
from service.db.models import Checkout, Gestor
from service.domain.events import AccessEnded, CheckoutsClosed
from service.principal import SYSTEM
from tests.support.apps import AppFactory, Client, frozen, runtime_of
from tests.support.factories import (
    account_with_credential,
    check_out,
    checkout_body,
    code_at,
    create_gestor,
    gestor_token,
    ready_gestor,
    seed_of,
)
from tests.support.locks import lock_waiters
from tests.support.reads import events, head_seq

Headers = dict[str, str]


def during_seed_read(c: Client, action: Callable[[], Awaitable[None]]) -> None:
    """Run ``action`` once, after the grant's first checks, as its seed read returns."""
    vault = runtime_of(c).vault
    original = vault.get_totp_seed
    pending = [action]

    async def get_totp_seed(gestor_id: str, seed_id: str | None = None) -> str | None:
        seed = await original(gestor_id, seed_id)
        if pending:
            await pending.pop()()
        return seed

    vault.get_totp_seed = get_totp_seed  # type: ignore[method-assign]


async def open_checkouts(c: Client, gestor_id: str) -> int:
    async with runtime_of(c).sessions() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(Checkout)
            .where(Checkout.gestor_id == gestor_id, Checkout.closed_at.is_(None))
        )
    return int(found or 0)


async def lock_out(c: Client, gestor_id: str, until: datetime) -> None:
    """As if five wrong codes had just been committed by other requests."""
    async with runtime_of(c).unit_of_work(SYSTEM) as uow:
        await uow.session.execute(
            update(Gestor).where(Gestor.id == gestor_id).values(totp_failures=5, locked_until=until)
        )


# What ends access -> (method, path template, body), and the grant's answer.
ENDINGS: dict[str, tuple[str, str, dict[str, str] | None, int, str]] = {
    "departure": ("POST", "/v1/gestores/{g}/departure", {"reason": "baja"}, 403, "not_assigned"),
    "unassignment": ("DELETE", "/v1/accounts/{a}/gestores/{g}", None, 403, "not_assigned"),
    "retirement": ("POST", "/v1/accounts/{a}/retire", None, 409, "account_retired"),
}


@pytest.mark.parametrize("ending", sorted(ENDINGS))
async def test_access_ended_mid_checkout_releases_nothing(
    make_client: AppFactory, ending: str
) -> None:
    c, clock, admin = await frozen(make_client)
    account_id = await account_with_credential(c, admin)
    gestor_id, headers, seed = await ready_gestor(c, admin, account_id, clock.now())
    method, template, body, status, reason = ENDINGS[ending]
    path = template.format(a=account_id, g=gestor_id)

    async def end_access() -> None:
        resp = await c.request(method, path, json=body, headers=admin)
        assert resp.status_code in (200, 204), resp.text

    during_seed_read(c, end_access)
    start = await head_seq(c)
    code = pyotp.TOTP(seed).at(clock.now())
    resp = await c.post(
        f"/v1/accounts/{account_id}/checkouts", json=checkout_body(code), headers=headers
    )
    assert resp.status_code == status, resp.text
    assert "Clave-Inicial-1" not in resp.text
    assert await open_checkouts(c, gestor_id) == 0
    assert not await events(c, after=start, action="checkout.granted")
    refused = await events(c, after=start, action="checkout.refused")
    assert [e.reason for e in refused] == [reason]


async def test_departure_queued_behind_a_grant_closes_it_or_refuses_it(
    make_client: AppFactory,
) -> None:
    """The departure holds the gestor row until its commit, which waits on the chain's lock;
    the grant locks that row before it re-reads access: whichever goes first, no checkout survives.
    """
    c, clock, admin = await frozen(make_client)
    rt = runtime_of(c)
    account_id = await account_with_credential(c, admin)
    gestor_id, headers, seed = await ready_gestor(c, admin, account_id, clock.now())
    code = pyotp.TOTP(seed).at(clock.now())

    async with rt.engine.connect() as blocker:
        transaction = await blocker.begin()  # SQLite: BEGIN IMMEDIATE, the write lock
        if rt.engine.dialect.name == "postgresql":
            await blocker.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK_KEY})
        departure = asyncio.create_task(
            c.post(f"/v1/gestores/{gestor_id}/departure", json={"reason": "baja"}, headers=admin)
        )
        await lock_waiters(rt.engine, 1)
        checkout = asyncio.create_task(
            c.post(
                f"/v1/accounts/{account_id}/checkouts",
                json=checkout_body(code),
                headers=headers,
            )
        )
        await lock_waiters(rt.engine, 2)
        await transaction.rollback()
    departed, granted = await departure, await checkout
    assert departed.status_code == 200, departed.text
    assert granted.status_code in (201, 401, 403), granted.text  # 401: token revoked first
    assert await open_checkouts(c, gestor_id) == 0
    if granted.status_code == 201:
        closed = departed.json()["checkouts_closed"]
        assert closed == [granted.json()["checkout_id"]]


async def test_a_lockout_set_mid_checkout_stops_even_the_right_code(
    make_client: AppFactory,
) -> None:
    c, clock, admin = await frozen(make_client)
    account_id = await account_with_credential(c, admin)
    gestor_id, headers, seed = await ready_gestor(c, admin, account_id, clock.now())
    until = clock.now() + timedelta(minutes=15)

    during_seed_read(c, partial(lock_out, c, gestor_id, until))
    start = await head_seq(c)
    resp = await c.post(
        f"/v1/accounts/{account_id}/checkouts",
        json=checkout_body(pyotp.TOTP(seed).at(clock.now())),
        headers=headers,
    )
    assert resp.status_code == 423, resp.text
    assert "retry-after" in resp.headers
    assert len(await events(c, after=start, action="checkout.refused", reason="locked")) == 1
    async with runtime_of(c).sessions() as session:
        row = await session.get(Gestor, gestor_id)
    assert row is not None and row.totp_failures == 5 and row.locked_until is not None


async def test_concurrent_wrong_codes_stop_at_the_lockout(make_client: AppFactory) -> None:
    c, clock, admin = await frozen(make_client)
    account_id = await account_with_credential(c, admin)
    _, headers, _ = await ready_gestor(c, admin, account_id, clock.now())
    start = await head_seq(c)
    path = f"/v1/accounts/{account_id}/checkouts"
    answers = await asyncio.gather(
        *(c.post(path, json=checkout_body(f"{n:06d}"), headers=headers) for n in range(8))
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [401] * 5 + [423] * 3, statuses
    assert len(await events(c, after=start, action="totp.failed")) == 5
    assert len(await events(c, after=start, action="totp.locked")) == 1


async def test_confirmation_respects_a_lockout_set_meanwhile(make_client: AppFactory) -> None:
    c, clock, admin = await frozen(make_client)
    gestor_id = await create_gestor(c, admin)
    headers = await gestor_token(c, admin, gestor_id)
    enrolled = await c.post("/v1/me/totp/enrollment", headers=headers)
    assert enrolled.status_code == 201, enrolled.text
    seed = seed_of(enrolled.json()["otpauth_uri"])
    until = clock.now() + timedelta(minutes=15)

    during_seed_read(c, partial(lock_out, c, gestor_id, until))
    resp = await c.post(
        "/v1/me/totp/confirm", json={"code": pyotp.TOTP(seed).at(clock.now())}, headers=headers
    )
    assert resp.status_code == 423, resp.text
    async with runtime_of(c).sessions() as session:
        row = await session.get(Gestor, gestor_id)
    assert row is not None and row.totp_state == "pending" and row.totp_failures == 5


async def test_checkin_queued_behind_a_force_close_does_not_deadlock(
    make_client: AppFactory,
) -> None:
    """A check-in waits for its checkout's row holding nothing, not even the chain's lock.

    Whatever ends access (here, as a departure does) locks the rows first and takes
    the chain's lock only at commit. Had the check-in taken the chain's lock first,
    as every write once did, the two would wait on each other and PostgreSQL would
    abort one of them.
    """
    c, clock, admin = await frozen(make_client)
    rt = runtime_of(c)
    account_id = await account_with_credential(c, admin)
    _, headers, seed = await ready_gestor(c, admin, account_id, clock.now())
    checkout_id = await check_out(c, account_id, headers, code_at(seed, clock.now()))

    async with rt.unit_of_work(SYSTEM) as uow:
        await uow.session.connection()  # SQLite: BEGIN IMMEDIATE now, not at the first statement
        if rt.engine.dialect.name == "postgresql":
            # Fail fast instead of after deadlock_timeout, were a lock taken crosswise.
            await uow.session.execute(text("SET LOCAL lock_timeout = '3s'"))
        ended = AccessEnded(close_reason="gestor_departed", account_ids=(account_id,))
        closed = await uow.publish(ended)
        assert closed == [CheckoutsClosed((checkout_id,))]
        checkin = asyncio.create_task(
            c.post(f"/v1/checkouts/{checkout_id}/checkin", json={}, headers=headers)
        )
        await lock_waiters(rt.engine, 1)
    resp = await checkin
    assert resp.status_code == 409, resp.text
    assert "already closed (gestor_departed)" in resp.json()["detail"]
