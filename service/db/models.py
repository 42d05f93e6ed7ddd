"""SQLAlchemy models. The schema is created only by the Alembic migrations.

No column holds a secret: passwords, seeds, backup codes and token plaintexts
live in Vault or nowhere. Token rows keep only a SHA-256 of the token.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column

from service.domain.handles import handle_key

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Aware on every dialect: SQLite hands DateTime back naive, this type makes it UTC.
Timestamp = DateTimeUTC(timezone=True)
Id = String(36)
OPEN = text("closed_at IS NULL")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Gestor(Base):
    __tablename__ = "gestores"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    kind: Mapped[str] = mapped_column(String(20))
    cargo: Mapped[str | None] = mapped_column(String(200))
    provider: Mapped[str | None] = mapped_column(String(200))
    area: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    totp_state: Mapped[str] = mapped_column(String(10), default="none")
    totp_failures: Mapped[int] = mapped_column(Integer, default=0)
    # The gestor's latest TOTP seed in Vault (gestores/{id}/seeds/{totp_seed_id}): its
    # pending enrolment, or its active factor, as totp_state says; after a reset, the
    # seed left to destroy. None: the one path used before migration 0006.
    totp_seed_id: Mapped[str | None] = mapped_column(Id)
    locked_until: Mapped[datetime | None] = mapped_column(Timestamp)
    responsiva_version: Mapped[str | None] = mapped_column(String(40))
    responsiva_sha256: Mapped[str | None] = mapped_column(String(64))
    responsiva_accepted_at: Mapped[datetime | None] = mapped_column(Timestamp)
    departed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    departure_reason: Mapped[str | None] = mapped_column(String(500))
    departure_case_file: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(10))
    gestor_id: Mapped[str | None] = mapped_column(ForeignKey("gestores.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    created_by: Mapped[str | None] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp)


LIVE_ACCOUNT = text("retired_at IS NULL")


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        # One live account per handle and platform, across every service process.
        Index(
            "uq_accounts_live_handle",
            "platform",
            "handle_key",
            unique=True,
            sqlite_where=LIVE_ACCOUNT,
            postgresql_where=LIVE_ACCOUNT,
        ),
    )

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    handle: Mapped[str] = mapped_column(String(200))
    # service.domain.handles.handle_key of the handle: casefolding can triple a handle's
    # length. NULL only on a live duplicate that migration 0004 found and left unindexed.
    handle_key: Mapped[str | None] = mapped_column(String(600))
    url: Mapped[str] = mapped_column(String(2000))
    display_name: Mapped[str] = mapped_column(String(200))
    area: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    owner_name: Mapped[str | None] = mapped_column(String(200))
    owner_cargo: Mapped[str | None] = mapped_column(String(200))
    hierarchy_level: Mapped[int | None] = mapped_column(Integer)
    managed_by_area: Mapped[bool] = mapped_column(Boolean, default=False)
    term_ends_on: Mapped[date | None] = mapped_column(Date)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    in_directory: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)
    retired_at: Mapped[datetime | None] = mapped_column(Timestamp)
    # Non-secret facts about the current credential, kept so documents can be
    # produced while Vault is down; the masked forms are what documents show.
    credential_version: Mapped[int | None] = mapped_column(Integer)
    credential_created_time: Mapped[datetime | None] = mapped_column(Timestamp)
    two_factor_method: Mapped[str | None] = mapped_column(String(40))
    recovery_email_masked: Mapped[str | None] = mapped_column(String(254))
    recovery_phone_masked: Mapped[str | None] = mapped_column(String(40))
    # The credential versions that set the current backup codes and platform TOTP seed
    # (a later version may carry them over): who saw or wrote them since is exposed.
    backup_codes_version: Mapped[int | None] = mapped_column(Integer)
    totp_secret_version: Mapped[int | None] = mapped_column(Integer)


@event.listens_for(Account, "before_insert")
def _key_new_handle(mapper: Mapper[Account], connection: Connection, target: Account) -> None:
    """Every writer keys the handle, so the unique index holds whoever inserts."""
    target.handle_key = handle_key(target.platform, target.handle)


@event.listens_for(Account, "before_update")
def _rekey_changed_handle(mapper: Mapper[Account], connection: Connection, target: Account) -> None:
    """Re-key only a changed handle: a duplicate left unkeyed by 0004 can still be retired."""
    state = inspect(target)
    if any(state.attrs[name].history.has_changes() for name in ("platform", "handle")):
        target.handle_key = handle_key(target.platform, target.handle)


class CredentialVersion(Base):
    __tablename__ = "credential_versions"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_time: Mapped[datetime] = mapped_column(Timestamp)
    written_by: Mapped[str] = mapped_column(String(200))
    written_by_role: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(500))
    checkout_id: Mapped[str | None] = mapped_column(Id)
    is_rotation: Mapped[bool] = mapped_column(Boolean, default=False)


class Assignment(Base):
    __tablename__ = "assignments"
    __table_args__ = (
        Index(
            "uq_assignments_active",
            "account_id",
            "gestor_id",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    gestor_id: Mapped[str] = mapped_column(ForeignKey("gestores.id"), index=True)
    assigned_at: Mapped[datetime] = mapped_column(Timestamp)
    assigned_by: Mapped[str] = mapped_column(String(200))
    ended_at: Mapped[datetime | None] = mapped_column(Timestamp)
    ended_reason: Mapped[str | None] = mapped_column(String(40))


class Checkout(Base):
    __tablename__ = "checkouts"
    __table_args__ = (
        # Exclusivity lives here, so it holds across every service process.
        Index(
            "uq_checkouts_one_open_per_account",
            "account_id",
            unique=True,
            sqlite_where=OPEN,
            postgresql_where=OPEN,
        ),
    )

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    gestor_id: Mapped[str] = mapped_column(ForeignKey("gestores.id"), index=True)
    reason: Mapped[str] = mapped_column(String(500))
    granted_at: Mapped[datetime] = mapped_column(Timestamp)
    expires_at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    rotation_required: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    close_reason: Mapped[str | None] = mapped_column(String(40))
    credential_version: Mapped[int | None] = mapped_column(Integer)
    # Set when a check-in with a new credential starts, before Vault is written: a
    # second check-in of the same checkout is refused instead of writing on top.
    checkin_claimed_at: Mapped[datetime | None] = mapped_column(Timestamp)


class TotpUsedStep(Base):
    """One row per accepted (gestor, seed, time step): a code is good once.

    Keyed by the seed too, so a step used with a seed since reset says nothing
    about the new seed's codes. ``seed_id`` is '' for the seed kept before 0006.
    """

    __tablename__ = "totp_used_steps"

    gestor_id: Mapped[str] = mapped_column(ForeignKey("gestores.id"), primary_key=True)
    seed_id: Mapped[str] = mapped_column(Id, primary_key=True)
    step: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    used_at: Mapped[datetime] = mapped_column(Timestamp)


class AuditEvent(Base):
    """The hash chain. Triggers created by the migration forbid UPDATE and DELETE."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_actor_seq", "actor", "seq"),
        Index("ix_audit_events_account_seq", "account_id", "seq"),
        Index("ix_audit_events_action_seq", "action", "seq"),
        Index("ix_audit_events_ts", "ts"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str | None] = mapped_column(String(200))
    actor_role: Mapped[str | None] = mapped_column(String(10))
    action: Mapped[str] = mapped_column(String(60))
    outcome: Mapped[str] = mapped_column(String(10))
    account_id: Mapped[str | None] = mapped_column(Id)
    subject: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(String(500))
    request_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    # Text, not JSON: the bytes hashed must be the bytes stored.
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditCheckpoint(Base):
    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    ts: Mapped[str] = mapped_column(String(32))
    signature: Mapped[str] = mapped_column(String(200))
    key_version: Mapped[int] = mapped_column(Integer)


