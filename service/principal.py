"""Who is calling, and from where: passed from the HTTP layer into use cases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["admin", "auditor", "gestor"]
ROLES: tuple[Role, ...] = ("admin", "auditor", "gestor")


@dataclass(frozen=True)
class Principal:
    """An authenticated API token."""

    token_id: str
    name: str
    role: Role
    gestor_id: str | None = None

    @property
    def actor(self) -> str:
        """The audit trail's name for this caller: stable and unique."""
        return f"gestor:{self.gestor_id}" if self.gestor_id else f"token:{self.token_id}"


@dataclass(frozen=True)
class Caller:
    """A principal (or nobody, or the system) plus request facts for the audit trail.

    ``request_id`` is always the server's; an ``X-Request-ID`` the client chose
    is kept apart in ``client_request_id``, so no client can pick (or reuse) the
    id under which its events are filed.
    """

    principal: Principal | None
    request_id: str | None = None
    ip: str | None = None
    client_request_id: str | None = None

    @property
    def actor(self) -> str:
        return self.principal.actor if self.principal else "system"

    @property
    def role(self) -> str | None:
        return self.principal.role if self.principal else None


SYSTEM = Caller(principal=None)
