"""Account rules: kinds, platforms, rank limit (Quinta) and what may be held in custody."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Literal, get_args

from service.errors import Conflict, InvalidInput

Platform = Literal[
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
]
AccountKind = Literal["oficial", "personal"]

PLATFORMS: tuple[Platform, ...] = get_args(Platform)
ACCOUNT_KINDS: tuple[AccountKind, ...] = get_args(AccountKind)

# Quinta: the head of the body (level 0) and up to four levels below.
MIN_HIERARCHY_LEVEL = 0
MAX_HIERARCHY_LEVEL = 4


@dataclass(frozen=True, slots=True)
class AccountProfile:
    """The fields of an account that the policy rules look at."""

    kind: AccountKind
    owner_name: str | None = None
    owner_cargo: str | None = None
    hierarchy_level: int | None = None
    managed_by_area: bool = False
    term_ends_on: date | None = None
    in_directory: bool = False


def parse_platform(value: str) -> Platform:
    """Return ``value`` as a platform or raise InvalidInput naming the field."""
    for platform in PLATFORMS:
        if value == platform:
            return platform
    raise InvalidInput(f"platform must be one of: {', '.join(PLATFORMS)}", field="platform")


def parse_kind(value: str) -> AccountKind:
    """Return ``value`` as an account kind or raise InvalidInput naming the field."""
    for kind in ACCOUNT_KINDS:
        if value == kind:
            return kind
    raise InvalidInput("kind must be oficial or personal", field="kind")


def check_hierarchy_level(level: int) -> None:
    """Refuse a personal account below the fourth level (Quinta)."""
    if not MIN_HIERARCHY_LEVEL <= level <= MAX_HIERARCHY_LEVEL:
        raise InvalidInput(
            "hierarchy_level must be between 0 (head of the sujeto obligado) and 4: "
            "Quinta admits personal accounts only up to four levels below the head",
            field="hierarchy_level",
            numeral="Quinta",
        )


def validate_account(profile: AccountProfile) -> None:
    """Check the fields a personal account needs; official accounts ignore them."""
    if profile.kind != "personal":
        return
    for name in ("owner_name", "owner_cargo"):
        value = getattr(profile, name)
        if value is None or not value.strip():
            raise InvalidInput(f"{name} is required for a personal account", field=name)
    if profile.hierarchy_level is None:
        raise InvalidInput(
            "hierarchy_level is required for a personal account (Quinta)",
            field="hierarchy_level",
            numeral="Quinta",
        )
    check_hierarchy_level(profile.hierarchy_level)


def term_ended(term_ends_on: date | None, at: datetime, tz: tzinfo = UTC) -> bool:
    """True once the day after ``term_ends_on`` has begun in ``tz``; unknown end: False.

    ``term_ends_on`` is the servant's last day in office, so it is inclusive.
    """
    if term_ends_on is None:
        return False
    return at.astimezone(tz).date() > term_ends_on


def may_hold_credential(profile: AccountProfile, at: datetime, tz: tzinfo = UTC) -> bool:
    """Whether the body may keep this account's password (Segunda II–III, Décima novena)."""
    if profile.kind == "oficial":
        return True
    return profile.managed_by_area and not term_ended(profile.term_ends_on, at, tz)


def ensure_may_hold_credential(profile: AccountProfile, at: datetime, tz: tzinfo = UTC) -> None:
    """Raise Conflict citing the numerals when the password is not the body's to hold."""
    if may_hold_credential(profile, at, tz):
        return
    if not profile.managed_by_area:
        raise Conflict(
            "A personal account of a public servant that no área administers is not "
            "held in custody: its password belongs to the servant, not to the sujeto "
            "obligado (Segunda III)",
            numerals=["Segunda III"],
        )
    raise Conflict(
        "This personal account was treated as official only while its owner held "
        "office (Décima novena); the term has ended, so its password is the "
        "servant's again (Segunda III)",
        numerals=["Segunda III", "Décima novena"],
    )


def appears_in_directory(profile: AccountProfile, at: datetime, tz: tzinfo = UTC) -> bool:
    """Whether the public directory lists the account (Segunda IV, Quinta).

    A personal account needs the owner's consent (``in_directory``), a level the
    Quinta admits, and an owner still in office: the listing rests on the cargo.
    """
    if not profile.in_directory:
        return False
    if profile.kind == "oficial":
        return True
    level = profile.hierarchy_level
    if level is None or not MIN_HIERARCHY_LEVEL <= level <= MAX_HIERARCHY_LEVEL:
        return False
    return not term_ended(profile.term_ends_on, at, tz)
