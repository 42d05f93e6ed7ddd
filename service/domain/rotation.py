"""Rotation obligations (Décima quinta): deadlines, merging, evidence, departures, max age."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, get_args

from service.domain.exposure import PASSWORD_ONLY, Secret

if TYPE_CHECKING:
    from service.settings import Settings

RotationReason = Literal[
    "gestor_departure", "gestor_unassigned", "incident", "max_age", "handover", "manual"
]
RotationStatus = Literal["open", "overdue", "satisfied", "withdrawn"]
# Why an obligation ended without a rotation: the account left custody (Décima novena).
WithdrawReason = Literal["left_custody"]
OriginType = Literal["gestor", "incident", "handover", "manual", "scan"]
RotatedSince = Literal["access_began", "access_ended"]
# {"type": OriginType, "id": ..., "reason": ...}; plain JSON so it can be stored as is.
Origin = dict[str, Any]

ROTATION_REASONS: tuple[RotationReason, ...] = get_args(RotationReason)
ROTATION_STATUSES: tuple[RotationStatus, ...] = get_args(RotationStatus)

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class DeadlinePolicy:
    """Hours to rotate per reason; max age is days of life plus days of grace."""

    departure_hours: int = 24
    unassigned_hours: int = 24
    handover_hours: int = 24
    incident_hours: int = 1
    manual_hours: int = 24
    max_age_days: int = 90
    max_age_grace_days: int = 7

    @classmethod
    def from_settings(cls, settings: Settings) -> DeadlinePolicy:
        """The policy configured by ``CUSTODIA_ROTATION_*``."""
        return cls(
            departure_hours=settings.rotation_due_hours_departure,
            unassigned_hours=settings.rotation_due_hours_unassigned,
            handover_hours=settings.rotation_due_hours_handover,
            incident_hours=settings.rotation_due_hours_incident,
            manual_hours=settings.rotation_due_hours_manual,
            max_age_days=settings.rotation_max_age_days,
            max_age_grace_days=settings.rotation_max_age_grace_days,
        )

    def time_to_rotate(self, reason: RotationReason) -> timedelta:
        """How long after the trigger the new password is due."""
        hours = {
            "gestor_departure": self.departure_hours,
            "gestor_unassigned": self.unassigned_hours,
            "handover": self.handover_hours,
            "incident": self.incident_hours,
            "manual": self.manual_hours,
        }
        if reason == "max_age":
            return timedelta(days=self.max_age_grace_days)
        return timedelta(hours=hours[reason])


def due_at(reason: RotationReason, triggered_at: datetime, policy: DeadlinePolicy) -> datetime:
    """Deadline of a trigger; for max_age, ``triggered_at`` is when the age was reached."""
    return triggered_at + policy.time_to_rotate(reason)


def make_origin(type_: OriginType, id_: Any, reason: str) -> Origin:
    """An origin record: the gestor, incident, handover, admin or scan that caused it."""
    return {"type": type_, "id": id_, "reason": reason}


@dataclass(frozen=True, slots=True)
class ObligationTerms:
    """The rule-bearing part of an open obligation; ids and actors stay with the caller."""

    reason: RotationReason
    triggered_at: datetime
    due_at: datetime
    origins: tuple[Origin, ...]
    # What the satisfying version must replace (service.domain.exposure).
    requires: frozenset[Secret] = PASSWORD_ONLY


def new_obligation(
    reason: RotationReason,
    triggered_at: datetime,
    origin: Origin,
    policy: DeadlinePolicy,
    requires: frozenset[Secret] = PASSWORD_ONLY,
) -> ObligationTerms:
    """Terms of a fresh obligation."""
    due = due_at(reason, triggered_at, policy)
    return ObligationTerms(reason, triggered_at, due, (origin,), requires)


def merge_trigger(
    existing: ObligationTerms,
    reason: RotationReason,
    triggered_at: datetime,
    origin: Origin,
    policy: DeadlinePolicy,
    requires: frozenset[Secret] = PASSWORD_ONLY,
) -> ObligationTerms:
    """Fold a new trigger into the account's open obligation.

    The earliest deadline wins, the requirements add up, and the origin is
    appended (once: repeating a trigger, as an idempotent departure does,
    changes nothing). ``reason`` and ``triggered_at`` stay those of the first
    trigger; the origins tell the rest.
    """
    due = min(existing.due_at, due_at(reason, triggered_at, policy))
    origins = existing.origins if origin in existing.origins else (*existing.origins, origin)
    return replace(existing, due_at=due, origins=origins, requires=existing.requires | requires)


def obligation_status(
    due: datetime,
    satisfied_at: datetime | None,
    now: datetime,
    withdrawn_at: datetime | None = None,
) -> RotationStatus:
    """Derived, never stored: satisfied, withdrawn, overdue once past ``due``, else open."""
    if satisfied_at is not None:
        return "satisfied"
    if withdrawn_at is not None:
        return "withdrawn"
    return "overdue" if now > due else "open"


def names_gestor(origins: Iterable[Origin], gestor_id: str | None) -> bool:
    """Whether any origin is that gestor (their departure or unassignment)."""
    if gestor_id is None:
        return False
    return any(o.get("type") == "gestor" and o.get("id") == gestor_id for o in origins)


def counts_as_rotation(password_differs: bool, *, access_ended_during_write: bool) -> bool:
    """Whether a recorded version is rotation evidence at all.

    A version written through a checkout that was closed (unassignment,
    departure, incident, expiry) before the version was recorded is kept in the
    history, but its writer's access had ended: it proves no rotation.
    """
    return password_differs and not access_ended_during_write


def is_satisfied_by(
    obligation_triggered_at: datetime,
    version_created_time: datetime,
    password_differs: bool,
    written_through_service: bool,
    *,
    origins: Iterable[Origin] = (),
    writer_gestor_id: str | None = None,
    access_ended_during_write: bool = False,
    requires: frozenset[Secret] = PASSWORD_ONLY,
    replaced: frozenset[str] = frozenset(),
) -> bool:
    """Evidence rule: a service-written version, created after the trigger, new secrets.

    The version must replace every secret the obligation ``requires``: the
    password when ``password_differs`` (compared with the version current at
    ``triggered_at``), and whatever else its writer ``replaced``.
    ``version_created_time`` is Vault's KV v2 metadata, not the service's clock.
    A version chosen by a gestor the obligation names (their departure or
    unassignment) never satisfies it: the leaver would know the password meant
    to lock them out. Nor does one whose checkout ended while it was written.
    """
    done = replaced | ({"password"} if password_differs else frozenset())
    return (
        written_through_service
        and not access_ended_during_write
        and (requires or PASSWORD_ONLY) <= done
        and version_created_time > obligation_triggered_at
        and not names_gestor(origins, writer_gestor_id)
    )


@dataclass(frozen=True, slots=True)
class Assignment(Generic[K]):
    """One period during which the gestor was assigned to an account."""

    account_id: K
    assigned_at: datetime
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Retrieval(Generic[K]):
    """One checkout in which the gestor received the account's password."""

    account_id: K
    at: datetime


