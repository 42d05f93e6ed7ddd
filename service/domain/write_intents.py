"""Write intents: who wrote a credential version SQL lost, and whether it counts as a rotation."""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

INTENT = "credential.write_started"
WRITTEN = "credential.written"
RECOVERED = "credential.version_recovered"
CONFLICT = "credential.write_conflict"
FAILED = "credential.write_failed"
# Events that record a version in SQL; a later one settles every earlier intent of the account.
SETTLING = (WRITTEN, RECOVERED)

Evidence = Literal["rotation", "first_version", "no_intent", "fingerprint_missing", "same_password"]

_KEY_VERSION = re.compile(r"vault:v(\d+):")


@dataclass(frozen=True, slots=True)
class CredentialEvent:
    """The parts of one audit event about an account's credential that the rules read."""

    seq: int
    action: str
    details: Mapping[str, Any] = field(default_factory=dict)
    actor: str | None = None
    actor_role: str | None = None
    reason: str | None = None

    @property
    def version(self) -> int | None:
        value = self.details.get("version")
        return value if isinstance(value, int) else None


def writer_intent(events: Sequence[CredentialEvent], version: int) -> CredentialEvent | None:
    """The one write intent that can have produced ``version``; None when none or several can.

    Intents at or before an event that recorded this version (or a later one)
    belong to an earlier life of the secret (destroyed, numbering restarted).
    An intent refused by check-and-set wrote nothing. An intent whose Vault write
    reported an error may still have landed (a timeout), so it is named only
    when no other candidate is left. Ambiguity names nobody: a wrong name in the
    audit trail is worse than "unknown".
    """
    recorded_at = max(
        (
            e.seq
            for e in events
            if e.action in SETTLING and e.version is not None and e.version >= version
        ),
        default=0,
    )
    refused = {e.details.get("intent_seq") for e in events if e.action == CONFLICT}
    failed = {e.details.get("intent_seq") for e in events if e.action == FAILED}
    candidates = [
        e
        for e in events
        if e.action == INTENT
        and e.seq > recorded_at
        and e.version == version
        and e.seq not in refused
    ]
    clean = [e for e in candidates if e.seq not in failed]
    pool = clean or candidates
    return pool[0] if len(pool) == 1 else None


def rotation_evidence(
    version: int, has_intent: bool, fingerprint: str | None, previous: str | None
) -> Evidence:
    """Whether a recovered version proves a new password, and if not, why not.

    The same evidence a live write needs: written through the service (an intent
    names it) and a fingerprint that differs from the previous version's, both
    made with the same transit key version. Anything less is not a rotation.
    """
    if version <= 1:
        return "first_version"
    if not has_intent:
        return "no_intent"
    if fingerprint is None or previous is None:
        return "fingerprint_missing"
    key, previous_key = _KEY_VERSION.match(fingerprint), _KEY_VERSION.match(previous)
    if key is None or previous_key is None or key.group(1) != previous_key.group(1):
        # Different key versions cannot be compared without the password itself.
        return "fingerprint_missing"
    if hmac.compare_digest(fingerprint.encode(), previous.encode()):
        return "same_password"
    return "rotation"
