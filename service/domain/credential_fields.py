"""Which fields a credential version holds, and what a new version keeps, adds or drops.

Names only, never values. The service writes credentials but never reads them
back, so what a version holds is known from the audit trail: the fields its
``credential.written`` event names, or (for a recovered version) its write
intent. A version written outside the service has no such record; then the
account's facts (two-factor method, masked recovery channels) show part of it,
and the list is marked incomplete: the version may hold more (backup codes,
notes) than the service can name.

Nothing is lost: a merge (PATCH, check-in) carries over every field the
request does not name; a full replacement (PUT) that would drop a field the
current version holds is refused unless a removal names it with a reason.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from service.domain.write_intents import INTENT, RECOVERED, WRITTEN, CredentialEvent
from service.errors import InvalidInput

REQUIRED = frozenset({"username", "password"})
# Every field a request may leave out; dropping one without a removal loses data.
REMOVABLE = ("totp_secret", "backup_codes", "recovery_email", "recovery_phone", "notes")
# In an event's details: its field list names what the service knows, the version may hold more.
INCOMPLETE = "fields_incomplete"


@dataclass(frozen=True, slots=True)
class Removal:
    """A field the caller asks to drop from the credential, and why (audited, no value)."""

    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class Known:
    """The fields of the current version as far as the service knows them."""

    fields: frozenset[str]
    complete: bool


@dataclass(frozen=True, slots=True)
class NewFields:
    """The fields of the version about to be written, and how they come from the current one."""

    fields: frozenset[str]
    complete: bool
    carried_over: frozenset[str]
    removed: tuple[Removal, ...]

    def intent_details(self) -> dict[str, Any]:
        """What the write intent adds to its field list (nothing for a plain write)."""
        out: dict[str, Any] = {}
        if self.removed:
            out["removed"] = [{"field": r.field, "reason": r.reason} for r in self.removed]
        if not self.complete:
            out[INCOMPLETE] = True
        return out

    def written_details(self) -> dict[str, Any]:
        """What the ``credential.written`` event adds: carried-over fields, removals."""
        carried = {"carried_over": sorted(self.carried_over)} if self.carried_over else {}
        return {**carried, **self.intent_details()}


NO_VERSION = Known(frozenset(), complete=True)


def version_fields(events: Sequence[CredentialEvent], version: int) -> frozenset[str] | None:
    """The fields of ``version`` named by the latest event that recorded it; None when unknown.

    The latest: version numbers restart after a hand-back destroyed the
    secret, and a recovered version recorded before its writer's own record
    is replaced by it.
    """
    recorded = [e for e in events if e.action in (WRITTEN, RECOVERED) and e.version == version]
    if not recorded:
        return None
    last = max(recorded, key=lambda e: e.seq)
    if last.action == RECOVERED:
        seq = last.details.get("intent_seq")
        intent = next((e for e in events if e.action == INTENT and e.seq == seq), None)
        return None if intent is None else _listed(intent.details)
    return _listed(last.details)


def _listed(details: Mapping[str, Any]) -> frozenset[str] | None:
    fields = details.get("fields")
    if not isinstance(fields, list) or details.get(INCOMPLETE):
        return None
    return frozenset(str(f) for f in fields)


def shown_by_facts(
    two_factor_method: str | None, email_masked: str | None, phone_masked: str | None
) -> Known:
    """What the account's facts show of its current version; backup codes and notes never show."""
    shown = set(REQUIRED)
    if two_factor_method == "totp":
        shown.add("totp_secret")
    if email_masked is not None:
        shown.add("recovery_email")
    if phone_masked is not None:
        shown.add("recovery_phone")
    return Known(frozenset(shown), complete=False)


def check_removals(named: Collection[str], removals: Sequence[Removal]) -> None:
    """Each removal names a removable field once, is not also sent, and says why."""
    seen: set[str] = set()
    for removal in removals:
        field = removal.field
        if field not in REMOVABLE:
            raise InvalidInput(f"{field} cannot be removed", field="remove")
        if field in seen:
            raise InvalidInput(f"remove names {field} more than once", field="remove")
        if field in named:
            raise InvalidInput(f"{field} is both sent and removed", field="remove")
        if not removal.reason.strip():
            raise InvalidInput(f"the removal of {field} needs a reason", field="remove")
        seen.add(field)


def merged(current: Known, named: Collection[str], removals: Sequence[Removal]) -> NewFields:
    """A merge: the named fields, plus every current field neither named nor removed."""
    _check_present(current, removals)
    removed = {r.field for r in removals}
    carried = current.fields - set(named) - removed
    return NewFields(frozenset(named) | carried, current.complete, carried, tuple(removals))


def replaced(current: Known, named: Collection[str], removals: Sequence[Removal]) -> NewFields:
    """A full replacement: exactly the named fields; refused if it would drop one unasked."""
    _check_present(current, removals)
    removed = {r.field for r in removals}
    dropped = sorted(current.fields.intersection(REMOVABLE) - set(named) - removed)
    if dropped:
        raise InvalidInput(
            f"This full replacement would drop {', '.join(dropped)} from the current version: "
            "send them again, name each in remove with a reason, or use PATCH to keep them",
            field="remove",
            fields=dropped,
        )
    return NewFields(frozenset(named), True, frozenset(), tuple(removals))


def _check_present(current: Known, removals: Sequence[Removal]) -> None:
    """A removal of a field the current version is known not to hold is a mistake."""
    absent = sorted(r.field for r in removals if r.field not in current.fields)
    if absent and current.complete:
        raise InvalidInput(
            f"The current version has no {', '.join(absent)}; there is nothing to remove",
            field="remove",
            fields=absent,
        )
