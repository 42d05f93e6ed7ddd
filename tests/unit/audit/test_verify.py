"""The streaming chain verifier: each tampering gets its exact seq and problem."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from service.audit.canonical import GENESIS_HASH, checkpoint_message, event_hash
from service.audit.verify import ChainVerifier, VerifyResult, verify_chain

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PUBLIC = {1: KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)}


def make_event(seq: int, prev_hash: str, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "seq": seq,
        "ts": f"2026-11-28T12:00:{seq % 60:02d}.{seq:06d}Z",
        "actor": f"gestor:{seq % 7}",
        "actor_role": "gestor",
        "action": "checkout.granted",
        "outcome": "granted",
        "account_id": f"acc-{seq % 5}",
        "subject": None,
        "reason": "revisión — ñ",
        "request_id": f"req-{seq}",
        "ip": "10.0.0.1",
        "details": {"minutes": 30, "nested": {"b": [1, "dos"], "a": None}},
        "prev_hash": prev_hash,
    }
    event.update(fields)
    event["hash"] = event_hash(event)
    return event


def sign(seq: int, hash_: str, key: Ed25519PrivateKey = KEY, version: int = 1) -> dict[str, Any]:
    ts = "2026-11-28T13:00:00.000000Z"
    signature = base64.b64encode(key.sign(checkpoint_message(seq, hash_, ts))).decode()
    return {"seq": seq, "hash": hash_, "ts": ts, "signature": signature, "key_version": version}


def build_chain(
    n: int, every: int = 10, first: int = 1, prev: str = GENESIS_HASH
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    events = []
    for seq in range(first, first + n):
        events.append(make_event(seq, prev))
        prev = events[-1]["hash"]
    return events, [sign(e["seq"], e["hash"]) for e in events if e["seq"] % every == 0]


def run(
    events: list[dict[str, Any]],
    checkpoints: list[dict[str, Any]],
    keys: dict[int, bytes] = PUBLIC,
    *,
    genesis: bool = True,
) -> VerifyResult:
    """Checkpoints after the events, as in an export; also checked in the other order."""
    late = ChainVerifier(keys, from_genesis=genesis)
    late.add_events(events)
    late.add_checkpoints(checkpoints)
    early = verify_chain(events, checkpoints, keys, from_genesis=genesis)
    assert (early.first_invalid_seq, early.problem) == (
        late.result().first_invalid_seq,
        late.result().problem,
    )
    return late.result()


def where(result: VerifyResult) -> tuple[int | None, str | None]:
    return result.first_invalid_seq, result.problem


def test_valid_chain_reports_head() -> None:
    events, checkpoints = build_chain(35)
    result = run(events, checkpoints)
    assert result == VerifyResult(True, 35, 35, events[-1]["hash"], None, None)


def test_batches_with_checkpoints_first_need_no_retained_hashes() -> None:
    events, checkpoints = build_chain(95)
    verifier = ChainVerifier(PUBLIC, from_genesis=True, retain_hashes=False)
    verifier.add_checkpoints(checkpoints)
    for start in range(0, 95, 20):
        verifier.add_events(iter(events[start : start + 20]))
    assert verifier.result().valid
    with pytest.raises(ValueError, match="retain_hashes"):
        verifier.add_checkpoint(checkpoints[0])


@pytest.mark.parametrize(
    "field", ["ts", "actor", "action", "outcome", "reason", "details", "prev_hash", "hash"]
)
def test_edited_field_is_hash_mismatch_at_that_event(field: str) -> None:
    events, checkpoints = build_chain(40)
    value = events[16][field]
    events[16][field] = {**value, "minutes": 31} if isinstance(value, dict) else value[:-1] + "x"
    assert where(run(events, checkpoints)) == (17, "hash_mismatch")


def test_edited_seq_deletion_and_swap_are_gaps() -> None:
    events, checkpoints = build_chain(40)
    renumbered = [dict(e) for e in events]
    renumbered[16]["seq"] = 99
    assert where(run(renumbered, checkpoints)) == (17, "gap")
    assert where(run(events[:16] + events[17:], checkpoints)) == (17, "gap")
    assert where(run(events[1:], checkpoints)) == (1, "gap")
    swapped = list(events)
    swapped[5], swapped[30] = swapped[30], swapped[5]
    assert where(run(swapped, checkpoints)) == (6, "gap")


def test_forged_event_that_chains_is_caught_by_seq_or_checkpoint() -> None:
    events, checkpoints = build_chain(40)
    forged = make_event(13, events[11]["hash"], actor="intruso")
    assert where(run([*events[:12], forged, *events[12:]], checkpoints)) == (14, "gap")
    forged = make_event(20, events[18]["hash"], actor="intruso")
    assert where(run([*events[:19], forged, *events[19:]], checkpoints)) == (
        20,
        "checkpoint_mismatch",
    )


def test_rewritten_tail_is_caught_only_by_a_checkpoint() -> None:
    events, checkpoints = build_chain(40)
    rewritten, _ = build_chain(40 - 22, first=23, prev=events[21]["hash"])
    rewritten[0] = make_event(23, events[21]["hash"], reason="otra")
    prev = rewritten[0]["hash"]
    for i in range(1, len(rewritten)):
        rewritten[i] = make_event(23 + i, prev)
        prev = rewritten[i]["hash"]
    tampered = events[:22] + rewritten
    assert where(run(tampered, checkpoints)) == (30, "checkpoint_mismatch")
    assert run(tampered, checkpoints[:2]).valid  # no checkpoint after it: undetectable


def test_replaced_event_with_its_own_hash_is_a_broken_link() -> None:
    events, checkpoints = build_chain(40)
    events[24] = make_event(25, "f" * 64)
    assert where(run(events, checkpoints)) == (25, "broken_link")
    events, checkpoints = build_chain(5)
    events[0] = make_event(1, "e" * 64)
    assert where(run(events, checkpoints, genesis=False)) == (1, "broken_link")


def test_truncated_tail_leaves_a_checkpoint_beyond_it() -> None:
    events, checkpoints = build_chain(40)
    assert where(run(events[:23], checkpoints)) == (30, "checkpoint_mismatch")
    assert where(run([], checkpoints)) == (10, "checkpoint_mismatch")


def test_signature_problems() -> None:
    events, checkpoints = build_chain(40)
    other = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert where(run(events, checkpoints, {1: other})) == (10, "bad_signature")
    assert where(run(events, checkpoints, {2: PUBLIC[1]})) == (10, "bad_signature")
    assert where(run(events, checkpoints, {1: b"short"})) == (10, "bad_signature")
    forged = sign(20, events[19]["hash"], key=Ed25519PrivateKey.generate())
    assert where(run(events, [checkpoints[0], forged])) == (20, "bad_signature")
    bad = dict(checkpoints[2], signature="not base64!")
    assert where(run(events, [*checkpoints[:2], bad])) == (30, "bad_signature")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    sig = checkpoints[2]["signature"]
    same_bytes = sig[:-3] + alphabet[alphabet.index(sig[-3]) ^ 1] + "=="  # unused bit
    assert base64.b64decode(same_bytes) == base64.b64decode(sig)
    padded = dict(checkpoints[2], signature=same_bytes)
    assert where(run(events, [*checkpoints[:2], padded])) == (30, "bad_signature")
    lying = sign(20, events[18]["hash"])  # properly signed, wrong hash
    assert where(run(events, [checkpoints[0], lying])) == (20, "checkpoint_mismatch")


def test_lowest_seq_wins_and_event_beats_checkpoint_at_same_seq() -> None:
    events, checkpoints = build_chain(40)
    events[34]["reason"] = "x"
    bad = dict(checkpoints[1], ts="2000-01-01T00:00:00.000000Z")
    assert where(run(events, [checkpoints[0], bad, *checkpoints[2:]])) == (20, "bad_signature")
    events, checkpoints = build_chain(40)
    events[19]["reason"] = "x"
    bad = dict(checkpoints[1], ts="2000-01-01T00:00:00.000000Z")
    assert where(run(events, [checkpoints[0], bad])) == (20, "hash_mismatch")


def test_mid_chain_export_starts_from_its_first_prev_hash() -> None:
    events, checkpoints = build_chain(60)
    result = run(events[25:], checkpoints, genesis=False)
    assert (result.valid, result.checked, result.head_seq) == (True, 35, 60)
    stale = dict(checkpoints[0], ts="2000-01-01T00:00:00.000000Z")  # before the range
    assert where(run(events[25:], [stale])) == (1, "gap")  # genesis mode refuses the range
    assert where(run(events[25:], [stale], genesis=False)) == (10, "bad_signature")


def test_malformed_events_fail_the_hash() -> None:
    events, checkpoints = build_chain(12)
    events[3] = {k: v for k, v in events[3].items() if k != "prev_hash"}
    assert where(run(events, checkpoints)) == (4, "hash_mismatch")
    events, checkpoints = build_chain(12)
    events[3]["details"] = {1, 2}  # not JSON
    assert where(run(events, checkpoints)) == (4, "hash_mismatch")
    events[3] = {"seq": True}
    assert where(run(events, checkpoints)) == (4, "hash_mismatch")


def test_absorbing_segments_equals_one_pass() -> None:
    events, checkpoints = build_chain(90)
    for tamper in (None, 45, 61, 62):
        chain = [dict(e) for e in events]
        if tamper is not None:
            chain[tamper - 1]["actor"] = "otro"
        whole = ChainVerifier(PUBLIC, from_genesis=True)
        whole.add_checkpoints(checkpoints[:3])
        whole.add_events(chain)
        whole.add_checkpoints(checkpoints[3:])
        merged = ChainVerifier(PUBLIC, from_genesis=True)
        merged.add_checkpoints(checkpoints[:3])
        for start in (0, 30, 61, 62):
            segment = ChainVerifier({})
            segment.add_events(chain[start : {0: 30, 30: 61, 61: 62, 62: 90}[start]])
            merged.absorb(segment)
        merged.add_checkpoints(checkpoints[3:])
        assert merged.result() == whole.result()
        assert merged.result().valid is (tamper is None)
