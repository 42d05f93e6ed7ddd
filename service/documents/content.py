"""What each document says, as frozen dataclasses the service fills from live data.

None of these classes has a field for a password, TOTP seed, backup code or token:
a document cannot leak what it was never given. Recovery channels arrive masked (by
``service.domain.masking``) and are checked to be so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from service.domain.rotation import DeadlinePolicy

GestorKind = Literal["servidor_publico", "externo"]
AccountKind = Literal["oficial", "personal"]
MASK = "•"  # what service.domain.masking puts in every masked channel


def _require_aware(name: str, value: datetime | None) -> None:
    # Actas state times with their UTC offset; a naive datetime has none to state.
    if value is not None and value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")


def _require_masked(channels: tuple[str, ...]) -> None:
    for channel in channels:
        if MASK not in channel:
            raise ValueError("recovery channels must be masked (service.domain.masking)")


@dataclass(frozen=True)
class Gestor:
    """A person with access: a public servant with a cargo, or an external provider."""

    name: str
    kind: GestorKind
    cargo: str = ""
    provider: str = ""


@dataclass(frozen=True)
class Holder(Gestor):
    """A gestor or admin holding access, with the time the responsiva was accepted."""

    responsiva_accepted_at: datetime | None = None

    def __post_init__(self) -> None:
        _require_aware("responsiva_accepted_at", self.responsiva_accepted_at)


@dataclass(frozen=True)
class Obligation:
    """An open rotation obligation; overdue is judged against the document's time."""

    id: str
    platform: str
    handle: str
    reason: str
    triggered_at: datetime
    due_at: datetime

    def __post_init__(self) -> None:
        _require_aware("triggered_at", self.triggered_at)
        _require_aware("due_at", self.due_at)

    def overdue_at(self, when: datetime) -> bool:
        return self.due_at < when


@dataclass(frozen=True)
class AuditHead:
    """The last event of the audit chain when the document was made."""

    seq: int
    hash: str


@dataclass(frozen=True)
class Contact:
    """One rung of the escalation ladder, in the order it is called."""

    role: str
    name: str
    reach: str
    escalate_after_minutes: int | None = None


@dataclass(frozen=True)
class CustodyAccount:
    """An account in custody as the security protocol lists it."""

    platform: str
    handle: str
    url: str
    area: str
    kind: AccountKind
    verified: bool
    two_factor_method: str
    recovery_channels: tuple[str, ...] = ()
    holders: tuple[Holder, ...] = ()

    def __post_init__(self) -> None:
        _require_masked(self.recovery_channels)


@dataclass(frozen=True)
class SecurityProtocol:
    """Protocolo de seguridad (Décima quinta) built from the state of custody."""

    sujeto_obligado: str
    siglas: str
    areas: tuple[str, ...]
    accounts: tuple[CustodyAccount, ...]
    policy: DeadlinePolicy
    obligations: tuple[Obligation, ...]
    contacts: tuple[Contact, ...]
    version: int
    generated_at: datetime
    audit_head: AuditHead

    def __post_init__(self) -> None:
        _require_aware("generated_at", self.generated_at)


@dataclass(frozen=True)
class Party:
    """A signer of the acta: name and cargo."""

    name: str
    cargo: str


@dataclass(frozen=True, kw_only=True)
class OicRepresentative(Party):
    """The internal-control representative and the oficio that appoints them."""

    oficio: str


@dataclass(frozen=True)
class AnnexRow:
    """One account in the inventory annex of an entrega-recepción."""

    platform: str
    handle: str
    url: str
    kind: AccountKind
    verified: bool
    recovery_channels: tuple[str, ...]
    two_factor_method: str
    two_factor_holder: str
    credential_version: int | None
    credential_created_at: datetime | None
    last_rotation_at: datetime | None
    last_rotation_reason: str | None
    gestores: tuple[Gestor, ...]
    outgoing_last_retrieval: datetime | None
    checkouts_in_period: int
    open_obligations: tuple[Obligation, ...] = ()

    def __post_init__(self) -> None:
        _require_masked(self.recovery_channels)
        if any(type(g) is not Gestor for g in self.gestores):
            # A Holder would add its responsiva date to the frozen, hashed annex.
            raise ValueError("annex gestores must be plain Gestor values")
        for name in ("credential_created_at", "last_rotation_at", "outgoing_last_retrieval"):
            _require_aware(name, getattr(self, name))


@dataclass(frozen=True)
class HandoverActa:
    """Acta de entrega-recepción (Décima sexta); ``ended_at`` is None until closed."""

    folio: str
    sujeto_obligado: str
    area: str
    place: str
    started_at: datetime
    ended_at: datetime | None
    reason: str
    outgoing: Party
    incoming: Party
    incoming_identity: str
    oic_representative: OicRepresentative
    witnesses: tuple[Party, ...]
    annex: tuple[AnnexRow, ...]
    audit_head: AuditHead | None
    pending: tuple[Obligation, ...] = ()

    def __post_init__(self) -> None:
        _require_aware("started_at", self.started_at)
        _require_aware("ended_at", self.ended_at)
        if len(self.witnesses) < 2:
            raise ValueError("an acta needs at least two witnesses")

    @property
    def signatories(self) -> tuple[tuple[str, Party], ...]:
        """Every party who signs each page, with the role printed under the line."""
        fixed = (
            ("Entrega", self.outgoing),
            ("Recibe", self.incoming),
            ("Órgano interno de control", self.oic_representative),
        )
        return fixed + tuple((f"Testigo {i}", w) for i, w in enumerate(self.witnesses, 1))


@dataclass(frozen=True)
class DirectoryRow:
    """One public row of the directorio (Octava–Décima segunda)."""

    sujeto_obligado: str
    area: str
    platform: str
    kind: AccountKind
    account_name: str
    url: str
    verified: bool
    updated_at: date
    gestores: tuple[Gestor, ...] = ()


def to_jsonable(obj: Any) -> Any:
    """Like ``dataclasses.asdict`` but with ISO 8601 dates and lists for tuples."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    if isinstance(obj, tuple | list):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    return obj
