"""What a leaver knew of an account, and what its next version must therefore replace.

Décima quinta asks for a new password when someone with access leaves; DOMAIN.md
rule 4 adds new backup codes, or a new 2FA seed, where they saw or wrote them.
Backup codes leave custody one at a time (``checkout.backup_code_revealed``), so
who saw one is on record. The platform's TOTP seed never leaves: a checkout hands
out a code that dies within its 30-second step, which tells nothing of the seed.
Only whoever typed the seed into a version knows it, so only its writer forces a
new one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

Secret = Literal["password", "backup_codes", "totp_secret"]
SECRETS: tuple[Secret, ...] = get_args(Secret)
PASSWORD_ONLY: frozenset[Secret] = frozenset({"password"})

# The audit action that records one revealed code (never the code itself).
BACKUP_CODE_REVEALED = "checkout.backup_code_revealed"

# Why a leaver's obligation requires each secret, as the departure's case file says it.
WHY_REQUIRED: Mapping[Secret, str] = {
    "password": "conocía la contraseña",
    "backup_codes": "vio códigos de respaldo",
    "totp_secret": "escribió la semilla TOTP de la plataforma",
}


@dataclass(frozen=True, slots=True)
class Exposure:
    """What a gestor knew of an account's current secrets beyond its password."""

    saw_backup_codes: bool = False
    wrote_totp_secret: bool = False


def leaver_requires(base: frozenset[Secret], exposure: Exposure) -> frozenset[Secret]:
    """What a version must replace once this gestor leaves: ``base`` plus what they knew."""
    extra: set[Secret] = set()
    if exposure.saw_backup_codes:
        extra.add("backup_codes")
    if exposure.wrote_totp_secret:
        extra.add("totp_secret")
    return base | extra


def stored_requires(value: Iterable[str] | None) -> frozenset[Secret]:
    """An obligation's stored requirements; none recorded (before they existed) is the password."""
    listed = set(value or ())
    return frozenset(s for s in SECRETS if s in listed) or PASSWORD_ONLY


def set_by_version(
    recorded: int | None, current: int | None, *, present: bool = True
) -> int | None:
    """The version that set the current backup codes (or seed); None when there are none.

    ``recorded`` is what the writers noted. A credential written before they did
    stands in with its current version: every write then replaced the whole record.
    """
    if recorded is not None:
        return recorded
    return current if present else None


def next_unused_code(count: int, revealed: Iterable[int]) -> int | None:
    """The lowest index of a set of ``count`` codes not revealed yet; None once all were."""
    seen = set(revealed)
    return next((i for i in range(count) if i not in seen), None)


def codes_left(count: int, revealed: Iterable[int]) -> int:
    """How many of a set of ``count`` codes were not revealed yet."""
    seen = set(revealed)
    return sum(1 for i in range(count) if i not in seen)


def reveal_details(gestor_id: str, version: int, index: int, remaining: int) -> dict[str, Any]:
    """The ``details`` of a revealed code's audit event: which one, never its value."""
    return {
        "gestor_id": gestor_id,
        "credential_version": version,
        "index": index,
        "remaining": remaining,
    }


def revealed_index(details: Mapping[str, Any], since: int) -> int | None:
    """The index a reveal event released from the set current since ``since``; else None."""
    version, index = details.get("credential_version"), details.get("index")
    if not isinstance(version, int) or not isinstance(index, int) or version < since:
        return None
    return index