@dataclass(frozen=True, slots=True)
class CaseFileEntry(Generic[K]):
    """One account of a departure case file."""

    account_id: K
    access_began: datetime
    access_ended: datetime
    last_rotation: datetime | None
    needs_obligation: bool
    retrievals_since_rotation: tuple[datetime, ...]

    @property
    def retrieved_since_rotation(self) -> bool:
        return bool(self.retrievals_since_rotation)

    @property
    def last_retrieved_at(self) -> datetime | None:
        return self.retrievals_since_rotation[-1] if self.retrievals_since_rotation else None


def departure_case_file(
    assignments: Iterable[Assignment[K]],
    last_rotations: Mapping[K, datetime | None],
    retrievals: Iterable[Retrieval[K]],
    departed_at: datetime,
    *,
    rotated_since: RotatedSince = "access_began",
) -> list[CaseFileEntry[K]]:
    """Every account the gestor was ever assigned to, in order of first access.

    Per account, access began at the first assignment and ended at the last
    assignment's end (``departed_at`` for one still active). By default, as
    issue 5 words it, an obligation is needed unless a rotation (a version
    created strictly after) happened since access *began*. That leaves a gap:
    a gestor who rotated or retrieved after that still knows the password.
    ``rotated_since="access_ended"`` closes it by counting only rotations after
    access ended. ``last_rotations`` maps account to the created_time of its
    latest rotation (a missing key means never rotated).
    """
    began: dict[K, datetime] = {}
    ended: dict[K, datetime] = {}
    for a in assignments:
        end = departed_at if a.ended_at is None else min(a.ended_at, departed_at)
        began[a.account_id] = min(began.get(a.account_id, a.assigned_at), a.assigned_at)
        ended[a.account_id] = max(ended.get(a.account_id, end), end)
    seen: dict[K, list[datetime]] = {account: [] for account in began}
    for r in retrievals:
        if r.account_id not in seen:
            continue
        rotated = last_rotations.get(r.account_id)
        if rotated is None or r.at > rotated:
            seen[r.account_id].append(r.at)
    entries: list[CaseFileEntry[K]] = []
    for account in sorted(began, key=lambda acc: began[acc]):
        rotated = last_rotations.get(account)
        since = began[account] if rotated_since == "access_began" else ended[account]
        entries.append(
            CaseFileEntry(
                account_id=account,
                access_began=began[account],
                access_ended=ended[account],
                last_rotation=rotated,
                needs_obligation=rotated is None or rotated <= since,
                retrievals_since_rotation=tuple(sorted(seen[account])),
            )
        )
    return entries


@dataclass(frozen=True, slots=True)
class CredentialAge(Generic[K]):
    """An account's current credential age and whether it already owes a rotation."""

    account_id: K
    created_time: datetime | None
    has_open_obligation: bool


@dataclass(frozen=True, slots=True)
class MaxAgeFinding(Generic[K]):
    """An account whose credential outlived the maximum age; ``reached_at`` is the trigger."""

    account_id: K
    credential_created_time: datetime
    reached_at: datetime
    due_at: datetime


def max_age_scan(
    accounts: Iterable[CredentialAge[K]], now: datetime, policy: DeadlinePolicy
) -> list[MaxAgeFinding[K]]:
    """Accounts needing a max_age obligation; one that already owes a rotation gets nothing.

    That exclusion makes the scan idempotent: the first run's obligations are
    open on the second. No credential yet means no age.
    """
    max_age = timedelta(days=policy.max_age_days)
    findings: list[MaxAgeFinding[K]] = []
    for acc in accounts:
        if acc.has_open_obligation or acc.created_time is None:
            continue
        reached = acc.created_time + max_age
        if now > reached:
            findings.append(
                MaxAgeFinding(
                    account_id=acc.account_id,
                    credential_created_time=acc.created_time,
                    reached_at=reached,
                    due_at=due_at("max_age", reached, policy),
                )
            )
    return findings
