"""A replay of a gestor's TOTP code is refused and audited, but not counted.

Ten parallel retries of one good code used to lock the gestor out for 15
minutes: each replay counted as a failure. A replay proves the gestor holds
the seed; only wrong codes count towards the lockout.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pyotp
from httpx import Response

from service.db.models import Gestor
from tests.support.apps import AppFactory, Client, frozen, runtime_of
from tests.support.factories import Headers, account_with_credential, checkout_body, ready_gestor
from tests.support.reads import events, head_seq


async def gestor_row(c: Client, gestor_id: str) -> Gestor:
    async with runtime_of(c).sessions() as session:
        row = await session.get(Gestor, gestor_id)
    assert row is not None
    return row


async def checkout(c: Client, account_id: str, headers: Headers, code: str) -> Response:
    return await c.post(
        f"/v1/accounts/{account_id}/checkouts", json=checkout_body(code), headers=headers
    )


async def checkin(c: Client, checkout_id: str, headers: Headers) -> None:
    resp = await c.post(f"/v1/checkouts/{checkout_id}/checkin", json={}, headers=headers)
    assert resp.status_code == 200, resp.text


async def test_ten_parallel_retries_of_one_good_code_lock_nobody_out(
    make_client: AppFactory,
) -> None:
    c, clock, admin = await frozen(make_client)
    account_id = await account_with_credential(c, admin)
    gestor_id, headers, seed = await ready_gestor(c, admin, account_id, clock.now())
    code = pyotp.TOTP(seed).at(clock.now())
    start = await head_seq(c)
    answers = await asyncio.gather(*(checkout(c, account_id, headers, code) for _ in range(10)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [401] * 9, [a.text for a in answers]
    # Each replay is refused and audited, and none of them counts.
    assert len(await events(c, after=start, action="totp.replayed")) == 9
    assert len(await events(c, after=start, reason="totp_replayed")) == 9
    assert await events(c, after=start, action="totp.locked") == []
    assert await events(c, after=start, action="totp.failed") == []
    row = await gestor_row(c, gestor_id)
    assert row.totp_failures == 0 and row.locked_until is None
    granted = next(a for a in answers if a.status_code == 201).json()["checkout_id"]
    await checkin(c, granted, headers)
    fresh = pyotp.TOTP(seed).at(clock.now() + timedelta(seconds=30))
    assert (await checkout(c, account_id, headers, fresh)).status_code == 201


async def test_replays_after_wrong_codes_do_not_complete_a_lockout(
    make_client: AppFactory,
) -> None:
    c, clock, admin = await frozen(make_client)
    account_id = await account_with_credential(c, admin)
    gestor_id, headers, seed = await ready_gestor(c, admin, account_id, clock.now())
    code = pyotp.TOTP(seed).at(clock.now())
    first = await checkout(c, account_id, headers, code)
    assert first.status_code == 201, first.text
    await checkin(c, first.json()["checkout_id"], headers)
    wrong = [await checkout(c, account_id, headers, "000000") for _ in range(4)]
    assert [r.status_code for r in wrong] == [401] * 4
    start = await head_seq(c)
    replays = [await checkout(c, account_id, headers, code) for _ in range(3)]
    assert [r.status_code for r in replays] == [401] * 3
    replayed = await events(c, after=start, action="totp.replayed")
    assert [e.reason for e in replayed] == ["code_already_used"] * 3
    assert all('"failures":4' in e.details.replace(" ", "") for e in replayed)
    assert (await gestor_row(c, gestor_id)).totp_failures == 4
    # The fifth wrong code is what locks.
    assert (await checkout(c, account_id, headers, "000000")).status_code == 401
    assert len(await events(c, after=start, action="totp.locked")) == 1
