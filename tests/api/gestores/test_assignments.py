"""The assignments table's rules, and the lock order of an unassignment."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text

from service.db.models import Assignment
from service.gestores.assignments import AssignmentEnded, AssignmentRepository, end
from service.principal import SYSTEM
from tests.support.apps import AppFactory, Client, bearer, frozen, runtime_of
from tests.support.factories import (
    account_with_credential,
    assign,
    check_out,
    code_at,
    create_account,
    create_gestor,
    ready_gestor,
)
from tests.support.locks import lock_waiters


async def assigned(c: Client, admin: dict[str, str]) -> tuple[str, str]:
    account_id = await create_account(c, admin)
    gestor_id = await create_gestor(c, admin)
    await assign(c, admin, account_id, gestor_id)
    return account_id, gestor_id


async def test_an_ended_assignment_is_clamped_and_never_ended_again(
    make_client: AppFactory,
) -> None:
    c = await make_client()
    rt = runtime_of(c)
    admin = await bearer(c, "admin", "assignments")
    account_id, gestor_id = await assigned(c, admin)
    _, other_gestor = await assigned(c, admin)

    async with rt.unit_of_work(SYSTEM) as uow:
        repo = AssignmentRepository(uow)
        assert await repo.active_accounts(gestor_id, [account_id, "nope"]) == {account_id}
        # A backdated end (a departure recorded late) never precedes the start.
        ended = await repo.end_active(
            gestor_id, at=uow.now() - timedelta(days=30), reason="gestor_departure"
        )
        assert [r.account_id for r in ended] == [account_id]
        assert ended[0].ended_at == ended[0].assigned_at
        with pytest.raises(AssignmentEnded):
            end(ended[0], uow.now(), "unassigned")
        assert ended[0].ended_reason == "gestor_departure"

    async with rt.unit_of_work(SYSTEM) as uow:
        repo = AssignmentRepository(uow)
        assert await repo.end_active(gestor_id, at=uow.now(), reason="unassigned") == []
        assert await repo.active_accounts(gestor_id, [account_id]) == set()
        periods = await repo.periods_of_gestor(gestor_id)
        assert [(p.account_id, p.ended_at == p.assigned_at) for p in periods] == [
            (account_id, True)
        ]
        # Assigning again is a new row; the ended one stays as it was.
        again = Assignment(
            id=str(uuid.uuid4()),
            account_id=account_id,
            gestor_id=gestor_id,
            assigned_at=uow.now(),
            assigned_by="test",
        )
        assert await repo.add(again)
        twice = Assignment(
            id=str(uuid.uuid4()),
            account_id=account_id,
            gestor_id=gestor_id,
            assigned_at=uow.now(),
            assigned_by="test",
        )
        assert not await repo.add(twice)  # one active row per account and gestor
        # Only this gestor's rows, on the accounts asked for.
        assert (
            await repo.end_active(
                other_gestor, at=uow.now(), reason="handover", account_ids=[account_id]
            )
            == []
        )

    listed = await c.get(f"/v1/accounts/{account_id}/gestores", headers=admin)
    assert listed.status_code == 200, listed.text
    rows = listed.json()
    assert [(r["ended_reason"], r["ended_at"] is None) for r in rows] == [
        ("gestor_departure", False),
        (None, True),
    ]
    assert rows[0]["ended_at"] == rows[0]["assigned_at"]


@pytest.mark.postgresql_only  # SQLite runs one writer at a time: no lock order to get wrong
async def test_an_unassignment_waits_for_a_retirement_before_it_locks_a_checkout(
    make_client: AppFactory,
) -> None:
    """The account first, as every access-ender and the grant lock it: no deadlock.

    A retirement locks the account, then the account's open checkouts. Had the
    unassignment locked the gestor, the assignment and the checkout before
    share-locking the account (as its rotation does), each would wait on the other.
    """
    c, clock, admin = await frozen(make_client)
    rt = runtime_of(c)
    account_id = await account_with_credential(c, admin)
    gestor_id, headers, seed = await ready_gestor(c, admin, account_id, clock.now())
    checkout_id = await check_out(c, account_id, headers, code_at(seed, clock.now()))

    async with rt.engine.connect() as retirement:
        transaction = await retirement.begin()
        await retirement.execute(
            text("SELECT id FROM accounts WHERE id = :a FOR NO KEY UPDATE"), {"a": account_id}
        )
        unassign = asyncio.create_task(
            c.delete(f"/v1/accounts/{account_id}/gestores/{gestor_id}", headers=admin)
        )
        await lock_waiters(rt.engine, 1)
        # Fail fast instead of after deadlock_timeout, were the checkout already taken.
        await retirement.execute(text("SET LOCAL lock_timeout = '3s'"))
        await retirement.execute(
            text("SELECT id FROM checkouts WHERE id = :c FOR NO KEY UPDATE"), {"c": checkout_id}
        )
        await transaction.rollback()
    resp = await unassign
    assert resp.status_code == 204, resp.text
    assignments = await c.get(f"/v1/accounts/{account_id}/gestores", headers=admin)
    assert [r["ended_reason"] for r in assignments.json()] == ["unassigned"]
