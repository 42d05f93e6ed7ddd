"""Account rules: platforms, kinds, Quinta's rank limit, custody and directory."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from service.domain.accounts import (
    PLATFORMS,
    AccountProfile,
    appears_in_directory,
    check_hierarchy_level,
    ensure_may_hold_credential,
    may_hold_credential,
    parse_kind,
    parse_platform,
    term_ended,
    validate_account,
)
from service.errors import Conflict, InvalidInput

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
TODAY = NOW.date()


PERSONAL = AccountProfile(
    kind="personal", owner_name="Ana Pérez", owner_cargo="Directora General", hierarchy_level=1
)


def personal(**changes: Any) -> AccountProfile:
    return replace(PERSONAL, **changes)


def test_platform_list_is_the_issue_list() -> None:
    assert PLATFORMS == (
        "facebook",
        "instagram",
        "x",
        "tiktok",
        "youtube",
        "linkedin",
        "threads",
        "whatsapp",
        "telegram",
        "bluesky",
        "mastodon",
        "other",
    )


@pytest.mark.parametrize("value", ["facebook", "x", "mastodon", "other"])
def test_parse_platform_accepts(value: str) -> None:
    assert parse_platform(value) == value


@pytest.mark.parametrize("value", ["", "Facebook", "twitter", "x ", "myspace"])
def test_parse_platform_refuses(value: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_platform(value)
    assert exc.value.extra["field"] == "platform"


@pytest.mark.parametrize(
    ("value", "ok"), [("oficial", True), ("personal", True), ("official", False), ("", False)]
)
def test_parse_kind(value: str, ok: bool) -> None:
    if ok:
        assert parse_kind(value) == value
    else:
        with pytest.raises(InvalidInput):
            parse_kind(value)


@pytest.mark.parametrize(
    ("level", "ok"), [(-1, False), (0, True), (2, True), (4, True), (5, False), (12, False)]
)
def test_hierarchy_level_quinta(level: int, ok: bool) -> None:
    if ok:
        check_hierarchy_level(level)
        validate_account(personal(hierarchy_level=level))
        return
    with pytest.raises(InvalidInput) as exc:
        validate_account(personal(hierarchy_level=level))
    assert "Quinta" in exc.value.detail
    assert exc.value.extra["field"] == "hierarchy_level"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"owner_name": None}, "owner_name"),
        ({"owner_name": "  "}, "owner_name"),
        ({"owner_cargo": None}, "owner_cargo"),
        ({"owner_cargo": ""}, "owner_cargo"),
        ({"hierarchy_level": None}, "hierarchy_level"),
    ],
)
def test_personal_needs_owner_fields(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        validate_account(personal(**overrides))
    assert exc.value.extra["field"] == field


def test_oficial_needs_no_owner_fields() -> None:
    validate_account(AccountProfile(kind="oficial", hierarchy_level=9))


@pytest.mark.parametrize(
    ("term_ends_on", "at", "ended"),
    [
        (None, NOW, False),
        (TODAY, NOW, False),  # the last day in office still counts
        (TODAY - timedelta(days=1), NOW, True),
        (TODAY + timedelta(days=1), NOW, False),
    ],
)
def test_term_ended(term_ends_on: date | None, at: datetime, ended: bool) -> None:
    assert term_ended(term_ends_on, at) is ended


def test_term_ended_in_local_time_zone() -> None:
    mexico = timezone(timedelta(hours=-6))
    at = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)  # still the 28th in Mexico City
    assert term_ended(date(2026, 11, 28), at) is True
    assert term_ended(date(2026, 11, 28), at, mexico) is False


@pytest.mark.parametrize(
    ("profile", "allowed", "numerals"),
    [
        (AccountProfile(kind="oficial"), True, None),
        (personal(managed_by_area=False), False, ["Segunda III"]),
        (personal(managed_by_area=True), True, None),
        (personal(managed_by_area=True, term_ends_on=TODAY), True, None),
        (
            personal(managed_by_area=True, term_ends_on=TODAY - timedelta(days=1)),
            False,
            ["Segunda III", "Décima novena"],
        ),
        (
            personal(managed_by_area=False, term_ends_on=TODAY + timedelta(days=30)),
            False,
            ["Segunda III"],
        ),
    ],
)
def test_custody(profile: AccountProfile, allowed: bool, numerals: list[str] | None) -> None:
    assert may_hold_credential(profile, NOW) is allowed
    if allowed:
        ensure_may_hold_credential(profile, NOW)
        return
    with pytest.raises(Conflict) as exc:
        ensure_may_hold_credential(profile, NOW)
    assert exc.value.status == 409
    assert exc.value.extra["numerals"] == numerals
    for numeral in numerals or []:
        assert numeral in exc.value.detail


@pytest.mark.parametrize(
    ("profile", "listed"),
    [
        (AccountProfile(kind="oficial", in_directory=True), True),
        (AccountProfile(kind="oficial", in_directory=False), False),
        (personal(in_directory=True, hierarchy_level=0), True),
        (personal(in_directory=True, hierarchy_level=4), True),
        (personal(in_directory=True, hierarchy_level=5), False),
        (personal(in_directory=True, hierarchy_level=None), False),
        (personal(in_directory=False, hierarchy_level=1), False),
        (personal(in_directory=True, term_ends_on=TODAY - timedelta(days=1)), False),
        (personal(in_directory=True, term_ends_on=TODAY), True),
    ],
)
def test_directory(profile: AccountProfile, listed: bool) -> None:
    assert appears_in_directory(profile, NOW) is listed
