"""Domain errors. Each carries what the HTTP layer needs to build a problem detail.

Messages are written for the caller and must never contain a secret.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error the service raises on purpose."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidInput(DomainError):
    status = 422
    title = "Invalid input"


class BadQuery(DomainError):
    status = 400
    title = "Invalid query parameter"


class Unauthenticated(DomainError):
    status = 401
    title = "Authentication required"


class InvalidTotp(DomainError):
    status = 401
    title = "Invalid TOTP code"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"


class NotFound(DomainError):
    status = 404
    title = "Not found"


class Conflict(DomainError):
    status = 409
    title = "Conflict"


class Locked(DomainError):
    status = 423
    title = "Locked"

    def __init__(self, detail: str, retry_after: int, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after = retry_after


class VaultUnavailable(DomainError):
    """Vault is sealed, unreachable or answered with a server error."""

    status = 503
    title = "Vault unavailable"


class VaultMisconfigured(VaultUnavailable):
    """Vault lacks a mount or key the service relies on, or rejected a request as invalid."""

    # A VaultUnavailable, so every caller that tolerates Vault being away tolerates this too.

    title = "Vault is not set up for this service"


class VaultConflict(DomainError):
    """A check-and-set write lost the race against another writer."""

    status = 409
    title = "Concurrent credential write"


class VaultDenied(DomainError):
    """Vault refused the service's own token: a deployment problem, not the caller's."""

    status = 503
    title = "Vault denied the request"


class DatabaseUnavailable(DomainError):
    status = 503
    title = "Database unavailable"


class CredentialNotRecorded(DomainError):
    """Vault accepted a credential version but the database failed before recording it."""

    status = 503
    title = "Credential version not recorded"