# Still owed: neither satisfied by a rotation nor withdrawn when the account left custody.
OPEN_OBLIGATION = "satisfied_at IS NULL AND withdrawn_at IS NULL"
REQUIRES_PASSWORD = text("'[\"password\"]'")


class RotationObligation(Base):
    __tablename__ = "rotation_obligations"
    __table_args__ = (
        Index(
            "uq_rotation_obligations_one_open",
            "account_id",
            unique=True,
            sqlite_where=text(OPEN_OBLIGATION),
            postgresql_where=text(OPEN_OBLIGATION),
        ),
    )

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    reason: Mapped[str] = mapped_column(String(20))
    triggered_by: Mapped[str] = mapped_column(String(200))
    triggered_at: Mapped[datetime] = mapped_column(Timestamp)
    due_at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    origins: Mapped[list[Any]] = mapped_column(JSON)
    satisfied_at: Mapped[datetime | None] = mapped_column(Timestamp)
    satisfied_by_version: Mapped[int | None] = mapped_column(Integer)
    satisfied_by: Mapped[str | None] = mapped_column(String(200))
    overdue_notified_at: Mapped[datetime | None] = mapped_column(Timestamp)
    withdrawn_at: Mapped[datetime | None] = mapped_column(Timestamp)
    withdrawn_reason: Mapped[str | None] = mapped_column(String(20))
    # The secrets the satisfying version must replace (service.domain.exposure).
    requires: Mapped[list[Any]] = mapped_column(
        JSON, default=lambda: ["password"], server_default=REQUIRES_PASSWORD
    )


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    type: Mapped[str] = mapped_column(String(30))
    account_ids: Mapped[list[Any]] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(Text)
    detected_at: Mapped[datetime] = mapped_column(Timestamp)
    reported_by: Mapped[str] = mapped_column(String(200))
    reported_by_role: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class Handover(Base):
    __tablename__ = "handovers"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    folio: Mapped[str] = mapped_column(String(40), unique=True)
    area: Mapped[str] = mapped_column(String(200))
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    annex: Mapped[list[Any]] = mapped_column(JSON)
    annex_sha256: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(Timestamp)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    created_by: Mapped[str] = mapped_column(String(200))
    closed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    closing_head_seq: Mapped[int | None] = mapped_column(BigInteger)
    closing_head_hash: Mapped[str | None] = mapped_column(String(64))
    closed_sha256: Mapped[str | None] = mapped_column(String(64))


class WebhookEvent(Base):
    """Outbox: events wait here until every configured receiver has them."""

    __tablename__ = "webhook_events"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class WebhookDelivery(Base):
    """One receiver's copy of an event: retried with backoff until delivered or given up."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("uq_webhook_deliveries_event_url", "event_id", "url", unique=True),)

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("webhook_events.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    state: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(Timestamp, index=True)


class WebhookAttempt(Base):
    """Each delivery attempt: outcome and status code only, never the body."""

    __tablename__ = "webhook_attempts"

    id: Mapped[str] = mapped_column(Id, primary_key=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(20))
    status_code: Mapped[int | None] = mapped_column(Integer)
    attempted_at: Mapped[datetime] = mapped_column(Timestamp)


class Throttle(Base):
    """Refusals of one token or client address in one fixed window (service.throttling).

    ``key`` is a SHA-256, never a token or its lookup digest. The primary key leads
    with the window, so the cleanup of old windows is a range scan.
    """

    __tablename__ = "throttles"

    window_start: Mapped[datetime] = mapped_column(Timestamp, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    refusals: Mapped[int] = mapped_column(Integer)
    # Set by the first throttled request of the window, which records the summary event.
    summarised: Mapped[bool] = mapped_column(Boolean, default=False)
