"""The hash-chain rule, shared by the writer, the verifier and the README.

hash = lowercase hex SHA-256 of the UTF-8 canonical JSON of the event without
its ``hash`` key; canonical JSON has sorted keys, separators ``,``/``:`` and
non-ASCII kept as is. The first event's ``prev_hash`` is 64 zeros.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

GENESIS_HASH = "0" * 64

# The keys of an event, in column order: the writer, the exporter, the offline
# verifier and the tests all read this one list.
EVENT_KEYS: tuple[str, ...] = (
    "seq",
    "ts",
    "actor",
    "actor_role",
    "action",
    "outcome",
    "account_id",
    "subject",
    "reason",
    "request_id",
    "ip",
    "details",
    "prev_hash",
    "hash",
)


def canonical_json(obj: Mapping[str, Any]) -> bytes:
    """Serialise ``obj`` by the canonical rule."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(event: Mapping[str, Any]) -> str:
    """Hash of an event; any ``hash`` key present is left out."""
    body = {k: v for k, v in event.items() if k != "hash"}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def checkpoint_message(seq: int, hash_: str, ts: str) -> bytes:
    """The exact bytes a checkpoint signs."""
    return canonical_json({"seq": seq, "hash": hash_, "ts": ts})
