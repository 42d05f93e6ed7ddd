"""Credential fields: what a version holds, what a merge keeps, what a replacement may drop."""

from __future__ import annotations

from typing import Any

import pytest

from service.domain.credential_fields import (
    INCOMPLETE,
    NO_VERSION,
    Known,
    Removal,
    check_removals,
    merged,
    replaced,
    shown_by_facts,
    version_fields,
)
from service.domain.write_intents import INTENT, RECOVERED, WRITTEN, CredentialEvent
from service.errors import InvalidInput

BASE = {"username", "password"}
FULL = Known(frozenset(BASE | {"totp_secret", "backup_codes", "recovery_email", "notes"}), True)


def ev(seq: int, action: str, **details: Any) -> CredentialEvent:
    return CredentialEvent(seq, action, details)


@pytest.mark.parametrize(
    ("events", "version", "expected"),
    [
        ([ev(1, WRITTEN, version=1, fields=["password", "username"])], 1, BASE),
        # No event recorded it, or an old event without a field list.
        ([ev(1, WRITTEN, version=1, fields=["password"])], 2, None),
        ([ev(1, WRITTEN, version=1)], 1, None),
        # Numbering restarted after a hand-back: the latest record counts.
        (
            [
                ev(1, WRITTEN, version=1, fields=["password", "totp_secret", "username"]),
                ev(2, WRITTEN, version=1, fields=["password", "username"]),
            ],
            1,
            BASE,
        ),
        # A recovered version: its intent's list.
        (
            [
                ev(1, INTENT, version=2, fields=["backup_codes", "password", "username"]),
                ev(2, RECOVERED, version=2, intent_seq=1),
            ],
            2,
            BASE | {"backup_codes"},
        ),
        # Recovered without an intent (written outside the service): unknown.
        ([ev(2, RECOVERED, version=2, intent_seq=None)], 2, None),
        # A list the service knew to be incomplete is no list.
        (
            [ev(1, WRITTEN, version=1, fields=["password", "username"], **{INCOMPLETE: True})],
            1,
            None,
        ),
    ],
)
def test_version_fields(
    events: list[CredentialEvent], version: int, expected: set[str] | None
) -> None:
    found = version_fields(events, version)
    assert found == (None if expected is None else frozenset(expected))


def test_merge_carries_over_what_is_not_named() -> None:
    new = merged(FULL, BASE, ())
    assert new.fields == FULL.fields and new.complete
    assert new.carried_over == {"totp_secret", "backup_codes", "recovery_email", "notes"}
    assert new.written_details() == {
        "carried_over": ["backup_codes", "notes", "recovery_email", "totp_secret"]
    }
    assert new.intent_details() == {}


def test_merge_drops_only_what_a_removal_names() -> None:
    removal = Removal("totp_secret", "la plataforma quitó el 2FA")
    new = merged(FULL, BASE | {"recovery_phone"}, (removal,))
    assert new.fields == (FULL.fields - {"totp_secret"}) | {"recovery_phone"}
    removed = [{"field": "totp_secret", "reason": "la plataforma quitó el 2FA"}]
    assert new.intent_details() == {"removed": removed}
    assert new.written_details()["removed"] == removed


def test_replacement_refuses_to_drop_silently_and_names_the_fields() -> None:
    with pytest.raises(InvalidInput) as refused:
        replaced(FULL, BASE | {"notes"}, ())
    assert refused.value.extra["fields"] == ["backup_codes", "recovery_email", "totp_secret"]
    assert "backup_codes, recovery_email, totp_secret" in refused.value.detail


def test_replacement_drops_what_removals_name() -> None:
    removals = tuple(Removal(f, "ya no aplica") for f in ("totp_secret", "backup_codes", "notes"))
    new = replaced(FULL, BASE | {"recovery_email"}, removals)
    assert new.fields == BASE | {"recovery_email"} and new.complete and not new.carried_over
    assert [r["field"] for r in new.written_details()["removed"]] == [
        "totp_secret",
        "backup_codes",
        "notes",
    ]


def test_removing_what_the_version_does_not_hold_is_refused_when_known() -> None:
    with pytest.raises(InvalidInput) as refused:
        merged(Known(frozenset(BASE), True), BASE, (Removal("backup_codes", "x"),))
    assert refused.value.extra["fields"] == ["backup_codes"]
    with pytest.raises(InvalidInput):
        replaced(NO_VERSION, BASE, (Removal("notes", "x"),))
    # Unknown (written outside the service): it may be there.
    unknown = Known(frozenset(BASE), complete=False)
    assert merged(unknown, BASE, (Removal("backup_codes", "x"),)).fields == BASE


def test_an_incomplete_list_stays_incomplete_through_a_merge_not_a_replacement() -> None:
    partial = shown_by_facts("totp", None, "••••5678")
    assert partial == Known(frozenset(BASE | {"totp_secret", "recovery_phone"}), complete=False)
    new = merged(partial, BASE, ())
    assert not new.complete and new.intent_details() == {INCOMPLETE: True}
    with pytest.raises(InvalidInput) as refused:
        replaced(partial, BASE, ())
    assert refused.value.extra["fields"] == ["recovery_phone", "totp_secret"]
    assert replaced(partial, BASE | {"totp_secret", "recovery_phone"}, ()).complete


@pytest.mark.parametrize(
    ("named", "removals", "words"),
    [
        (BASE, [Removal("password", "x")], "cannot be removed"),
        (BASE, [Removal("notes", "x"), Removal("notes", "y")], "more than once"),
        (BASE | {"notes"}, [Removal("notes", "x")], "both sent and removed"),
        (BASE, [Removal("notes", "   ")], "needs a reason"),
    ],
)
def test_removals_are_explicit(named: set[str], removals: list[Removal], words: str) -> None:
    with pytest.raises(InvalidInput, match=words) as refused:
        check_removals(named, removals)
    assert refused.value.extra["field"] == "remove"
