"""TOTP rules: seeds, URIs, step matching, platform codes and lockout."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest

from service.domain.totp import (
    LockoutPolicy,
    LockoutState,
    code_for_step,
    ensure_not_locked,
    generate_seed,
    is_well_formed_code,
    matching_step,
    platform_code,
    provisioning_uri,
    register_failure,
    register_success,
    time_step,
    validate_seed,
)
from service.errors import InvalidInput, Locked

SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
# 2026-11-28T12:00:00Z is 1795867200, a multiple of 30: the start of a step.
T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
STEP0 = 1795867200 // 30


def test_t0_is_a_step_boundary() -> None:
    assert int(T0.timestamp()) == 1795867200
    assert time_step(T0) == STEP0
    assert time_step(T0 + timedelta(seconds=29.9)) == STEP0
    assert time_step(T0 + timedelta(seconds=30)) == STEP0 + 1


def test_time_step_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        time_step(datetime(2026, 11, 28, 12, 0))


def test_generated_seed_has_160_bits_and_varies() -> None:
    seeds = {generate_seed() for _ in range(20)}
    assert len(seeds) == 20
    for seed in seeds:
        assert len(seed) == 32
        assert len(base64.b32decode(seed)) * 8 == 160
        assert validate_seed(seed) == seed


def test_provisioning_uri_parameters() -> None:
    uri = urlparse(provisioning_uri(SEED, "ana@dominio.gob.mx"))
    query = {k: v[0] for k, v in parse_qs(uri.query).items()}
    assert uri.scheme == "otpauth"
    assert uri.netloc == "totp"
    assert "Custodia" in uri.path
    assert query["secret"] == SEED
    assert query["issuer"] == "Custodia"
    # pyotp leaves out the defaults; an app reads their absence as SHA1/6/30.
    assert query.get("algorithm", "SHA1") == "SHA1"
    assert query.get("digits", "6") == "6"
    assert query.get("period", "30") == "30"


def test_codes_agree_with_pyotp_and_rfc_defaults() -> None:
    reference = pyotp.TOTP(SEED)
    for offset in (-30, 0, 30, 59):
        at = T0 + timedelta(seconds=offset)
        assert code_for_step(SEED, time_step(at)) == reference.at(at)


@pytest.mark.parametrize(
    ("code_step", "at_offset", "window", "expected"),
    [
        (0, 0, 1, 0),  # current step
        (-1, 0, 1, -1),  # previous step
        (1, 0, 1, 1),  # next step
        (0, 29, 1, 0),  # end of the same step
        (-2, 0, 1, None),  # two steps back: too old
        (2, 0, 1, None),  # two steps ahead: too new
        (-2, 0, 2, -2),  # a wider window admits it
        (-1, 0, 0, None),  # window 0: current step only
    ],
)
def test_matching_step(code_step: int, at_offset: int, window: int, expected: int | None) -> None:
    code = code_for_step(SEED, STEP0 + code_step)
    got = matching_step(SEED, code, T0 + timedelta(seconds=at_offset), window=window)
    assert got == (None if expected is None else STEP0 + expected)


@pytest.mark.parametrize(
    "code",
    ["", "12345", "1234567", "12345a", " 123456", "123456 ", "١٢٣٤٥٦", "12 456", "+12345"],
)
def test_malformed_codes(code: str) -> None:
    assert not is_well_formed_code(code)
    assert matching_step(SEED, code, T0) is None


def test_wrong_code_matches_nothing() -> None:
    valid = {code_for_step(SEED, STEP0 + d) for d in (-1, 0, 1)}
    wrong = next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in valid)
    assert matching_step(SEED, wrong, T0) is None


def test_other_seed_does_not_match() -> None:
    other = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    code = code_for_step(SEED, STEP0)
    assert code not in {code_for_step(other, STEP0 + d) for d in (-1, 0, 1)}
    assert matching_step(other, code, T0) is None


@pytest.mark.parametrize(
    ("offset", "valid_for"),
    [(0, 30), (1, 29), (29, 1), (29.999, 1), (30, 30), (45, 15)],
)
def test_platform_code(offset: float, valid_for: int) -> None:
    at = T0 + timedelta(seconds=offset)
    code, seconds = platform_code(SEED, at)
    assert code == pyotp.TOTP(SEED).at(at)
    assert seconds == valid_for


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        (SEED, SEED),
        ("jbsw y3dp ehpk 3pxp", "JBSWY3DPEHPK3PXP"),
        ("JBSWY3DPEHPK3PXP", "JBSWY3DPEHPK3PXP"),
        ("MFRGGZDFMZTWQ2LKNNWG23TPOBYXE===", "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE"),
    ],
)
def test_validate_seed_accepts(value: str, normalised: str) -> None:
    assert validate_seed(value) == normalised


@pytest.mark.parametrize(
    "value",
    [
        "",
        "JBSWY3DPEHPK3PX",  # 15 characters: too short
        "JBSWY3DPEHPK3PX1",  # 1 is not base32
        "JBSWY3DPEHPK3PX8",  # nor is 8
        "JBSWY3DPEHPK3PXP=A",  # padding in the middle
        "A" * 129,
        "AAAAAAAAAAAAAAAAA",  # 17 characters: no whole byte count fits
        "JBSWY3DPÉHPK3PXP",
    ],
)
def test_validate_seed_refuses_without_echoing(value: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        validate_seed(value, field="totp_secret")
    assert exc.value.extra["field"] == "totp_secret"
    assert "totp_secret" in exc.value.detail
    if value:
        assert value not in exc.value.detail


POLICY = LockoutPolicy(max_failures=5, duration=timedelta(minutes=15))


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (LockoutState(), LockoutState(1, None)),
        (LockoutState(3, None), LockoutState(4, None)),
        (LockoutState(4, None), LockoutState(5, T0 + timedelta(minutes=15))),
        # An expired lock starts the count again.
        (LockoutState(5, T0 - timedelta(seconds=1)), LockoutState(1, None)),
        # A failure during a lock (should not be evaluated) changes nothing.
        (LockoutState(5, T0 + timedelta(minutes=3)), LockoutState(5, T0 + timedelta(minutes=3))),
    ],
)
def test_register_failure(before: LockoutState, after: LockoutState) -> None:
    assert register_failure(before, T0, POLICY) == after


def test_five_failures_lock_for_fifteen_minutes_and_success_resets() -> None:
    state = LockoutState()
    for i in range(4):
        state = register_failure(state, T0 + timedelta(seconds=i), POLICY)
        assert state.retry_after(T0 + timedelta(seconds=i)) is None
    state = register_failure(state, T0 + timedelta(seconds=4), POLICY)
    assert state.retry_after(T0 + timedelta(seconds=4)) == 15 * 60
    assert register_success() == LockoutState()


@pytest.mark.parametrize(
    ("locked_until", "now", "retry_after"),
    [
        (None, T0, None),
        (T0 + timedelta(minutes=15), T0, 900),
        (T0 + timedelta(seconds=0.2), T0, 1),  # rounds up, never 0
        (T0 + timedelta(seconds=10, milliseconds=1), T0, 11),
        (T0, T0, None),  # the lock ends at locked_until
        (T0 - timedelta(minutes=1), T0, None),
    ],
)
def test_retry_after(locked_until: datetime | None, now: datetime, retry_after: int | None) -> None:
    state = LockoutState(5, locked_until)
    assert state.retry_after(now) == retry_after
    if retry_after is None:
        ensure_not_locked(state, now)
    else:
        with pytest.raises(Locked) as exc:
            ensure_not_locked(state, now)
        assert exc.value.retry_after == retry_after
        assert exc.value.status == 423
