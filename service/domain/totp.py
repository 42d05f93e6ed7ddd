"""TOTP rules: gestor second factor, replay steps, lockout, and platform 2FA codes."""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp

from service.errors import InvalidInput, Locked

ISSUER = "Custodia"
STEP_SECONDS = 30
DIGITS = 6
# 32 base32 characters are 160 bits, the size RFC 4226 recommends.
SEED_LENGTH = 32
# Platforms hand out seeds of 16 (80 bits) to 64 characters; below 16 is not a real seed.
MIN_SEED_CHARS = 16
MAX_SEED_CHARS = 128

_CODE = re.compile(r"[0-9]{6}")
_BASE32 = re.compile(r"[A-Z2-7]+=*")


def _totp(seed: str) -> pyotp.TOTP:
    return pyotp.TOTP(seed, digits=DIGITS, interval=STEP_SECONDS, issuer=ISSUER)


def generate_seed() -> str:
    """A new 160-bit base32 seed; pyotp draws it from ``secrets``."""
    return str(pyotp.random_base32(length=SEED_LENGTH))


def provisioning_uri(seed: str, account_name: str) -> str:
    """The ``otpauth://`` URI an authenticator app scans (SHA-1, 6 digits, 30 s)."""
    return str(_totp(seed).provisioning_uri(name=account_name, issuer_name=ISSUER))


def _epoch_seconds(at: datetime) -> int:
    # A naive datetime would silently be read as local time.
    if at.tzinfo is None:
        raise ValueError("TOTP times must be timezone-aware")
    return int(at.timestamp())


def time_step(at: datetime) -> int:
    """The TOTP counter of the 30 s step containing ``at``."""
    return _epoch_seconds(at) // STEP_SECONDS


def code_for_step(seed: str, step: int) -> str:
    """The code of ``seed`` for one time step."""
    return str(_totp(seed).generate_otp(step))


def is_well_formed_code(code: str) -> bool:
    """Exactly six ASCII digits; ``str.isdigit`` would also admit other scripts."""
    return _CODE.fullmatch(code) is not None


def matching_step(seed: str, code: str, at: datetime, window: int = 1) -> int | None:
    """The step ``code`` belongs to, within ``window`` steps of ``at``; else None.

    The caller stores (gestor, step) uniquely so each step's code is good once.
    A malformed code is simply a wrong code: it counts as a failure.
    """
    if not is_well_formed_code(code):
        return None
    current = time_step(at)
    # Current step first, so a code that happens to repeat is booked where expected.
    candidates = [current] + [current + d for k in range(1, window + 1) for d in (-k, k)]
    matched: int | None = None
    for step in candidates:
        # Compare every candidate, without stopping early, so timing says nothing.
        if hmac.compare_digest(code_for_step(seed, step), code) and matched is None:
            matched = step
    return matched


def platform_code(seed: str, at: datetime) -> tuple[str, int]:
    """The platform's 2FA code at ``at`` and the whole seconds it stays valid (1..30)."""
    seconds = _epoch_seconds(at)
    return code_for_step(seed, seconds // STEP_SECONDS), STEP_SECONDS - seconds % STEP_SECONDS


def validate_seed(value: str, field: str = "totp_secret") -> str:
    """Normalise a base32 seed (spaces, case, padding) or raise InvalidInput naming ``field``.

    The message never contains the value: it is a secret.
    """
    seed = "".join(value.split()).upper()
    if not MIN_SEED_CHARS <= len(seed.rstrip("=")) <= MAX_SEED_CHARS:
        raise InvalidInput(
            f"{field} must be a base32 seed of {MIN_SEED_CHARS} to {MAX_SEED_CHARS} characters",
            field=field,
        )
    if _BASE32.fullmatch(seed) is None:
        raise InvalidInput(f"{field} must use only the base32 alphabet A-Z and 2-7", field=field)
    seed = seed.rstrip("=")
    try:
        base64.b32decode(seed + "=" * (-len(seed) % 8))
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{field} is not valid base32", field=field) from None
    return seed


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """How many consecutive failures lock a gestor, and for how long."""

    max_failures: int = 5
    duration: timedelta = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class LockoutState:
    """What is persisted per gestor: the failure count and the end of a lock."""

    failures: int = 0
    locked_until: datetime | None = None

    def retry_after(self, now: datetime) -> int | None:
        """Whole seconds (at least 1) until the lock ends, or None when not locked."""
        if self.locked_until is None or now >= self.locked_until:
            return None
        return max(1, math.ceil((self.locked_until - now).total_seconds()))


def ensure_not_locked(state: LockoutState, now: datetime) -> None:
    """Raise Locked with Retry-After while a lock is in force."""
    retry_after = state.retry_after(now)
    if retry_after is not None:
        raise Locked("Too many failed TOTP codes; try again later", retry_after=retry_after)


def register_failure(state: LockoutState, now: datetime, policy: LockoutPolicy) -> LockoutState:
    """The state after a failed code; reaching ``max_failures`` locks until now + duration.

    A lock that has run out starts the count again, so each lock costs the
    guesser another ``max_failures`` tries rather than one.
    """
    if state.retry_after(now) is not None:
        return state
    failures = 1 if state.locked_until is not None else state.failures + 1
    if failures >= policy.max_failures:
        return LockoutState(failures=failures, locked_until=now + policy.duration)
    return LockoutState(failures=failures, locked_until=None)


def register_success() -> LockoutState:
    """A valid code resets the count and any expired lock."""
    return LockoutState()
