"""Write intents: which intent produced a lost version, and when a recovered version rotates."""

from __future__ import annotations

from typing import Any

import pytest

from service.domain.write_intents import (
    CONFLICT,
    FAILED,
    INTENT,
    RECOVERED,
    WRITTEN,
    CredentialEvent,
    Evidence,
    rotation_evidence,
    writer_intent,
)


def ev(seq: int, action: str, **details: Any) -> CredentialEvent:
    return CredentialEvent(seq, action, details, actor=f"actor-{seq}")


@pytest.mark.parametrize(
    ("events", "version", "expected"),
    [
        # The plain case: one intent for the version, nothing after it.
        ([ev(1, WRITTEN, version=1), ev(2, INTENT, version=2)], 2, 2),
        # No intent names the version (written outside the service, or before intents).
        ([ev(1, WRITTEN, version=1)], 2, None),
        ([ev(1, INTENT, version=3)], 2, None),
        # Two writers raced; the loser's check-and-set refusal names its intent.
        ([ev(1, INTENT, version=2), ev(2, INTENT, version=2), ev(3, CONFLICT, intent_seq=1)], 2, 2),
        # Neither was refused: nobody can be named.
        ([ev(1, INTENT, version=2), ev(2, INTENT, version=2)], 2, None),
        # A Vault error may hide a write that landed: named only if nobody else can be.
        ([ev(1, INTENT, version=2), ev(2, FAILED, intent_seq=1), ev(3, INTENT, version=2)], 2, 3),
        ([ev(1, INTENT, version=2), ev(2, FAILED, intent_seq=1)], 2, 1),
        (
            [
                ev(1, INTENT, version=2),
                ev(2, FAILED, intent_seq=1),
                ev(3, INTENT, version=2),
                ev(4, FAILED, intent_seq=3),
            ],
            2,
            None,
        ),
        # An intent from before the secret was destroyed and numbering restarted.
        (
            [ev(1, INTENT, version=1), ev(2, WRITTEN, version=1), ev(3, RECOVERED, version=2)],
            1,
            None,
        ),
        (
            [ev(1, INTENT, version=1), ev(2, WRITTEN, version=1), ev(3, INTENT, version=1)],
            1,
            3,
        ),
    ],
)
def test_writer_intent(events: list[CredentialEvent], version: int, expected: int | None) -> None:
    found = writer_intent(events, version)
    assert (found.seq if found else None) == expected


A1, B1, A2 = "vault:v1:AAAA", "vault:v1:BBBB", "vault:v2:CCCC"


@pytest.mark.parametrize(
    ("version", "has_intent", "fingerprint", "previous", "expected"),
    [
        (2, True, B1, A1, "rotation"),
        (1, True, A1, None, "first_version"),
        (2, False, B1, A1, "no_intent"),
        (2, True, None, A1, "fingerprint_missing"),
        (2, True, B1, None, "fingerprint_missing"),
        # Made with different key versions: not comparable without the password.
        (2, True, A2, A1, "fingerprint_missing"),
        (2, True, "not-a-fingerprint", A1, "fingerprint_missing"),
        (2, True, A1, A1, "same_password"),
    ],
)
def test_rotation_evidence(
    version: int,
    has_intent: bool,
    fingerprint: str | None,
    previous: str | None,
    expected: Evidence,
) -> None:
    assert rotation_evidence(version, has_intent, fingerprint, previous) == expected
