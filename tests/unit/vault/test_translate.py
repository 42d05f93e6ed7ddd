"""The one translation of hvac and requests errors into the service's own errors.

The exceptions are built as hvac builds them, with a canary in the message, URL,
body and JSON: none of it may reach the domain error.
"""

from __future__ import annotations

import inspect

import hvac.exceptions as hvac_errors
import pytest
import requests

from service.errors import (
    DomainError,
    VaultConflict,
    VaultDenied,
    VaultMisconfigured,
    VaultUnavailable,
)
from service.vault.client import _translate
from service.vault.types import VaultOp

CANARY = "s.canary-token-and-secret"
SIGN = VaultOp(
    "signing an audit checkpoint",
    "the audit signing key",
    "CUSTODIA_VAULT_TRANSIT_MOUNT, CUSTODIA_VAULT_AUDIT_KEY",
)
LOGIN = VaultOp("logging in", "the service's AppRole", auth=True)
WRITE = VaultOp("writing a credential", "account 1", "CUSTODIA_VAULT_KV_MOUNT")


def vault_error(cls: type[hvac_errors.VaultError], *errors: str) -> Exception:
    """As hvac.utils.raise_for_error makes them: Vault's errors plus the request's URL and body."""
    error: Exception = cls(
        f"message {CANARY}",
        errors=list(errors) or None,
        method="post",
        url=f"http://vault/v1/custodia-transit/sign/{CANARY}",
        text=f'{{"errors": [], "input": "{CANARY}"}}',
        json={"input": CANARY},
    )
    return error


CASES: list[tuple[str, Exception, VaultOp, type[DomainError], str]] = [
    ("connect timeout", requests.ConnectTimeout(CANARY), SIGN, VaultUnavailable, "in time"),
    ("read timeout", requests.ReadTimeout(CANARY), SIGN, VaultUnavailable, "in time"),
    ("refused", requests.ConnectionError(CANARY), SIGN, VaultUnavailable, "unreachable"),
    ("not json", requests.JSONDecodeError(CANARY, CANARY, 0), SIGN, VaultUnavailable, "JSON"),
    ("other requests", requests.RequestException(CANARY), SIGN, VaultUnavailable, "unreachable"),
    (
        "sealed",
        vault_error(hvac_errors.VaultDown, "Vault is sealed"),
        SIGN,
        VaultUnavailable,
        "sealed",
    ),
    (
        "uninitialised",
        vault_error(hvac_errors.VaultNotInitialized),
        SIGN,
        VaultUnavailable,
        "not initialised",
    ),
    ("429", vault_error(hvac_errors.RateLimitExceeded), SIGN, VaultUnavailable, "rate-limiting"),
    ("500", vault_error(hvac_errors.InternalServerError), SIGN, VaultUnavailable, "server error"),
    ("502", vault_error(hvac_errors.BadGateway), SIGN, VaultUnavailable, "server error"),
    ("418", vault_error(hvac_errors.UnexpectedError), SIGN, VaultUnavailable, "server error"),
    (
        "403",
        vault_error(hvac_errors.Forbidden, "permission denied"),
        SIGN,
        VaultDenied,
        "denied signing",
    ),
    ("401", vault_error(hvac_errors.Unauthorized), SIGN, VaultDenied, "denied signing"),
    (
        "login refused",
        vault_error(hvac_errors.InvalidRequest, "invalid role or secret ID"),
        LOGIN,
        VaultDenied,
        "denied logging in",
    ),
    (
        "cas",
        vault_error(hvac_errors.InvalidRequest, "check-and-set parameter did not match"),
        WRITE,
        VaultConflict,
        "read and retry",
    ),
    (
        "sign key",
        vault_error(hvac_errors.InvalidRequest, "signing key not found"),
        SIGN,
        VaultMisconfigured,
        "lacks what signing an audit checkpoint needs (the audit signing key)",
    ),
    (
        "hmac key",
        vault_error(hvac_errors.InvalidRequest, "encryption key not found"),
        SIGN,
        VaultMisconfigured,
        "CUSTODIA_VAULT_AUDIT_KEY",
    ),
    (
        "read key",
        vault_error(hvac_errors.InvalidPath),
        SIGN,
        VaultMisconfigured,
        "lacks what signing an audit checkpoint needs (the audit signing key)",
    ),
    (
        "no mount",
        vault_error(hvac_errors.InvalidPath, 'no handler for route "x". route entry not found.'),
        SIGN,
        VaultMisconfigured,
        "CUSTODIA_VAULT_AUDIT_KEY",
    ),
    (
        "bad request",
        vault_error(hvac_errors.InvalidRequest, "key version does not exist"),
        SIGN,
        VaultMisconfigured,
        "rejected the request as invalid",
    ),
    (
        "hvac params",
        hvac_errors.ParamValidationError(f"invalid algorithm {CANARY}"),
        SIGN,
        VaultMisconfigured,
        "rejected the request as invalid",
    ),
    (
        "unsupported",
        vault_error(hvac_errors.UnsupportedOperation),
        SIGN,
        VaultMisconfigured,
        "invalid",
    ),
    (
        "precondition",
        vault_error(hvac_errors.PreconditionFailed),
        SIGN,
        VaultMisconfigured,
        "invalid",
    ),
]


@pytest.mark.parametrize(
    ("exc", "op", "kind", "says"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_translate(exc: Exception, op: VaultOp, kind: type[DomainError], says: str) -> None:
    error = _translate(exc, op)
    assert type(error) is kind
    assert says in error.detail
    assert op.action in error.detail and op.subject in error.detail
    # Names the operation and what it was about, never where Vault keeps it.
    assert "custodia-" not in error.detail and "/" not in error.detail
    assert CANARY not in str(error) and CANARY not in error.detail and not error.extra


@pytest.mark.parametrize(
    "cls",
    [c for _, c in inspect.getmembers(hvac_errors, inspect.isclass) if issubclass(c, Exception)],
)
def test_every_hvac_error_becomes_a_vault_domain_error(cls: type[Exception]) -> None:
    """Any hvac exception, including one added later, maps to a Vault domain error."""
    error = _translate(cls(CANARY), SIGN)
    assert isinstance(error, VaultUnavailable | VaultDenied | VaultConflict)
    assert CANARY not in error.detail


def test_a_misconfigured_vault_is_also_unavailable() -> None:
    """Callers that tolerate Vault being away (write intents, recovery) tolerate this too."""
    assert issubclass(VaultMisconfigured, VaultUnavailable)
    assert VaultMisconfigured.status == 503
