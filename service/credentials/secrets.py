"""The secret as Vault stores it, and its keyed fingerprints (never the password itself).

"Same password again" is decided on fingerprints: transit HMAC with the
non-exportable ``custodia-fingerprint`` key, kept per version under
``fingerprints/<account>`` in KV and written right after the version itself.
"""

from __future__ import annotations

import hmac
import re
from typing import Any

import structlog

from service.credentials.schemas import CredentialIn
from service.domain.contact import validate_email, validate_phone
from service.domain.totp import validate_seed
from service.errors import InvalidInput, VaultConflict, VaultDenied, VaultUnavailable
from service.vault.client import Vault

log = structlog.get_logger("custodia.credentials")


def secret_of(cred: CredentialIn) -> dict[str, Any]:
    """The validated, normalised secret as stored in Vault. Errors never quote values."""
    if not cred.username.strip() or not cred.password.strip():
        raise InvalidInput("username and password must not be blank", field="password")
    secret: dict[str, Any] = {"username": cred.username.strip(), "password": cred.password}
    if cred.recovery_email is not None:
        secret["recovery_email"] = validate_email(cred.recovery_email, "recovery_email")
    if cred.recovery_phone is not None:
        secret["recovery_phone"] = validate_phone(cred.recovery_phone, "recovery_phone")
    if cred.totp_secret is not None:
        secret["totp_secret"] = validate_seed(cred.totp_secret)
    if cred.backup_codes is not None:
        if any(not c.strip() for c in cred.backup_codes):
            raise InvalidInput("backup_codes must not contain blank codes", field="backup_codes")
        secret["backup_codes"] = [c.strip() for c in cred.backup_codes]
    if cred.notes is not None:
        secret["notes"] = cred.notes
    return secret


async def same_password(vault: Vault, password: str, fp: str, known: str) -> bool:
    """Compare fingerprints made with the same key version (the key may have rotated)."""
    known_key = re.match(r"vault:v(\d+):", known)
    if known_key is not None and not fp.startswith(known_key.group(0)):
        fp = await vault.fingerprint(password, key_version=int(known_key.group(1)))
    return hmac.compare_digest(fp.encode(), known.encode())


async def keep_fingerprint(vault: Vault, account_id: str, version: int, fp: str) -> bool:
    """Record the new version's fingerprint; a failure costs only the next comparison."""
    try:
        await vault.write_fingerprint(account_id, version, fp)
    except (VaultUnavailable, VaultDenied, VaultConflict) as exc:
        # The version is already in Vault and must reach SQL; the next write will
        # see no fingerprint for it and say so in its audit event.
        log.warning("fingerprint_not_recorded", account_id=account_id, error=type(exc).__name__)
        return False
    return True
