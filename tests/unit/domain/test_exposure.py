"""What a leaver knew, what the obligation then requires, and which backup code leaves next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from service.domain.exposure import (
    PASSWORD_ONLY,
    WHY_REQUIRED,
    Exposure,
    Secret,
    codes_left,
    leaver_requires,
    next_unused_code,
    reveal_details,
    revealed_index,
    set_by_version,
    stored_requires,
)
from service.domain.rotation import (
    DeadlinePolicy,
    is_satisfied_by,
    make_origin,
    merge_trigger,
    new_obligation,
)
from service.domain.triggers import Trigger, leaver, leaver_exposed, origin_requires

T0 = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
POLICY = DeadlinePolicy()
CODES: frozenset[Secret] = frozenset({"password", "backup_codes"})
ALL: frozenset[Secret] = frozenset({"password", "backup_codes", "totp_secret"})


@pytest.mark.parametrize(
    ("base", "saw", "wrote", "expected"),
    [
        (PASSWORD_ONLY, False, False, {"password"}),
        (PASSWORD_ONLY, True, False, {"password", "backup_codes"}),
        (PASSWORD_ONLY, False, True, {"password", "totp_secret"}),
        (PASSWORD_ONLY, True, True, {"password", "backup_codes", "totp_secret"}),
        # Rotated since their access ended: only what else they knew.
        (frozenset(), False, False, set()),
        (frozenset(), True, False, {"backup_codes"}),
        (frozenset(), False, True, {"totp_secret"}),
    ],
)
def test_leaver_requires(
    base: frozenset[Secret], saw: bool, wrote: bool, expected: set[str]
) -> None:
    assert leaver_requires(base, Exposure(saw, wrote)) == expected


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (None, {"password"}),  # obligations from before requirements existed
        ([], {"password"}),
        (["password"], {"password"}),
        (["backup_codes"], {"backup_codes"}),
        (["totp_secret", "password", "backup_codes"], {"password", "backup_codes", "totp_secret"}),
        (["password", "nonsense"], {"password"}),
    ],
)
def test_stored_requires(stored: list[str] | None, expected: set[str]) -> None:
    assert stored_requires(stored) == expected


@pytest.mark.parametrize(
    ("recorded", "current", "present", "expected"),
    [
        (3, 7, True, 3),  # carried over since version 3
        (3, 7, False, 3),
        (None, 7, True, 7),  # written before writers said: the whole record was replaced
        (None, 7, False, None),  # no seed in the record
        (None, None, True, None),  # no credential
    ],
)
def test_set_by_version(
    recorded: int | None, current: int | None, present: bool, expected: int | None
) -> None:
    assert set_by_version(recorded, current, present=present) == expected


@pytest.mark.parametrize(
    ("count", "revealed", "expected", "left"),
    [
        (3, set(), 0, 3),
        (3, {0}, 1, 2),
        (3, {0, 2}, 1, 1),
        (3, {1}, 0, 2),
        (3, {0, 1, 2}, None, 0),
        (0, set(), None, 0),
        (2, {0, 5}, 1, 1),  # an index outside the set does not count
    ],
)
def test_next_unused_code_and_codes_left(
    count: int, revealed: set[int], expected: int | None, left: int
) -> None:
    assert next_unused_code(count, revealed) == expected
    assert codes_left(count, revealed) == left


@pytest.mark.parametrize(
    ("details", "since", "expected"),
    [
        (reveal_details("g", 4, 2, 1), 4, 2),
        (reveal_details("g", 5, 0, 1), 4, 0),
        (reveal_details("g", 3, 1, 1), 4, None),  # a set replaced at version 4
        ({"credential_version": "4", "index": 1}, 1, None),
        ({}, 1, None),
    ],
)
def test_revealed_index(details: dict[str, Any], since: int, expected: int | None) -> None:
    assert revealed_index(details, since) == expected


def test_reveal_details_never_hold_the_code() -> None:
    assert set(reveal_details("g", 1, 0, 2)) == {
        "gestor_id",
        "credential_version",
        "index",
        "remaining",
    }


@pytest.mark.parametrize(
    ("requires", "password_differs", "replaced", "satisfied"),
    [
        # Today's writers list nothing: a new password satisfies a password obligation.
        (PASSWORD_ONLY, True, frozenset(), True),
        (PASSWORD_ONLY, False, frozenset(), False),
        (PASSWORD_ONLY, False, frozenset({"password"}), True),
        # A password-only rotation does not answer for backup codes someone saw.
        (CODES, True, frozenset(), False),
        (CODES, True, frozenset({"password"}), False),
        (CODES, True, frozenset({"backup_codes"}), True),
        (CODES, False, frozenset({"password", "backup_codes"}), True),
        (frozenset({"backup_codes"}), False, frozenset({"backup_codes"}), True),
        (frozenset({"backup_codes"}), True, frozenset(), False),
        (ALL, True, frozenset({"backup_codes"}), False),
        (ALL, True, frozenset({"backup_codes", "totp_secret"}), True),
        (frozenset({"totp_secret"}), True, frozenset({"totp_secret"}), True),
    ],
)
def test_satisfaction_requires_every_required_secret(
    requires: frozenset[Secret], password_differs: bool, replaced: frozenset[str], satisfied: bool
) -> None:
    assert (
        is_satisfied_by(T0, T0 + H, password_differs, True, requires=requires, replaced=replaced)
        is satisfied
    )


def test_satisfaction_keeps_its_other_conditions() -> None:
    origins = [make_origin("gestor", "g1", "gestor_departure")]
    common: dict[str, Any] = {"requires": CODES, "replaced": frozenset(CODES)}
    assert is_satisfied_by(T0, T0 + H, True, True, **common)
    assert not is_satisfied_by(T0, T0 - H, True, True, **common)
    assert not is_satisfied_by(T0, T0 + H, True, False, **common)
    assert not is_satisfied_by(T0, T0 + H, True, True, access_ended_during_write=True, **common)
    assert not is_satisfied_by(
        T0, T0 + H, True, True, origins=origins, writer_gestor_id="g1", **common
    )


def test_merging_adds_up_requirements() -> None:
    incident = make_origin("incident", "i1", "robo")
    leaver_origin = {**make_origin("gestor", "g1", "gestor_departure"), "requires": ["x"]}
    first = new_obligation("incident", T0, incident, POLICY)
    assert first.requires == PASSWORD_ONLY
    merged = merge_trigger(first, "gestor_departure", T0 + H, leaver_origin, POLICY, CODES)
    assert merged.requires == CODES
    assert merged.origins == (incident, leaver_origin)
    again = merge_trigger(merged, "manual", T0 + H, incident, POLICY)
    assert again == merged  # the same origin and nothing new required: no change
    seed = merge_trigger(merged, "manual", T0 + H, incident, POLICY, frozenset({"totp_secret"}))
    assert seed.requires == ALL


def test_departure_trigger_may_require_nothing_of_the_password() -> None:
    knows = Trigger.gestor_departed("g1", T0)
    assert knows.requires == PASSWORD_ONLY
    rotated_since = Trigger.gestor_departed("g1", T0, knows_password=False)
    assert rotated_since.requires == frozenset()
    assert rotated_since.origin == knows.origin


@pytest.mark.parametrize(
    ("trigger", "gestor"),
    [
        (Trigger.gestor_departed("g1", T0), "g1"),
        (Trigger.gestor_unassigned("g2"), "g2"),
        (Trigger.incident_reported("i1", "robo"), None),
        (Trigger.handover("h1"), None),
        (Trigger.manual("token:a", "porque"), None),
        (Trigger.max_age_reached(3, T0), None),
    ],
)
def test_leaver_of_a_trigger(trigger: Trigger, gestor: str | None) -> None:
    assert leaver(trigger) == gestor


@pytest.mark.parametrize(
    ("trigger", "exposure", "requires", "origin_says"),
    [
        (Trigger.gestor_unassigned("g"), Exposure(), PASSWORD_ONLY, None),
        (Trigger.gestor_unassigned("g"), Exposure(saw_backup_codes=True), CODES, CODES),
        (Trigger.gestor_departed("g", T0), Exposure(True, True), ALL, ALL),
        (
            Trigger.gestor_departed("g", T0, knows_password=False),
            Exposure(saw_backup_codes=True),
            frozenset({"backup_codes"}),
            frozenset({"backup_codes"}),
        ),
        (
            Trigger.gestor_departed("g", T0, knows_password=False),
            Exposure(),
            frozenset(),
            frozenset(),
        ),
    ],
)
def test_leaver_exposed_records_what_the_origin_requires(
    trigger: Trigger,
    exposure: Exposure,
    requires: frozenset[str],
    origin_says: frozenset[str] | None,
) -> None:
    exposed = leaver_exposed(trigger, exposure)
    assert exposed.requires == requires
    if origin_says is None:
        # A password-only origin looks as it always did.
        assert exposed.origin == trigger.origin
    else:
        assert exposed.origin["requires"] == sorted(origin_says)
    if requires:  # a trigger that requires nothing opens nothing
        assert origin_requires(exposed.origin) == sorted(requires)


def test_why_each_secret_is_required_is_worded() -> None:
    assert WHY_REQUIRED["backup_codes"] == "vio códigos de respaldo"
    assert set(WHY_REQUIRED) == set(ALL)
