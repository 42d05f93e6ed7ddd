"""Streaming verification of the audit hash chain and its signed checkpoints.

Feed events in ``seq`` order (any batch size) and checkpoints in any order,
before or after the events they cover, then read :meth:`ChainVerifier.result`.

Precedence, for one event, given the last accepted event ``(s, h)``:

1. ``gap`` — its ``seq`` is not ``s + 1``. Reported at ``s + 1``, the first seq
   missing from the expected run, so a deleted event is reported at its own seq
   and a swap at the earlier of the two positions. Checked first because
   ``seq`` is what places an event; a wrong seq says nothing about its content.
2. ``hash_mismatch`` — the recomputed hash differs from the stored one (also any
   event that is not well formed). An edit to any field, ``prev_hash`` and
   ``hash`` included, lands here, at the edited event.
3. ``broken_link`` — the event is self-consistent but its ``prev_hash`` is not
   ``h``: a replaced or re-hashed event. An event with seq 1 must link to
   :data:`GENESIS_HASH`.

The first failing event stops the chain; nothing after it is checked.

For one checkpoint: ``bad_signature`` first (a malformed checkpoint, an unknown
``key_version`` or a signature that does not verify), because an unsigned
statement is no evidence either way; then ``checkpoint_mismatch`` when the
accepted event at its seq has another hash, or when its seq lies beyond the last
accepted event (a truncated tail). A checkpoint before the first event of a
mid-chain export can only have its signature checked.

The result is the failure with the lowest seq; at equal seq an event problem is
reported before a checkpoint problem. An inserted forged event that chains
correctly at seq ``k`` is therefore reported as ``checkpoint_mismatch`` at ``k``
when a checkpoint signs ``k``, else as ``gap`` at ``k + 1`` where the displaced
original appears.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from service.audit.canonical import GENESIS_HASH, canonical_json, checkpoint_message

Problem = Literal["hash_mismatch", "broken_link", "gap", "bad_signature", "checkpoint_mismatch"]

_EVENT_RANK = 0
_CHECKPOINT_RANK = 1
_UNKNOWN_SEQ = 2**63  # sorts a failure without a seq after every numbered one
# (sort seq, rank, problem, reported seq)
_Failure = tuple[int, int, Problem, int | None]


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of a verification, as ``GET /v1/audit/verify`` reports it."""

    valid: bool
    checked: int
    head_seq: int | None
    head_hash: str | None
    first_invalid_seq: int | None
    problem: Problem | None


def _int(value: Any) -> int | None:
    # bool is an int subclass; a JSON true is not a seq
    return value if type(value) is int else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def event_hash_ok(event: Mapping[str, Any]) -> bool:
    """Whether the stored ``hash`` of ``event`` is the hash of its other keys."""
    stored = event.get("hash")
    body = {k: v for k, v in event.items() if k != "hash"}
    try:
        return hashlib.sha256(canonical_json(body)).hexdigest() == stored
    except (TypeError, ValueError):  # not JSON-serialisable: not an event
        return False


