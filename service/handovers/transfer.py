"""Custody moves at a handover: the outgoing gestor's access ends, the incoming one's begins."""

from __future__ import annotations

import uuid

from service.audit.log import Entry
from service.db.models import Assignment
from service.domain.events import AccessEnded
from service.handovers.repository import HandoverRepository
from service.uow import UnitOfWork


async def transfer_custody(
    uow: UnitOfWork,
    repo: HandoverRepository,
    handover_id: str,
    ids: list[str],
    incoming_id: str,
    outgoing_id: str | None,
) -> list[tuple[str, str]]:
    """End the outgoing gestor's access to these accounts; assign the incoming one.

    The caller holds the account rows and both gestors' rows locked.
    """
    now = uow.now()
    ended: list[tuple[str, str]] = []
    if outgoing_id is not None:
        ended = await repo.end_assignments(outgoing_id, ids, now)
        # Checkouts react (service.bus): the outgoing gestor's open ones close now.
        await uow.publish(AccessEnded("handover", gestor_id=outgoing_id, account_ids=tuple(ids)))
        for assignment_id, account_id in ended:
            uow.record(
                Entry(
                    "gestor.unassigned",
                    "ok",
                    account_id=account_id,
                    subject=f"gestor:{outgoing_id}",
                    details={"assignment_id": assignment_id, "handover_id": handover_id},
                )
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
            assigned_by=uow.caller.actor,
        )
        if not await repo.add_assignment(row):
            continue
        uow.record(
            Entry(
                "gestor.assigned",
                "ok",
                account_id=account_id,
                subject=f"gestor:{incoming_id}",
                details={"assignment_id": row.id, "handover_id": handover_id},
            )
        )
    return ended
