"""Domain events: what one feature tells the others, inside the same unit of work.

Plain frozen dataclasses. A feature publishes them (``await uow.publish(...)``)
and service.bus says which handlers react; a handler may answer with one of
the results below, which the publisher reads back from ``publish``'s list.
No feature imports another's use cases: they meet here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from service.domain.exposure import PASSWORD_ONLY, Secret
from service.domain.rotation import WithdrawReason
from service.domain.triggers import Trigger

# -- events -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RotationTriggered:
    """A cause of a new password for one account (Décima quinta): open or merge its obligation."""

    account_id: str
    trigger: Trigger


@dataclass(frozen=True, slots=True)
class CredentialWritten:
    """A new credential version was recorded; it may be the evidence an obligation waits for.

    ``password_changed`` compares against the version current before this write;
    ``writer_gestor_id`` is the gestor who chose it (None for an admin or the system);
    ``access_ended_during_write``: the checkout it came through closed before it was recorded.
    ``replaced``: the secret fields ("password", "backup_codes", "totp_secret", ...) this
    version set to new values, neither carried over from the previous version nor
    removed; a writer that lists none replaced the password when ``password_changed``.
    """

    account_id: str
    version: int
    created_time: datetime
    password_changed: bool
    writer_gestor_id: str | None = None
    access_ended_during_write: bool = False
    replaced: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class CredentialLeftCustody:
    """The body no longer holds the account's password (Décima novena): nothing is owed."""

    account_id: str
    reason: WithdrawReason = "left_custody"


@dataclass(frozen=True, slots=True)
class AccessEnded:
    """Access ends at once: every open checkout of the gestor, or of the accounts, closes."""

    close_reason: str
    gestor_id: str | None = None
    account_ids: tuple[str, ...] | None = None
    # A checkout of those accounts already past its expiry ended then: it closes as
    # expired (at its expiry) before the others close for this reason.
    expired_first: bool = False


@dataclass(frozen=True, slots=True)
class CheckoutAsked:
    """Credentials asks checkouts about one checkout (by id, locked), or a gestor's live one.

    Either ``checkout_id`` (the row is locked: its closing waits for this transaction),
    or ``account_id`` with ``gestor_id`` (their open, unexpired checkout of the account).
    Checkouts answers a CheckoutFacts, or nothing when there is no such checkout.
    """

    checkout_id: str | None = None
    account_id: str | None = None
    gestor_id: str | None = None
    lock: bool = False


# -- results handlers answer with --------------------------------------------------


@dataclass(frozen=True, slots=True)
class ObligationRef:
    """A rotation obligation as other features see it."""

    id: str
    account_id: str
    reason: str
    due_at: datetime
    # What the satisfying version must replace, and what the trigger answered asked for.
    requires: frozenset[Secret] = PASSWORD_ONLY
    trigger_requires: frozenset[Secret] = PASSWORD_ONLY


@dataclass(frozen=True, slots=True)
class ObligationSatisfied:
    """The obligation a new version satisfied."""

    obligation: ObligationRef
    version: int


@dataclass(frozen=True, slots=True)
class ObligationWithdrawn:
    obligation: ObligationRef


@dataclass(frozen=True, slots=True)
class CheckoutFacts:
    """What credentials may know of a checkout: whose it is and whether, when and why it closed."""

    id: str
    gestor_id: str
    closed_at: datetime | None
    close_reason: str | None


@dataclass(frozen=True, slots=True)
class CheckoutsClosed:
    """The checkouts an AccessEnded closed, oldest first."""

    ids: tuple[str, ...]
