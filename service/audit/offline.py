"""``custodia audit verify``: check an export with neither the database nor Vault.

Export format (JSON Lines, UTF-8, one ``\\n`` after every line):

* one line per event, in ascending ``seq``: exactly ``canonical_json(event)``,
  ``hash`` included (sorted keys, separators ``,`` ``:``, non-ASCII as is). Event
  lines have no ``kind`` key; the first may have any seq, and its ``prev_hash``
  is where verification starts (seq 1 must link to 64 zeros);
* then one line per checkpoint covering the range, exactly
  ``canonical_json({"kind": "checkpoint", "seq", "hash", "ts", "signature",
  "key_version"})``, where ``signature`` is base64 of the raw 64-byte Ed25519
  signature of ``canonical_json({"seq", "hash", "ts"})``.

A line that is not byte-for-byte canonical is a ``hash_mismatch``, so every
reader of the file sees the very bytes that were hashed. Blank lines are skipped.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import functools
import hashlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

from service.audit.canonical import EVENT_KEYS
from service.audit.verify import ChainVerifier, VerifyResult

_EVENT_KEYS = frozenset(EVENT_KEYS)
_EVENT_START = b'{"account_id":'  # first key of every canonical event line
_HASH_MEMBER = b'"hash":"'
# Same output as canonical_json, built once: json.dumps with options re-creates it per call
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
_DECODE = json.JSONDecoder().decode
# below this a process pool costs more than it saves
_PARALLEL_MIN_BYTES = 16 << 20


class UsageError(Exception):
    """Bad arguments or an unreadable input: exit status 2."""


class KeyRing(Mapping[int, bytes]):
    """Public keys by version; a bare key, if given, serves every other version."""

    def __init__(self, versioned: dict[int, bytes], default: bytes | None = None) -> None:
        self._versioned, self._default = versioned, default

    def __getitem__(self, version: int) -> bytes:
        found = self._versioned.get(version, self._default)
        if found is None:
            raise KeyError(version)
        return found

    def __iter__(self) -> Iterator[int]:
        return iter(self._versioned)

    def __len__(self) -> int:
        return len(self._versioned)

    def merged(self, other: KeyRing) -> KeyRing:
        """Both rings' versioned keys; the later bare key wins."""
        default = other._default if other._default is not None else self._default
        return KeyRing({**self._versioned, **other._versioned}, default)


def _raw_key(text: str, source: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except binascii.Error:
        raw = b""
    if len(raw) != 32:
        raise UsageError(f"{source}: not base64 of a raw 32-byte Ed25519 public key")
    return raw


def load_public_keys(spec: str) -> KeyRing:
    """Keys from base64 text, or a file with base64 or the API's public-key JSON."""
    path = Path(spec)
    if not path.is_file():
        return KeyRing({}, _raw_key(spec, "--public-key"))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read public key file {spec}: {exc}") from None
    if not text.lstrip().startswith("{"):
        return KeyRing({}, _raw_key(text, spec))
    try:
        doc = json.loads(text)
        algorithm, key_b64, version = doc["algorithm"], doc["public_key"], doc["key_version"]
    except (ValueError, KeyError, TypeError):
        raise UsageError(f"{spec}: expected {{algorithm, public_key, key_version}}") from None
    if algorithm != "ed25519" or not isinstance(key_b64, str) or type(version) is not int:
        raise UsageError(f"{spec}: only ed25519 keys with an integer key_version")
    return KeyRing({version: _raw_key(key_b64, spec)})


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


def _feed(
    lines: Iterable[bytes], verifier: ChainVerifier, on_checkpoint: Callable[[Any], None]
) -> None:
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


def verify_stream(
    stream: BinaryIO, public_keys: Mapping[int, bytes], *, from_genesis: bool = False
) -> VerifyResult:
    """Verify an export read line by line from a binary stream."""
    verifier = ChainVerifier(public_keys, from_genesis=from_genesis)
    _feed(stream, verifier, verifier.add_checkpoint)
    return verifier.result()


def _segment(path: str, start: int, end: int) -> tuple[ChainVerifier, list[Any]]:
    """Verify the lines in [start, end) of ``path`` as a mid-chain piece (worker side)."""
    verifier = ChainVerifier({}, retain_hashes=True)
    checkpoints: list[Any] = []
    with open(path, "rb") as stream:
        stream.seek(start)
        _feed(_lines_until(stream, end - start), verifier, checkpoints.append)
    return verifier, checkpoints


def _lines_until(stream: BinaryIO, budget: int) -> Iterator[bytes]:
    for line in stream:
        if budget <= 0:
            return
        budget -= len(line)
        yield line


def verify_file(
    path: str, public_keys: Mapping[int, bytes], *, from_genesis: bool = False
) -> VerifyResult:
    """Verify an export file, splitting a large one across processes at line boundaries."""
    size = os.path.getsize(path)
    workers = min(os.cpu_count() or 1, 8)
    if size < _PARALLEL_MIN_BYTES or workers < 2:
        with open(path, "rb") as stream:
            return verify_stream(stream, public_keys, from_genesis=from_genesis)
    cuts = [0]
    with open(path, "rb") as stream:
        for i in range(1, workers):
            stream.seek(max(size * i // workers, cuts[-1]))
            stream.readline()
            cuts.append(stream.tell())
    cuts.append(size)
    with ProcessPoolExecutor(workers) as pool:
        parts = list(pool.map(_segment, [path] * workers, cuts[:-1], cuts[1:]))
    verifier = ChainVerifier(public_keys, from_genesis=from_genesis)
    for segment, _ in parts:
        verifier.absorb(segment)
    for _, checkpoints in parts:
        verifier.add_checkpoints(checkpoints)
    return verifier.result()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="custodia audit verify",
        description="Verify an audit export (JSON Lines) offline.",
    )
    parser.add_argument("export", help="export file, or - for standard input")
    parser.add_argument(
        "--public-key",
        required=True,
        action="append",
        help="base64 raw Ed25519 key, or a file with it or GET /v1/audit/public-key JSON",
    )
    parser.add_argument(
        "--from-genesis",
        action="store_true",
        help="the export must start at seq 1 (catches a deleted first event)",
    )
    return parser


def main(argv: list[str]) -> int:
    """Entry point; ``argv`` is what follows ``custodia audit verify``."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage message
        return exc.code if isinstance(exc.code, int) else 2
    try:
        keys = functools.reduce(KeyRing.merged, map(load_public_keys, args.public_key))
        if args.export == "-":
            result = verify_stream(sys.stdin.buffer, keys, from_genesis=args.from_genesis)
        else:
            result = verify_file(args.export, keys, from_genesis=args.from_genesis)
    except UsageError as exc:
        print(f"custodia audit verify: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"custodia audit verify: cannot read {args.export}: {exc.strerror}", file=sys.stderr)
        return 2
    if result.valid:
        print(f"valid: {result.checked} events, head seq {result.head_seq} hash {result.head_hash}")
        return 0
    print(
        f"INVALID: first bad seq {result.first_invalid_seq}: {result.problem}"
        f" ({result.checked} events verified before it)"
    )
    return 1
