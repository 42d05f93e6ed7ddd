"""What each cause of a rotation obligation (Décima quinta) records: reason, origin, moment."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from service.domain.exposure import PASSWORD_ONLY, Exposure, Secret, leaver_requires
from service.domain.rotation import Origin, RotationReason, make_origin


@dataclass(frozen=True, slots=True)
class Trigger:
    """One cause of an obligation; ``triggered_at`` None means now, ``note`` is the audit reason.

    ``requires``: what the satisfying version must replace because of this cause.
    """

    reason: RotationReason
    origin: Origin
    triggered_at: datetime | None = None
    note: str | None = None
    requires: frozenset[Secret] = PASSWORD_ONLY

    @classmethod
    def gestor_unassigned(cls, gestor_id: str) -> Trigger:
        """A gestor stopped being gestor of this account: its password must change."""
        return cls("gestor_unassigned", make_origin("gestor", gestor_id, "gestor_unassigned"))

    @classmethod
    def gestor_departed(
        cls, gestor_id: str, effective_at: datetime, *, knows_password: bool = True
    ) -> Trigger:
        """An account of a departed gestor; ``knows_password``: not rotated since access ended.

        One whose password they no longer know may still owe new backup codes or
        a new seed (``leaver_exposed``); with neither, it owes nothing.
        """
        origin = make_origin("gestor", gestor_id, "gestor_departure")
        requires = PASSWORD_ONLY if knows_password else frozenset()
        return cls("gestor_departure", origin, triggered_at=effective_at, requires=requires)

    @classmethod
    def incident_reported(cls, incident_id: str, incident_type: str) -> Trigger:
        """Security protocol: an urgent obligation for an affected account."""
        return cls("incident", make_origin("incident", incident_id, incident_type))

    @classmethod
    def max_age_reached(cls, credential_version: int | None, reached_at: datetime) -> Trigger:
        """The credential outlived the maximum age; due a grace period after ``reached_at``."""
        origin = make_origin("scan", credential_version, "max_age")
        return cls("max_age", origin, triggered_at=reached_at)

    @classmethod
    def handover(cls, handover_id: str) -> Trigger:
        """Entrega-recepción (Décima sexta): the incoming official gets a fresh password."""
        return cls("handover", make_origin("handover", handover_id, "handover"))

    @classmethod
    def manual(cls, actor: str, reason: str) -> Trigger:
        """An admin opens an obligation, saying why."""
        return cls("manual", make_origin("manual", actor, reason), note=reason)


def leaver(trigger: Trigger) -> str | None:
    """The gestor whose leaving the trigger is (departure or unassignment); else None."""
    origin = trigger.origin
    return str(origin["id"]) if origin.get("type") == "gestor" else None


def leaver_exposed(trigger: Trigger, exposure: Exposure) -> Trigger:
    """The leaver's trigger, requiring also what they saw or wrote (DOMAIN.md rule 4).

    The origin records what this leaver requires when it is more than (or other
    than) the password; an origin without ``requires`` stands for the password.
    """
    requires = leaver_requires(trigger.requires, exposure)
    origin = dict(trigger.origin)
    if requires != PASSWORD_ONLY:
        origin["requires"] = sorted(requires)
    return replace(trigger, requires=requires, origin=origin)


def origin_requires(origin: Origin) -> list[str]:
    """What one origin asked the satisfying version to replace."""
    return list(origin.get("requires") or sorted(PASSWORD_ONLY))


def may_open_obligation(*, handed_back: bool, may_hold: bool) -> bool:
    """Whether any trigger may open (or merge into) an obligation for the account.

    Only while the body may hold the account's password now (``may_hold``:
    Segunda II–III, Décima novena) and never once its credential was handed
    back: otherwise no new version can be written for that account record, so
    the obligation could never be satisfied; the owner answers for the password.
    Every cause is alike here (tests/unit/domain/test_triggers.py checks each).
    """
    return may_hold and not handed_back