class ChainVerifier:
    """Incremental verifier; keeps O(1) state per event plus 32 bytes if retaining."""

    def __init__(
        self,
        public_keys: Mapping[int, bytes],
        *,
        from_genesis: bool = False,
        retain_hashes: bool = True,
    ) -> None:
        """``from_genesis`` demands seq 1 first; else the first event is trusted as start.

        ``retain_hashes=False`` saves memory but then every checkpoint must be added
        before the event it covers.
        """
        self._keys = public_keys
        self._loaded: dict[int, Ed25519PublicKey | None] = {}
        self._retain = retain_hashes
        self._first_seq: int | None = 1 if from_genesis else None
        self._head_seq: int | None = 0 if from_genesis else None
        self._head_hash: str | None = GENESIS_HASH if from_genesis else None
        self._checked = 0
        self._hashes = bytearray()
        self._pending: dict[int, list[str]] = {}
        self._failure: _Failure | None = None
        self._broken = False
        self._opening: tuple[int | None, str | None, str | None, bool] | None = None

    @property
    def broken(self) -> bool:
        """True once an event failed: feeding more events is pointless."""
        return self._broken

    def _fail(self, seq: int | None, rank: int, problem: Problem) -> None:
        key: _Failure = (_UNKNOWN_SEQ if seq is None else seq, rank, problem, seq)
        if self._failure is None or key[:2] < self._failure[:2]:
            self._failure = key

    def add_events(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Feed a batch of events in seq order."""
        for event in events:
            if self._broken:
                return
            self.add_event(event)

    def add_event(self, event: Mapping[str, Any]) -> None:
        """Feed one event as a dict with its ``hash``."""
        self.add_hashed(
            _int(event.get("seq")),
            _str(event.get("prev_hash")),
            _str(event.get("hash")),
            event_hash_ok(event),
        )

    def add_hashed(
        self, seq: int | None, prev_hash: str | None, hash_: str | None, hash_ok: bool
    ) -> None:
        """Feed one event whose own hash the caller already checked (fast paths)."""
        if self._opening is None:
            self._opening = (seq, prev_hash, hash_, hash_ok)
        if self._broken:
            return
        expected = None if self._head_seq is None else self._head_seq + 1
        if expected is not None and seq != expected:
            self._break(expected, "hash_mismatch" if seq is None else "gap")
            return
        if seq is None or seq < 1:
            self._break(None, "hash_mismatch")
            return
        if self._first_seq is None:
            # a mid-chain start: checkpoints before it cannot be compared, only their
            # signatures checked
            self._first_seq = seq
            self._pending = {s: h for s, h in self._pending.items() if s >= seq}
        digest = _digest(hash_) if hash_ok else None
        if digest is None or hash_ is None:
            self._break(seq, "hash_mismatch")
            return
        link = GENESIS_HASH if seq == 1 else self._head_hash
        if link is not None and prev_hash != link:
            self._break(seq, "broken_link")
            return
        self._head_seq, self._head_hash = seq, hash_
        self._checked += 1
        if self._retain:
            self._hashes += digest
        for signed in self._pending.pop(seq, ()):
            if signed != hash_:
                self._fail(seq, _CHECKPOINT_RANK, "checkpoint_mismatch")

    def _break(self, seq: int | None, problem: Problem) -> None:
        self._broken = True
        self._fail(seq, _EVENT_RANK, problem)

    def add_checkpoints(self, checkpoints: Iterable[Mapping[str, Any]]) -> None:
        """Feed checkpoints in any order."""
        for checkpoint in checkpoints:
            self.add_checkpoint(checkpoint)

    def add_checkpoint(self, checkpoint: Mapping[str, Any]) -> None:
        """Check a checkpoint's signature now and its (seq, hash) when possible."""
        seq = _int(checkpoint.get("seq"))
        hash_ = _str(checkpoint.get("hash"))
        if seq is None or seq < 1 or hash_ is None or not self._signature_ok(checkpoint):
            self._fail(seq, _CHECKPOINT_RANK, "bad_signature")
            return
        if self._head_seq is None or self._first_seq is None or seq > self._head_seq:
            self._pending.setdefault(seq, []).append(hash_)
            return
        if seq >= self._first_seq:
            self._compare(seq, hash_)

    def _compare(self, seq: int, signed: str) -> None:
        assert self._first_seq is not None
        if not self._retain:
            raise ValueError("checkpoint after its event needs retain_hashes=True")
        offset = (seq - self._first_seq) * 32
        if _digest(signed) != bytes(self._hashes[offset : offset + 32]):
            self._fail(seq, _CHECKPOINT_RANK, "checkpoint_mismatch")

    def absorb(self, segment: ChainVerifier) -> None:
        """Continue the chain with a segment that another process verified from mid-chain.

        The segment's first event goes through the normal checks here; the rest of its
        verdict then stands, since its state after that event equals ours.
        """
        if segment._opening is None or self._broken:
            return
        start = self._checked
        self.add_hashed(*segment._opening)
        if self._broken or self._checked == start:
            return
        assert segment._retain and segment._head_seq is not None
        first = self._head_seq
        self._checked += segment._checked - 1
        self._head_seq, self._head_hash = segment._head_seq, segment._head_hash
        if self._retain:
            self._hashes += segment._hashes[32:]
        if segment._failure is not None:
            seq, rank, problem = segment._failure[3], segment._failure[1], segment._failure[2]
            self._broken = segment._broken
            self._fail(seq, rank, problem)
        for seq in [
            s for s in self._pending if first is not None and first < s <= segment._head_seq
        ]:
            for signed in self._pending.pop(seq):
                self._compare(seq, signed)

    def _signature_ok(self, checkpoint: Mapping[str, Any]) -> bool:
        version = _int(checkpoint.get("key_version"))
        ts, sig_b64 = _str(checkpoint.get("ts")), _str(checkpoint.get("signature"))
        if version is None or ts is None or sig_b64 is None:
            return False
        key = self._key(version)
        if key is None:
            return False
        try:
            signature = base64.b64decode(sig_b64, validate=True)
            if base64.b64encode(signature).decode() != sig_b64:
                return False  # unused padding bits: one statement, one spelling
            key.verify(signature, checkpoint_message(checkpoint["seq"], checkpoint["hash"], ts))
        except (binascii.Error, InvalidSignature):
            return False
        return True

    def _key(self, version: int) -> Ed25519PublicKey | None:
        if version not in self._loaded:
            raw = self._keys.get(version)
            try:
                self._loaded[version] = None if raw is None else _public_key(raw)
            except ValueError:
                self._loaded[version] = None
        return self._loaded[version]

    def result(self) -> VerifyResult:
        """The verdict so far; checkpoints still unmatched count as beyond the tail."""
        failure = self._failure
        for seq in self._pending:
            if self._first_seq is not None and seq < self._first_seq:
                continue
            beyond: _Failure = (seq, _CHECKPOINT_RANK, "checkpoint_mismatch", seq)
            if failure is None or beyond[:2] < failure[:2]:
                failure = beyond
        head_seq = self._head_seq if self._checked else None
        head_hash = self._head_hash if self._checked else None
        if failure is None:
            return VerifyResult(True, self._checked, head_seq, head_hash, None, None)
        return VerifyResult(False, self._checked, head_seq, head_hash, failure[3], failure[2])


def _digest(hex_hash: str | None) -> bytes | None:
    if hex_hash is None or len(hex_hash) != 64:
        return None
    try:
        return bytes.fromhex(hex_hash)
    except ValueError:
        return None


def _public_key(raw: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(raw)


def verify_chain(
    events: Iterable[Mapping[str, Any]],
    checkpoints: Iterable[Mapping[str, Any]],
    public_keys: Mapping[int, bytes],
    *,
    from_genesis: bool = False,
) -> VerifyResult:
    """Verify everything at once; checkpoints are read first so hashes are not retained."""
    verifier = ChainVerifier(public_keys, from_genesis=from_genesis, retain_hashes=False)
    verifier.add_checkpoints(checkpoints)
    verifier.add_events(events)
    return verifier.result()
