"""Offline verifier rate on a synthetic export: ``python bench/audit_offline.py [N] [PATH]``."""

from __future__ import annotations

import base64
import hashlib
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from service.audit.canonical import GENESIS_HASH, canonical_json, checkpoint_message, event_hash
from service.audit.offline import verify_file
from service.audit.public_keys import KeyRing
from service.clock import rfc3339

CHECKPOINT_EVERY = 1000


def write_export(path: Path, n: int, key: Ed25519PrivateKey) -> None:
    """Write ``n`` realistic events and a checkpoint every 1,000 of them."""
    start = datetime(2026, 11, 28, tzinfo=UTC)
    prev, checkpoints = GENESIS_HASH, []
    with path.open("wb") as out:
        for seq in range(1, n + 1):
            ts = rfc3339(start + timedelta(milliseconds=seq))
            event = {
                "seq": seq,
                "ts": ts,
                "actor": f"gestor:{seq % 97:08d}-3b9d-4c1e-9a8f-2d3c4b5a6e7f",
                "actor_role": "gestor",
                "action": "checkout.granted",
                "outcome": "granted",
                "account_id": f"{seq % 301:08d}-4e5f-6789-abcd-ef0123456789",
                "subject": f"checkout:{seq:08d}-4f5a-6b7c-8d9e-0f1a2b3c4d5e",
                "reason": "publicación programada",
                "request_id": f"{seq:08d}-5b4a-3928-1706-f5e4d3c2b1a0",
                "ip": "10.0.0.12",
                "details": {"minutes": 30, "rotation_required": False},
                "prev_hash": prev,
            }
            event["hash"] = prev = event_hash(event)
            out.write(canonical_json(event) + b"\n")
            if seq % CHECKPOINT_EVERY == 0:
                signature = key.sign(checkpoint_message(seq, prev, ts))
                checkpoints.append(
                    {
                        "kind": "checkpoint",
                        "seq": seq,
                        "hash": prev,
                        "ts": ts,
                        "signature": base64.b64encode(signature).decode(),
                        "key_version": 1,
                    }
                )
        for checkpoint in checkpoints:
            out.write(canonical_json(checkpoint) + b"\n")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    path = Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/custodia-audit-export.jsonl")
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    t0 = time.perf_counter()
    write_export(path, n, key)
    size_mb = path.stat().st_size / 1e6
    print(f"wrote {n} events ({size_mb:.0f} MB) in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    with path.open("rb") as stream:
        for line in stream:
            hashlib.sha256(line).digest()
    floor = time.perf_counter() - t0
    print(f"hashlib floor: {n / floor:,.0f} lines/s ({floor:.2f} s)")
    t0 = time.perf_counter()
    result = verify_file(str(path), KeyRing({}, public))
    took = time.perf_counter() - t0
    print(f"offline verify: {n / took:,.0f} events/s ({took:.2f} s), valid={result.valid}")


if __name__ == "__main__":
    main()
