"""The gestor's TOTP seeds: one per enrolment, and what a reset ends.

- A reset closes the gestor's open checkouts, and the new seed's first code is
  good even in a step the old seed used.
- Each enrolment has its own seed path, and SQL names the one in force: a
  confirmation checks the seed SQL names, and the grant reads that same seed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pyotp
from httpx import Response
from sqlalchemy import select

from service.db.models import Checkout, Gestor
from tests.support.apps import AppFactory, Client, frozen, runtime_of
from tests.support.factories import (
    accept_responsiva,
    account_with_credential,
    checkout_body,
    create_gestor,
    gestor_token,
    ready_gestor,
    seed_of,
)
from tests.support.reads import events, head_seq

Headers = dict[str, str]


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


async def enrolment(c: Client, headers: Headers) -> str:
    resp = await c.post("/v1/me/totp/enrollment", headers=headers)
    assert resp.status_code == 201, resp.text
    return seed_of(resp.json()["otpauth_uri"])


async def confirm(c: Client, headers: Headers, code: str) -> Response:
    return await c.post("/v1/me/totp/confirm", json={"code": code}, headers=headers)


# -- reset ------------------------------------------------------------------------


async def test_a_reset_closes_the_gestors_open_checkouts(make_client: AppFactory) -> None:
    c, clock, admin = await frozen(make_client)
    account_id = await account_with_credential(c, admin)
    gestor_id, headers, seed = await ready_gestor(c, admin, account_id, clock.now())
    granted = await checkout(c, account_id, headers, pyotp.TOTP(seed).at(clock.now()))
    assert granted.status_code == 201, granted.text
    checkout_id = granted.json()["checkout_id"]
    start = await head_seq(c)
    reset = await c.post(f"/v1/gestores/{gestor_id}/totp/reset", headers=admin)
    assert reset.status_code == 200, reset.text
    async with runtime_of(c).sessions() as session:
        row = await session.get(Checkout, checkout_id)
    assert row is not None and row.close_reason == "totp_reset" and row.closed_at is not None
    actions = [(e.action, e.reason) for e in await events(c, after=start)]
    assert actions == [("checkout.force_closed", "totp_reset"), ("totp.reset", None)]
    late = await c.post(f"/v1/checkouts/{checkout_id}/checkin", json={}, headers=headers)
    assert late.status_code == 409 and "totp_reset" in late.json()["detail"]


async def test_the_new_seeds_first_code_is_good_in_a_step_the_old_seed_used(
    make_client: AppFactory,
) -> None:
    c, clock, admin = await frozen(make_client)
    account_id = await account_with_credential(c, admin)
    gestor_id, headers, old_seed = await ready_gestor(c, admin, account_id, clock.now())
    # The old seed's code spends this step.
    used = await checkout(c, account_id, headers, pyotp.TOTP(old_seed).at(clock.now()))
    assert used.status_code == 201, used.text
    reset = await c.post(f"/v1/gestores/{gestor_id}/totp/reset", headers=admin)
    assert reset.status_code == 200, reset.text
    new_seed = await enrolment(c, headers)
    ok = await confirm(c, headers, pyotp.TOTP(new_seed).at(clock.now()))
    assert ok.status_code == 200, ok.text
    assert (await gestor_row(c, gestor_id)).totp_failures == 0
    # And the old seed's codes are worthless now.
    stale = await checkout(
        c, account_id, headers, pyotp.TOTP(old_seed).at(clock.now() + timedelta(seconds=30))
    )
    assert stale.status_code == 401


# -- one seed path per enrolment --------------------------------------------------


def during_seed_read(c: Client, action: Callable[[], Awaitable[None]]) -> None:
    """Run ``action`` once, right after the next seed is read from Vault."""
    vault = runtime_of(c).vault
    original = vault.get_totp_seed
    pending = [action]

    async def get_totp_seed(gestor_id: str, seed_id: str | None = None) -> str | None:
        seed = await original(gestor_id, seed_id)
        if pending:
            await pending.pop()()
        return seed

    vault.get_totp_seed = get_totp_seed  # type: ignore[method-assign]


async def assigned_gestor(c: Client, admin: Headers, account_id: str) -> tuple[str, Headers]:
    gestor_id = await create_gestor(c, admin)
    headers = await gestor_token(c, admin, gestor_id)
    resp = await c.post(
        f"/v1/accounts/{account_id}/gestores", json={"gestor_id": gestor_id}, headers=admin
    )
    assert resp.status_code == 201, resp.text
    await accept_responsiva(c, headers)
    return gestor_id, headers


async def test_an_enrolment_racing_a_confirmation_does_not_swap_its_seed(
    make_client: AppFactory,
) -> None:
    c, clock, admin = await frozen(make_client)
    account_id = await account_with_credential(c, admin)
    gestor_id, headers = await assigned_gestor(c, admin, account_id)
    first = await enrolment(c, headers)
    second: list[str] = []

    async def enrol_again() -> None:
        second.append(await enrolment(c, headers))

    # The confirmation has read the first seed; a second enrolment lands before it commits.
    during_seed_read(c, enrol_again)
    raced = await confirm(c, headers, pyotp.TOTP(first).at(clock.now()))
    assert raced.status_code == 409, raced.text
    assert (await gestor_row(c, gestor_id)).totp_state == "pending"
    # The newest enrolment is the one to confirm, and the one the grant then uses.
    code = pyotp.TOTP(second[0]).at(clock.now() - timedelta(seconds=30))
    assert (await confirm(c, headers, code)).status_code == 200
    granted = await checkout(c, account_id, headers, pyotp.TOTP(second[0]).at(clock.now()))
    assert granted.status_code == 201, granted.text
    row = await gestor_row(c, gestor_id)
    vault = runtime_of(c).vault
    assert await vault.get_totp_seed(gestor_id, row.totp_seed_id) == second[0]


async def test_two_concurrent_enrolments_the_confirmed_seed_is_the_one_used(
    make_client: AppFactory,
) -> None:
    c, clock, admin = await frozen(make_client)
    account_id = await account_with_credential(c, admin)
    gestor_id, headers = await assigned_gestor(c, admin, account_id)
    seeds = await asyncio.gather(enrolment(c, headers), enrolment(c, headers))
    assert seeds[0] != seeds[1]
    before = pyotp.TOTP  # the confirmation uses the previous step, the grant the current one
    answers = [
        await confirm(c, headers, before(s).at(clock.now() - timedelta(seconds=30))) for s in seeds
    ]
    ok = [s for s, a in zip(seeds, answers, strict=True) if a.status_code == 200]
    assert len(ok) == 1, [a.text for a in answers]
    confirmed, other = ok[0], next(s for s in seeds if s != ok[0])
    # SQL names the confirmed seed, Vault holds it, and the other one is gone.
    row = await gestor_row(c, gestor_id)
    assert row.totp_state == "active"
    vault = runtime_of(c).vault
    assert await vault.get_totp_seed(gestor_id, row.totp_seed_id) == confirmed
    refused = await checkout(c, account_id, headers, pyotp.TOTP(other).at(clock.now()))
    assert refused.status_code == 401
    granted = await checkout(
        c, account_id, headers, pyotp.TOTP(confirmed).at(clock.now() + timedelta(seconds=30))
    )
    assert granted.status_code == 201, granted.text


async def test_reset_and_departure_destroy_the_named_seed(make_client: AppFactory) -> None:
    c, clock, admin = await frozen(make_client)
    account_id = await account_with_credential(c, admin)
    gestor_id, headers, _ = await ready_gestor(c, admin, account_id, clock.now())
    vault = runtime_of(c).vault
    first = (await gestor_row(c, gestor_id)).totp_seed_id
    assert first is not None and await vault.get_totp_seed(gestor_id, first) is not None
    reset = await c.post(f"/v1/gestores/{gestor_id}/totp/reset", headers=admin)
    assert reset.status_code == 200, reset.text
    assert await vault.get_totp_seed(gestor_id, first) is None
    await enrolment(c, headers)
    second = (await gestor_row(c, gestor_id)).totp_seed_id
    assert second not in (None, first)
    assert await vault.get_totp_seed(gestor_id, second) is not None
    left = await c.post(
        f"/v1/gestores/{gestor_id}/departure", json={"reason": "baja"}, headers=admin
    )
    assert left.status_code == 200 and left.json()["seed_destroyed"] is True, left.text
    assert await vault.get_totp_seed(gestor_id, second) is None
    async with runtime_of(c).sessions() as session:
        kept = await session.scalar(select(Gestor.totp_seed_id).where(Gestor.id == gestor_id))
    assert kept == second  # SQL still names what it destroyed, for the case file's retries
