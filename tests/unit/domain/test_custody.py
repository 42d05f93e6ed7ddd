"""Leaving custody (Décima novena): which credentials are handed back, and what is still owed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from service.domain.accounts import AccountProfile
from service.domain.custody import (
    DESTROYED,
    HANDED_BACK,
    CustodyEvent,
    Held,
    latest_hand_back,
    leave_reason,
    leaving_custody,
    left_without_credential,
    must_leave_custody,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
YESTERDAY = TODAY - timedelta(days=1)

MANAGED = AccountProfile(
    kind="personal",
    owner_name="Ana Pérez",
    owner_cargo="Directora General",
    hierarchy_level=1,
    managed_by_area=True,
)


def managed(**changes: Any) -> AccountProfile:
    return replace(MANAGED, **changes)


@pytest.mark.parametrize(
    ("profile", "version", "reason", "leaves"),
    [
        # Official accounts are the body's whatever their fields say.
        (AccountProfile(kind="oficial"), 3, None, False),
        (AccountProfile(kind="oficial", term_ends_on=YESTERDAY), 3, None, False),
        (managed(), 3, None, False),
        (managed(term_ends_on=TODAY), 3, None, False),  # the last day still counts
        (managed(term_ends_on=TODAY + timedelta(days=30)), 3, None, False),
        (managed(term_ends_on=YESTERDAY), 3, "term_ended", True),
        (managed(term_ends_on=YESTERDAY), 1, "term_ended", True),
        (managed(managed_by_area=False), 2, "not_managed_by_area", True),
        (managed(managed_by_area=False, term_ends_on=YESTERDAY), 2, "not_managed_by_area", True),
        # Nothing in custody: nothing to hand back, though the body may not hold it.
        (managed(term_ends_on=YESTERDAY), None, "term_ended", False),
        (managed(managed_by_area=False), None, "not_managed_by_area", False),
        (managed(), None, None, False),
    ],
)
def test_must_leave_custody(
    profile: AccountProfile, version: int | None, reason: str | None, leaves: bool
) -> None:
    assert leave_reason(profile, NOW) == reason
    assert must_leave_custody(profile, version, NOW) is leaves


def test_the_term_ends_in_the_given_time_zone() -> None:
    mexico = timezone(timedelta(hours=-6))
    at = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)  # still the 28th in Mexico City
    profile = managed(term_ends_on=datetime(2026, 11, 28).date())
    assert must_leave_custody(profile, 1, at) is True
    assert must_leave_custody(profile, 1, at, mexico) is False


def test_leaving_custody_keeps_order_and_picks_only_those_due() -> None:
    accounts = [
        Held("oficial", AccountProfile(kind="oficial"), 4),
        Held("ended", managed(term_ends_on=YESTERDAY), 2),
        Held("in-office", managed(term_ends_on=TODAY), 2),
        Held("never-written", managed(term_ends_on=YESTERDAY), None),
        Held("no-area", managed(managed_by_area=False), 1),
    ]
    assert leaving_custody(accounts, NOW) == ["ended", "no-area"]
    assert leaving_custody([], NOW) == []


def test_left_without_credential_keeps_order_and_picks_only_empty_unholdable() -> None:
    accounts = [
        Held("oficial", AccountProfile(kind="oficial"), None),
        Held("ended-empty", managed(term_ends_on=YESTERDAY), None),
        Held("ended-held", managed(term_ends_on=YESTERDAY), 2),  # the hand-back's
        Held("in-office", managed(term_ends_on=TODAY), None),
        Held("no-area", managed(managed_by_area=False), None),
        Held("no-term", managed(), None),
    ]
    assert left_without_credential(accounts, NOW) == ["ended-empty", "no-area"]
    assert left_without_credential([], NOW) == []
    # Disjoint from what is handed back: each account is the job's once per round.
    withdrawn: list[str] = left_without_credential(accounts, NOW)
    handed_back: list[str] = leaving_custody(accounts, NOW)
    assert not set(withdrawn) & set(handed_back)


def back(seq: int) -> CustodyEvent:
    return CustodyEvent(seq, HANDED_BACK, "ok", details={"last_version": seq})


def destroyed(seq: int, outcome: str = "ok") -> CustodyEvent:
    return CustodyEvent(seq, DESTROYED, outcome)


@pytest.mark.parametrize(
    ("events", "handed_back_seq", "destroyed_seq"),
    [
        ([], None, None),
        # A destroy with no hand-back before it says nothing about custody.
        ([destroyed(3)], None, None),
        ([back(5)], 5, None),
        ([back(5), destroyed(6, "error")], 5, None),
        ([back(5), destroyed(6, "error"), destroyed(9)], 5, 9),
        ([back(5), destroyed(6), destroyed(7)], 5, 6),
        # Handed back again (a write in flight recorded a version): owed again.
        ([back(5), destroyed(6), back(8)], 8, None),
        ([back(5), destroyed(6), back(8), destroyed(10)], 8, 10),
        # Order of the list does not matter; seq does.
        ([destroyed(10), back(8), destroyed(6), back(5)], 8, 10),
    ],
)
def test_latest_hand_back(
    events: list[CustodyEvent], handed_back_seq: int | None, destroyed_seq: int | None
) -> None:
    state = latest_hand_back(events)
    if handed_back_seq is None:
        assert state is None
        return
    assert state is not None
    assert state.handed_back.seq == handed_back_seq
    assert state.destroy_pending is (destroyed_seq is None)
    assert (state.destroyed.seq if state.destroyed else None) == destroyed_seq
