"""Lines of an audit export fed to a ``ChainVerifier``: events hashed, checkpoints handed on."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from service.audit.canonical import EVENT_KEYS
from service.audit.verify import ChainVerifier

_EVENT_KEYS = frozenset(EVENT_KEYS)
_EVENT_START = b'{"account_id":'  # first key of every canonical event line
_HASH_MEMBER = b'"hash":"'
# Same output as canonical_json, built once: json.dumps with options re-creates it per call
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
_DECODE = json.JSONDecoder().decode


def _string_re() -> bytes:
    # exactly the escapes json.dumps(ensure_ascii=False) writes, so a match is canonical
    control = rb"u00(?:0[0-7bef]|1[0-9a-f])"
    return rb'"[^"\\\x00-\x1f]*(?:\\(?:["\\bfnrt]|' + control + rb')[^"\\\x00-\x1f]*)*"'


_V = rb"(?:null|" + _string_re() + rb")"
_HEX = rb'"([0-9a-f]{64})"'
_HASH_CUT = b',"hash":"'
_SEQ_HINT = re.compile(rb',"seq":([1-9][0-9]{0,18}),"subject":')
# The canonical skeleton of an event whose fields are strings or null, keys sorted,
# in two parts around ``details`` (checked apart, with json). Other lines take the
# general path.
_HEAD = re.compile(
    rb'\{"account_id":V,"action":V,"actor":V,"actor_role":V,"details":'.replace(b"V", _V)
)
_TAIL = re.compile(
    rb',"hash":H,"ip":V,"outcome":V,"prev_hash":H,"reason":V,"request_id":V,'
    rb'"seq":([1-9][0-9]*),"subject":V,"ts":V\}'.replace(b"V", _V).replace(b"H", _HEX)
)
# details objects repeat a lot; remember the ones already found canonical
_DETAILS_SEEN: set[bytes] = set()


def _canonical_details(details: bytes) -> bool:
    if details in _DETAILS_SEEN:
        return True
    try:
        text = details.decode()
        ok = details.startswith(b"{") and _ENCODE(_DECODE(text)) == text
    except ValueError:
        return False
    if ok:
        if len(_DETAILS_SEEN) > 65536:
            _DETAILS_SEEN.clear()
        _DETAILS_SEEN.add(details)
    return ok


def _event_from_line(line: bytes) -> tuple[int | None, str | None, str | None, bool]:
    """(seq, prev_hash, hash, hash_ok) of an event line; malformed lines fail the hash."""
    text = line.decode("utf-8", errors="strict")  # ValueError when not UTF-8
    head = _HEAD.match(line)
    cut = line.rfind(_HASH_CUT)
    tail = _TAIL.fullmatch(line, cut) if head is not None and cut > 0 else None
    if tail is not None and head is not None and _canonical_details(line[head.end() : cut]):
        # head + canonical details + tail is a canonical line: hash it without the member
        stored = tail.group(1).decode()
        ok = hashlib.sha256(line[:cut] + line[cut + 74 :]).hexdigest() == stored
        return int(tail.group(3)), tail.group(2).decode(), stored, ok
    return _event_from_text(text, line)


def _event_from_text(text: str, line: bytes) -> tuple[int | None, str | None, str | None, bool]:
    event = _DECODE(text)
    if not isinstance(event, dict) or event.keys() != _EVENT_KEYS:
        return _loose(event), None, None, False
    seq, prev_hash, stored = event["seq"], event["prev_hash"], event["hash"]
    if type(seq) is not int or not isinstance(prev_hash, str) or not isinstance(stored, str):
        return _loose(event), None, None, False
    if _ENCODE(event) != text:
        return seq, prev_hash, stored, False
    # canonical, so the body is the line with the hash member cut out; the top-level
    # member is the last one because only string keys follow ``details``
    start = line.rfind(_HASH_MEMBER)
    body = line[:start] + line[start + 74 :]
    return seq, prev_hash, stored, hashlib.sha256(body).hexdigest() == stored


def _seq_hint(line: bytes) -> int | None:
    """The seq of a damaged line, so the report can still name it."""
    found = _SEQ_HINT.search(line)
    return int(found.group(1)) if found else None


def _loose(event: Any) -> int | None:
    seq = event.get("seq") if isinstance(event, dict) else None
    return seq if type(seq) is int else None


def feed(
    lines: Iterable[bytes], verifier: ChainVerifier, on_checkpoint: Callable[[Any], None]
) -> None:
    """Hash every event line into ``verifier``; hand each checkpoint line to ``on_checkpoint``."""
    add_hashed = verifier.add_hashed
    for raw in lines:
        line = raw.rstrip(b"\n")
        if line.startswith(_EVENT_START):
            if verifier.broken:
                continue  # keep reading: checkpoints at the end may fail at a lower seq
            try:
                add_hashed(*_event_from_line(line))
            except ValueError:  # not UTF-8 or not JSON
                add_hashed(_seq_hint(line), None, None, False)
            continue
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict) and record.get("kind") == "checkpoint":
            on_checkpoint(record)
        elif not verifier.broken:
            add_hashed(_loose(record) or _seq_hint(line), None, None, False)
