"""Rotation obligations: deadlines, derived status, merging, evidence, departure, max age."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.domain.rotation import (
    Assignment,
    CredentialAge,
    DeadlinePolicy,
    ObligationTerms,
    Retrieval,
    RotationReason,
    RotationStatus,
    counts_as_rotation,
    departure_case_file,
    due_at,
    is_satisfied_by,
    make_origin,
    max_age_scan,
    merge_trigger,
    names_gestor,
    new_obligation,
    obligation_status,
)
from service.settings import Settings

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)
POLICY = DeadlinePolicy()


@pytest.mark.parametrize(
    ("reason", "delta"),
    [
        ("gestor_departure", 24 * H),
        ("gestor_unassigned", 24 * H),
        ("handover", 24 * H),
        ("incident", 1 * H),
        ("manual", 24 * H),
        ("max_age", 7 * D),
    ],
)
def test_default_deadlines(reason: RotationReason, delta: timedelta) -> None:
    assert due_at(reason, T0, POLICY) == T0 + delta


@pytest.mark.parametrize(
    ("reason", "delta"),
    [
        ("gestor_departure", 2 * H),
        ("gestor_unassigned", 3 * H),
        ("handover", 4 * H),
        ("incident", 5 * H),
        ("manual", 6 * H),
        ("max_age", 8 * D),
    ],
)
def test_deadlines_follow_settings(reason: RotationReason, delta: timedelta) -> None:
    settings = Settings(
        rotation_due_hours_departure=2,
        rotation_due_hours_unassigned=3,
        rotation_due_hours_handover=4,
        rotation_due_hours_incident=5,
        rotation_due_hours_manual=6,
        rotation_max_age_days=30,
        rotation_max_age_grace_days=8,
    )
    policy = DeadlinePolicy.from_settings(settings)
    assert policy.max_age_days == 30
    assert due_at(reason, T0, policy) == T0 + delta


@pytest.mark.parametrize(
    ("satisfied_at", "withdrawn_at", "now", "expected"),
    [
        (None, None, T0, "open"),
        (None, None, T0 + 24 * H, "open"),  # at the deadline, not yet past it
        (None, None, T0 + 24 * H + timedelta(microseconds=1), "overdue"),
        (None, None, T0 + 30 * D, "overdue"),
        (T0 + H, None, T0 + 30 * D, "satisfied"),  # satisfied late is still satisfied
        (T0 + H, None, T0, "satisfied"),
        (None, T0 + H, T0 + 2 * H, "withdrawn"),
        (None, T0 + H, T0 + 30 * D, "withdrawn"),  # withdrawn is never overdue
        (None, T0 + 30 * D, T0 + 31 * D, "withdrawn"),  # withdrawn while overdue
    ],
)
def test_status_is_derived(
    satisfied_at: datetime | None,
    withdrawn_at: datetime | None,
    now: datetime,
    expected: RotationStatus,
) -> None:
    assert obligation_status(T0 + 24 * H, satisfied_at, now, withdrawn_at) == expected


GESTOR = make_origin("gestor", 7, "gestor_departure")
INCIDENT = make_origin("incident", "inc-1", "incident")


def test_make_origin_shape() -> None:
    assert GESTOR == {"type": "gestor", "id": 7, "reason": "gestor_departure"}


def test_new_obligation() -> None:
    assert new_obligation("gestor_departure", T0, GESTOR, POLICY) == ObligationTerms(
        "gestor_departure", T0, T0 + 24 * H, (GESTOR,)
    )


@pytest.mark.parametrize(
    ("reason", "triggered_at", "origin", "due", "origins"),
    [
        # An incident an hour later is due sooner: its deadline wins.
        ("incident", T0 + H, INCIDENT, T0 + 2 * H, (GESTOR, INCIDENT)),
        # A later departure is due later: the first deadline stays.
        ("gestor_unassigned", T0 + 5 * H, make_origin("gestor", 8, "x"), T0 + 24 * H, None),
        # A trigger dated earlier than the first one brings the deadline forward.
        ("gestor_departure", T0 - 10 * H, make_origin("gestor", 9, "y"), T0 + 14 * H, None),
        # The same origin again (an idempotent departure) changes nothing.
        ("gestor_departure", T0, GESTOR, T0 + 24 * H, (GESTOR,)),
    ],
)
def test_merge_trigger(
    reason: RotationReason,
    triggered_at: datetime,
    origin: dict[str, object],
    due: datetime,
    origins: tuple[dict[str, object], ...] | None,
) -> None:
    existing = new_obligation("gestor_departure", T0, GESTOR, POLICY)
    merged = merge_trigger(existing, reason, triggered_at, origin, POLICY)
    assert merged.due_at == due
    assert merged.origins == (origins if origins is not None else (GESTOR, origin))
    assert merged.reason == "gestor_departure"
    assert merged.triggered_at == T0


@pytest.mark.parametrize(
    ("created", "differs", "through_service", "satisfied"),
    [
        (T0 + timedelta(seconds=1), True, True, True),
        (T0 + timedelta(microseconds=1), True, True, True),
        (T0, True, True, False),  # not later than the trigger
        (T0 - H, True, True, False),  # a version older than the trigger
        (T0 + H, False, True, False),  # the same password written again
        (T0 + H, True, False, False),  # straight into Vault, bypassing the service
        (T0 + H, False, False, False),
    ],
)
def test_evidence_rule(
    created: datetime, differs: bool, through_service: bool, satisfied: bool
) -> None:
    assert is_satisfied_by(T0, created, differs, through_service) is satisfied


LEAVER = "g-leaver"
OTHER = "g-other"
LEFT = make_origin("gestor", LEAVER, "gestor_departure")
UNASSIGNED = make_origin("gestor", LEAVER, "gestor_unassigned")
OTHER_LEFT = make_origin("gestor", OTHER, "gestor_departure")
SCAN = make_origin("scan", 3, "max_age")


@pytest.mark.parametrize(
    ("origins", "writer", "ended", "satisfied"),
    [
        ((LEFT,), None, False, True),  # an admin rotates after the departure
        ((UNASSIGNED,), None, False, True),
        ((LEFT,), OTHER, False, True),  # another gestor of the account rotates
        ((LEFT,), LEAVER, False, False),  # the leaver chose it
        ((UNASSIGNED,), LEAVER, False, False),
        ((OTHER_LEFT, UNASSIGNED), LEAVER, False, False),  # merged: any origin naming them
        ((INCIDENT,), LEAVER, False, True),  # no origin names the writer
        ((SCAN,), LEAVER, False, True),
        ((make_origin("incident", LEAVER, "acceso_no_autorizado"),), LEAVER, False, True),
        ((INCIDENT,), LEAVER, True, False),  # the checkout closed while it was written
        ((LEFT,), OTHER, True, False),
        ((LEFT,), None, True, False),
        ((), None, False, True),
    ],
)
def test_evidence_rule_writer_and_access(
    origins: tuple[dict[str, object], ...], writer: str | None, ended: bool, satisfied: bool
) -> None:
    got = is_satisfied_by(
        T0,
        T0 + H,
        True,
        True,
        origins=origins,
        writer_gestor_id=writer,
        access_ended_during_write=ended,
    )
    assert got is satisfied


@pytest.mark.parametrize(
    ("origins", "gestor_id", "named"),
    [
        ((LEFT,), LEAVER, True),
        ((UNASSIGNED,), LEAVER, True),
        ((OTHER_LEFT,), LEAVER, False),
        ((OTHER_LEFT, LEFT), LEAVER, True),
        ((LEFT,), None, False),
        ((INCIDENT, SCAN), "inc-1", False),  # only gestor origins name a gestor
        ((), LEAVER, False),
    ],
)
def test_names_gestor(
    origins: tuple[dict[str, object], ...], gestor_id: str | None, named: bool
) -> None:
    assert names_gestor(origins, gestor_id) is named


@pytest.mark.parametrize(
    ("differs", "ended", "rotation"),
    [(True, False, True), (True, True, False), (False, False, False), (False, True, False)],
)
def test_counts_as_rotation(differs: bool, ended: bool, rotation: bool) -> None:
    assert counts_as_rotation(differs, access_ended_during_write=ended) is rotation


DEPARTED = T0 + 100 * D


def test_departure_case_file_literal_rule() -> None:
    assignments = [
        Assignment("never-rotated", T0),
        Assignment("rotated-before-access", T0 + 10 * D),
        Assignment("rotated-during-access", T0, T0 + 50 * D),
        Assignment("rotated-at-access-start", T0 + 5 * D),
        # Two periods on one account: access began with the first.
        Assignment("reassigned", T0 + 20 * D, T0 + 30 * D),
        Assignment("reassigned", T0 + 60 * D),
    ]
    rotations = {
        "rotated-before-access": T0 + 9 * D,
        "rotated-during-access": T0 + 40 * D,
        "rotated-at-access-start": T0 + 5 * D,
        "reassigned": T0 + 40 * D,  # after the first period began
    }
    entries = departure_case_file(assignments, rotations, [], DEPARTED)
    got = {e.account_id: e.needs_obligation for e in entries}
    assert got == {
        "never-rotated": True,
        "rotated-before-access": True,
        "rotated-during-access": False,
        "rotated-at-access-start": True,  # "since" is strictly after
        "reassigned": False,
    }
    by_id = {e.account_id: e for e in entries}
    assert by_id["reassigned"].access_began == T0 + 20 * D
    assert by_id["reassigned"].access_ended == DEPARTED  # still active until departure
    assert by_id["rotated-during-access"].access_ended == T0 + 50 * D
    assert [e.account_id for e in entries][:2] == ["never-rotated", "rotated-during-access"]


@pytest.mark.parametrize(
    ("ended_at", "rotated", "literal", "strict"),
    [
        (None, None, True, True),
        (None, T0 + 10 * D, False, True),  # rotated while the gestor still had access
        (T0 + 50 * D, T0 + 40 * D, False, True),
        (T0 + 50 * D, T0 + 60 * D, False, False),  # rotated after access ended
        (T0 + 50 * D, T0 - D, True, True),
    ],
)
def test_departure_rule_choice(
    ended_at: datetime | None, rotated: datetime | None, literal: bool, strict: bool
) -> None:
    assignments = [Assignment("a", T0, ended_at)]
    rotations = {"a": rotated}
    (default,) = departure_case_file(assignments, rotations, [], DEPARTED)
    (closed,) = departure_case_file(
        assignments, rotations, [], DEPARTED, rotated_since="access_ended"
    )
    assert default.needs_obligation is literal
    assert closed.needs_obligation is strict


@pytest.mark.parametrize(
    ("rotated", "retrieved", "since_rotation"),
    [
        (None, [T0 + D, T0 + 3 * D], [T0 + D, T0 + 3 * D]),
        (T0 + 2 * D, [T0 + 3 * D, T0 + D], [T0 + 3 * D]),
        (T0 + 2 * D, [T0 + D], []),
        (T0 + 2 * D, [T0 + 2 * D], []),  # same instant as the rotation: before it
        (None, [], []),
    ],
)
def test_departure_retrievals_since_rotation(
    rotated: datetime | None, retrieved: list[datetime], since_rotation: list[datetime]
) -> None:
    retrievals = [Retrieval("a", at) for at in retrieved] + [Retrieval("other", T0 + 4 * D)]
    (entry,) = departure_case_file([Assignment("a", T0)], {"a": rotated}, retrievals, DEPARTED)
    assert entry.retrievals_since_rotation == tuple(since_rotation)
    assert entry.retrieved_since_rotation is bool(since_rotation)
    assert entry.last_retrieved_at == (since_rotation[-1] if since_rotation else None)


def test_departure_with_no_assignments_is_empty() -> None:
    assert departure_case_file([], {}, [Retrieval("a", T0)], DEPARTED) == []


@pytest.mark.parametrize(
    ("age", "has_open", "found"),
    [
        (None, False, False),  # no credential yet
        (10 * D, False, False),
        (90 * D, False, False),  # exactly the maximum: not older than it
        (90 * D + timedelta(seconds=1), False, True),
        (200 * D, False, True),
        (200 * D, True, False),  # already owes a rotation
    ],
)
def test_max_age_scan(age: timedelta | None, has_open: bool, found: bool) -> None:
    now = T0 + 300 * D
    created = None if age is None else now - age
    findings = max_age_scan([CredentialAge("a", created, has_open)], now, POLICY)
    assert [f.account_id for f in findings] == (["a"] if found else [])
    if found:
        assert created is not None
        assert findings[0].reached_at == created + 90 * D
        assert findings[0].due_at == created + 97 * D


def test_max_age_scan_is_idempotent() -> None:
    now = T0 + 300 * D
    accounts = [
        CredentialAge(1, now - 100 * D, False),
        CredentialAge(2, now - 10 * D, False),
        CredentialAge(3, now - 95 * D, False),
    ]
    first = max_age_scan(accounts, now, POLICY)
    assert [f.account_id for f in first] == [1, 3]
    owing = {f.account_id for f in first}
    after = [CredentialAge(a.account_id, a.created_time, a.account_id in owing) for a in accounts]
    assert max_age_scan(after, now + H, POLICY) == []
