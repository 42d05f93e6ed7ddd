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
import functools
import os
import sys
from collections.abc import Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from typing import Any, BinaryIO

from service.audit.export_lines import feed
from service.audit.public_keys import KeyRing, UsageError, load_public_keys
from service.audit.verify import ChainVerifier, VerifyResult

# below this a process pool costs more than it saves
_PARALLEL_MIN_BYTES = 16 << 20


def verify_stream(
    stream: BinaryIO, public_keys: Mapping[int, bytes], *, from_genesis: bool = False
) -> VerifyResult:
    """Verify an export read line by line from a binary stream."""
    verifier = ChainVerifier(public_keys, from_genesis=from_genesis)
    feed(stream, verifier, verifier.add_checkpoint)
    return verifier.result()


def _segment(path: str, start: int, end: int) -> tuple[ChainVerifier, list[Any]]:
    """Verify the lines in [start, end) of ``path`` as a mid-chain piece (worker side)."""
    verifier = ChainVerifier({}, retain_hashes=True)
    checkpoints: list[Any] = []
    with open(path, "rb") as stream:
        stream.seek(start)
        feed(_lines_until(stream, end - start), verifier, checkpoints.append)
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
