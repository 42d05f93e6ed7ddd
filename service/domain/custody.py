"""Leaving custody (Décima novena): which credentials must be handed back, and what is left to do.

A personal account an área administers is held only while its owner is in
office; an account that stops being holdable (term over, no área, kind changed)
must not keep a credential in custody. The hand-back is recorded by a
``credential.handed_back`` event; the Vault copy is gone once a later
``credential.destroyed`` event with outcome ``ok`` says so. Until then the
destroy is owed and retried.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, Generic, Literal, TypeVar

from service.domain.accounts import AccountProfile, may_hold_credential

HANDED_BACK = "credential.handed_back"
DESTROYED = "credential.destroyed"
# Why the body held it (Décima novena) and why it is the servant's again (Segunda III).
NUMERALS = ("Segunda III", "Décima novena")

LeaveReason = Literal["term_ended", "not_managed_by_area"]
K = TypeVar("K")


def leave_reason(profile: AccountProfile, at: datetime, tz: tzinfo = UTC) -> LeaveReason | None:
    """Why the body may no longer hold this account's password at ``at``; None while it may."""
    if may_hold_credential(profile, at, tz):
        return None
    # A personal account nobody administers (or one whose área stopped) is the servant's.
    return "term_ended" if profile.managed_by_area else "not_managed_by_area"


def must_leave_custody(
    profile: AccountProfile, credential_version: int | None, at: datetime, tz: tzinfo = UTC
) -> bool:
    """A credential is in custody (a current version) and the body may no longer hold it."""
    return credential_version is not None and leave_reason(profile, at, tz) is not None


@dataclass(frozen=True, slots=True)
class Held(Generic[K]):
    """One account as the hand-back job sees it."""

    account_id: K
    profile: AccountProfile
    credential_version: int | None


def leaving_custody(accounts: Iterable[Held[K]], at: datetime, tz: tzinfo = UTC) -> list[K]:
    """The accounts whose credential must leave custody at ``at``, in the given order."""
    return [
        a.account_id
        for a in accounts
        if must_leave_custody(a.profile, a.credential_version, at, tz)
    ]


def left_without_credential(accounts: Iterable[Held[K]], at: datetime, tz: tzinfo = UTC) -> list[K]:
    """Accounts the body may no longer hold that have no credential in custody, in order.

    Nothing to hand back, but a rotation they owe could never be satisfied: it is
    withdrawn as a hand-back would withdraw it.
    """
    return [
        a.account_id
        for a in accounts
        if a.credential_version is None and leave_reason(a.profile, at, tz) is not None
    ]


@dataclass(frozen=True, slots=True)
class CustodyEvent:
    """The parts of a hand-back or destroy event the rules read."""

    seq: int
    action: str
    outcome: str
    ts: str = ""
    actor: str | None = None
    reason: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HandBack:
    """The latest hand-back of an account and, once done, the destroy that completed it."""

    handed_back: CustodyEvent
    destroyed: CustodyEvent | None

    @property
    def destroy_pending(self) -> bool:
        return self.destroyed is None


def latest_hand_back(events: Sequence[CustodyEvent]) -> HandBack | None:
    """The last hand-back among an account's events (any order) and its successful destroy.

    Failed destroys (outcome ``error``) leave it pending; a destroy before the
    hand-back belongs to an earlier one.
    """
    backs = [e for e in events if e.action == HANDED_BACK]
    if not backs:
        return None
    last = max(backs, key=lambda e: e.seq)
    done = [e for e in events if e.action == DESTROYED and e.outcome == "ok" and e.seq > last.seq]
    return HandBack(last, min(done, key=lambda e: e.seq) if done else None)
