"""Custody moves at a handover: the outgoing gestor's access ends, the incoming one's begins."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError

from service.audit.log import Entry, append
from service.db.models import Assignment
from service.handovers.repository import HandoverRepository
from service.principal import Caller
from service.rotations.access import force_close_checkouts
from service.runtime import Runtime


async def transfer_custody(
    rt: Runtime,
    caller: Caller,
    session: Any,
    repo: HandoverRepository,
    handover_id: str,
    ids: list[str],
    incoming_id: str,
    outgoing_id: str | None,
) -> list[tuple[str, str]]:
    """End the outgoing gestor's access to these accounts; assign the incoming one."""
    now = rt.clock.now()
    ended: list[tuple[str, str]] = []
    if outgoing_id is not None:
        ended = await repo.end_assignments(outgoing_id, ids, now)
        await force_close_checkouts(
            session,
            caller,
            rt.clock,
            close_reason="handover",
            gestor_id=outgoing_id,
            account_ids=ids,
        )
        for assignment_id, account_id in ended:
            await append(
                session,
                caller,
                Entry(
                    "gestor.unassigned",
                    "ok",
                    account_id=account_id,
                    subject=f"gestor:{outgoing_id}",
                    details={"assignment_id": assignment_id, "handover_id": handover_id},
                ),
                rt.clock,
            )
    already = await repo.assigned_accounts(incoming_id, ids)
    for account_id in ids:
        if account_id in already:
            continue
        row = Assignment(
            id=str(uuid.uuid4()),
            account_id=account_id,
            gestor_id=incoming_id,
            assigned_at=now,
            assigned_by=caller.actor,
        )
        try:
            # The partial unique index decides a concurrent assignment of the same pair.
            async with session.begin_nested():
                session.add(row)
                await session.flush()
        except IntegrityError:
            continue
        await append(
            session,
            caller,
            Entry(
                "gestor.assigned",
                "ok",
                account_id=account_id,
                subject=f"gestor:{incoming_id}",
                details={"assignment_id": row.id, "handover_id": handover_id},
            ),
            rt.clock,
        )
    return ended
