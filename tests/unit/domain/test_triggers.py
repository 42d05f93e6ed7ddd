"""Each cause of a rotation obligation records its reason, origin, moment and note."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service.domain.rotation import ROTATION_REASONS
from service.domain.triggers import Trigger, may_open_obligation

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        (
            Trigger.gestor_unassigned("g-1"),
            Trigger(
                "gestor_unassigned", {"type": "gestor", "id": "g-1", "reason": "gestor_unassigned"}
            ),
        ),
        (
            Trigger.gestor_departed("g-2", effective_at=T0),
            Trigger(
                "gestor_departure",
                {"type": "gestor", "id": "g-2", "reason": "gestor_departure"},
                triggered_at=T0,
            ),
        ),
        (
            Trigger.incident_reported("inc-1", "extravio"),
            Trigger("incident", {"type": "incident", "id": "inc-1", "reason": "extravio"}),
        ),
        (
            Trigger.max_age_reached(3, reached_at=T0),
            Trigger("max_age", {"type": "scan", "id": 3, "reason": "max_age"}, triggered_at=T0),
        ),
        (
            Trigger.max_age_reached(None, reached_at=T0),
            Trigger("max_age", {"type": "scan", "id": None, "reason": "max_age"}, triggered_at=T0),
        ),
        (
            Trigger.handover("h-1"),
            Trigger("handover", {"type": "handover", "id": "h-1", "reason": "handover"}),
        ),
        (
            Trigger.manual("admin:ana", "sospecha de fuga"),
            Trigger(
                "manual",
                {"type": "manual", "id": "admin:ana", "reason": "sospecha de fuga"},
                note="sospecha de fuga",
            ),
        ),
    ],
)
def test_trigger_records(trigger: Trigger, expected: Trigger) -> None:
    assert trigger == expected


EVERY_CAUSE = [
    Trigger.gestor_unassigned("g-1"),
    Trigger.gestor_departed("g-2", effective_at=T0),
    Trigger.incident_reported("inc-1", "extravio"),
    Trigger.max_age_reached(3, reached_at=T0),
    Trigger.handover("h-1"),
    Trigger.manual("token:admin", "revisión"),
]


@pytest.mark.parametrize(
    ("trigger", "handed_back", "may_hold", "allowed"),
    [
        # In custody: every cause opens or merges.
        *[(t, False, True, True) for t in EVERY_CAUSE],
        # Handed back: no version can ever satisfy it, whatever caused it (Décima novena).
        *[(t, True, False, False) for t in EVERY_CAUSE],
        # Not holdable now (term ended, no área) though nothing was handed back:
        # no credential can be written for it either.
        *[(t, False, False, False) for t in EVERY_CAUSE],
        # Holdable again on the same record (term extended) after a hand-back: the
        # kept history still refuses new versions, so still none.
        *[(t, True, True, False) for t in EVERY_CAUSE],
    ],
    ids=lambda v: getattr(v, "reason", str(v)),
)
def test_may_open_obligation(
    trigger: Trigger, handed_back: bool, may_hold: bool, allowed: bool
) -> None:
    # The rule reads no cause: each row is checked for every one of them.
    assert trigger.reason in ROTATION_REASONS
    assert may_open_obligation(handed_back=handed_back, may_hold=may_hold) is allowed


def test_every_reason_has_a_row() -> None:
    assert {t.reason for t in EVERY_CAUSE} == set(ROTATION_REASONS)
