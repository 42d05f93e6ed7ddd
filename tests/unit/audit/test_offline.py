"""The offline verifier: export format, exit codes, and a seeded mutation test."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from service.audit import offline
from service.audit.canonical import GENESIS_HASH, canonical_json, checkpoint_message, event_hash
from service.audit.offline import main, verify_file, verify_stream
from service.audit.public_keys import KeyRing

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
RAW = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
KEY_B64 = base64.b64encode(RAW).decode()
N, EVERY = 310, 50  # the last 10 events are after the last checkpoint


def event(seq: int, prev: str, actor: str = "gestor:1") -> dict[str, Any]:
    body: dict[str, Any] = {
        "seq": seq,
        "ts": f"2026-11-28T12:{seq // 60 % 60:02d}:{seq % 60:02d}.{seq:06d}Z",
        "actor": actor,
        "actor_role": "gestor" if seq % 3 else None,
        "action": "checkout.granted",
        "outcome": "granted",
        "account_id": f"acc-{seq % 4}",
        "subject": f'checkout "{seq}"\n',
        "reason": "revisión de área — ñandú",
        "request_id": None,
        "ip": "10.0.0.9",
        "details": {"minutes": seq % 9, "nested": {"b": [1, "dos"], "a": None}},
        "prev_hash": prev,
    }
    body["hash"] = event_hash(body)
    return body


def export_lines(n: int = N) -> tuple[list[bytes], list[bytes], list[dict[str, Any]]]:
    """Event lines, checkpoint lines, and the events."""
    events, prev = [], GENESIS_HASH
    for seq in range(1, n + 1):
        events.append(event(seq, prev))
        prev = events[-1]["hash"]
    checkpoints = []
    for e in events:
        if e["seq"] % EVERY == 0:
            ts = "2026-11-28T13:00:00.000000Z"
            signature = KEY.sign(checkpoint_message(e["seq"], e["hash"], ts))
            checkpoints.append(
                {
                    "kind": "checkpoint",
                    "seq": e["seq"],
                    "hash": e["hash"],
                    "ts": ts,
                    "signature": base64.b64encode(signature).decode(),
                    "key_version": 1,
                }
            )
    return (
        [canonical_json(e) + b"\n" for e in events],
        [canonical_json(c) + b"\n" for c in checkpoints],
        events,
    )


def check(lines: list[bytes], keys: Any = None) -> tuple[int | None, str | None]:
    data = b"".join(lines)
    result = verify_stream(io.BytesIO(data), keys or KeyRing({}, RAW), from_genesis=True)
    return result.first_invalid_seq, result.problem


def value_span(line: bytes, field: str) -> tuple[int, int]:
    """Byte span of a top-level field's value in a canonical event line."""
    start = line.rindex(b'"' + field.encode() + b'":') + len(field) + 3
    end = start
    depth, in_string = 0, False
    while True:
        ch = line[end : end + 1]
        if in_string:
            if ch == b"\\":
                end += 1
            elif ch == b'"':
                in_string = False
        elif ch == b'"':
            in_string = True
        elif ch in b"{[":
            depth += 1
        elif ch in b"}]":
            if depth == 0:
                return start, end
            depth -= 1
        elif ch == b"," and depth == 0:
            return start, end
        end += 1


def test_clean_export_is_valid() -> None:
    events, checkpoints, _ = export_lines()
    assert check(events + checkpoints) == (None, None)


def test_mutations_are_each_detected_at_the_right_seq() -> None:
    events, checkpoints, parsed = export_lines()
    cp_seqs = [EVERY * i for i in range(1, N // EVERY + 1)]
    rng = random.Random(20261128)
    fields = [k for k in parsed[0] if k != "seq"]
    counts: dict[str, int] = {}
    for _ in range(600):
        kind = rng.choice(["byte", "seq", "delete", "swap", "insert", "truncate", "cp", "key"])
        counts[kind] = counts.get(kind, 0) + 1
        lines, cps, keys = list(events), list(checkpoints), None
        i = rng.randrange(N - 1)  # deleting or forging after the last event is appending
        if kind == "byte":
            start, end = value_span(lines[i], rng.choice(fields))
            pos = rng.randrange(start, end)
            new = rng.choice([c for c in range(0x20, 0x7F) if c != lines[i][pos]])
            lines[i] = lines[i][:pos] + bytes([new]) + lines[i][pos + 1 :]
            expected: tuple[int | None, str] = (i + 1, "hash_mismatch")
        elif kind == "seq":
            start, end = value_span(lines[i], "seq")
            pos = rng.randrange(start, end)
            digits = b"123456789" if pos == start else b"0123456789"
            new = rng.choice([d for d in digits if d != lines[i][pos]])
            lines[i] = lines[i][:pos] + bytes([new]) + lines[i][pos + 1 :]
            expected = (i + 1, "gap")
        elif kind == "delete":
            del lines[i]
            expected = (i + 1, "gap")
        elif kind == "swap":
            j = rng.randrange(i + 1, N)
            lines[i], lines[j] = lines[j], lines[i]
            expected = (i + 1, "gap")
        elif kind == "insert":
            prev = parsed[i - 1]["hash"] if i else GENESIS_HASH
            lines.insert(i, canonical_json(event(i + 1, prev, actor="intruso")) + b"\n")
            seq = i + 1
            expected = (seq, "checkpoint_mismatch") if seq in cp_seqs else (seq + 1, "gap")
        elif kind == "truncate":
            keep = rng.randrange(1, cp_seqs[-1])
            lines = lines[:keep]
            expected = (min(s for s in cp_seqs if s > keep), "checkpoint_mismatch")
        elif kind == "cp":
            c = rng.randrange(len(cps))
            doc = json.loads(cps[c])
            name = rng.choice(["hash", "ts", "signature"])
            pos = rng.randrange(len(doc[name]))
            alphabet = "0123456789abcdef" if name == "hash" else "0123456789ABCDEFabcdef+/"
            doc[name] = (
                doc[name][:pos]
                + rng.choice(alphabet.replace(doc[name][pos], ""))
                + doc[name][pos + 1 :]
            )
            cps[c] = canonical_json(doc) + b"\n"
            expected = (cp_seqs[c], "bad_signature")
        else:
            other = Ed25519PrivateKey.generate().public_key()
            keys = {1: other.public_bytes(Encoding.Raw, PublicFormat.Raw)}
            expected = (EVERY, "bad_signature")
        assert check(lines + cps, keys) == expected, (kind, i)
    assert min(counts.values()) > 40


def forged_line(body_text: str) -> bytes:
    """A line whose hash is computed over its own non-canonical bytes, as a forger would."""
    cut = body_text.rindex(',"ip":')
    digest = hashlib.sha256(body_text.encode()).hexdigest()
    return (body_text[:cut] + ',"hash":"' + digest + '"' + body_text[cut:] + "\n").encode()


def test_non_canonical_lines_fail_even_with_a_matching_raw_hash() -> None:
    events, checkpoints, parsed = export_lines(60)
    body = {k: v for k, v in parsed[9].items() if k != "hash"}
    canonical = canonical_json(body).decode()
    assert check([*events[:9], forged_line(canonical), *events[10:]]) == (None, None)
    escaped = json.dumps(body, sort_keys=True, separators=(",", ":"))  # \u00f1 for ñ
    assert check([*events[:9], forged_line(escaped), *events[10:]]) == (10, "hash_mismatch")
    unsorted = canonical.replace(
        '{"minutes":1,"nested":{"a":null,"b":[1,"dos"]}}',
        '{"nested":{"b":[1,"dos"],"a":null},"minutes":1}',
    )
    assert unsorted != canonical
    assert check([*events[:9], forged_line(unsorted), *events[10:]]) == (10, "hash_mismatch")
    assert check([*events[:9], b"not json\n", *events[10:]]) == (10, "hash_mismatch")
    assert check([*events[:9], b"\n", *events[9:], *checkpoints]) == (None, None)


def test_parallel_file_path_agrees(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(offline, "_PARALLEL_MIN_BYTES", 0)
    events, checkpoints, _ = export_lines()
    cases = {
        "clean": (events + checkpoints, (None, None)),
        "edit": (
            [
                *events[:200],
                events[200].replace(b"gestor:1", b"gestor:2"),
                *events[201:],
                *checkpoints,
            ],
            (201, "hash_mismatch"),
        ),
        "delete": ([*events[:154], *events[155:], *checkpoints], (155, "gap")),
        "truncate": (events[:120] + checkpoints, (150, "checkpoint_mismatch")),
    }
    for name, (lines, expected) in cases.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_bytes(b"".join(lines))
        result = verify_file(str(path), KeyRing({}, RAW), from_genesis=True)
        assert (result.first_invalid_seq, result.problem) == expected, name
    assert result.checked == 120


def write_export(tmp_path: Path, lines: list[bytes]) -> str:
    path = tmp_path / "export.jsonl"
    path.write_bytes(b"".join(lines))
    return str(path)


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events, checkpoints, _ = export_lines(120)
    good = write_export(tmp_path, events + checkpoints)
    assert main([good, "--public-key", KEY_B64]) == 0
    assert capsys.readouterr().out.startswith("valid: 120 events, head seq 120")
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"".join([*events[:40], *events[41:], *checkpoints]))
    assert main([str(bad), "--public-key", KEY_B64]) == 1
    assert "first bad seq 41: gap" in capsys.readouterr().out
    assert main([str(tmp_path / "missing.jsonl"), "--public-key", KEY_B64]) == 2
    assert main([good, "--public-key", "bm90IGEga2V5"]) == 2
    assert main([good]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "cannot read" in err and "32-byte" in err


def test_key_files_bare_or_api_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events, checkpoints, _ = export_lines(60)
    export = write_export(tmp_path, events + checkpoints)
    bare = tmp_path / "key.txt"
    bare.write_text(KEY_B64 + "\n")
    assert main([export, "--public-key", str(bare)]) == 0
    api = tmp_path / "key.json"
    api.write_text(json.dumps({"algorithm": "ed25519", "public_key": KEY_B64, "key_version": 1}))
    assert main([export, "--public-key", str(api)]) == 0
    api.write_text(json.dumps({"algorithm": "ed25519", "public_key": KEY_B64, "key_version": 2}))
    assert main([export, "--public-key", str(api)]) == 1  # version 1 unknown: bad_signature
    assert "first bad seq 50: bad_signature" in capsys.readouterr().out
    assert main([export, "--public-key", str(api), "--public-key", KEY_B64]) == 0
    api.write_text("{broken")
    assert main([export, "--public-key", str(api)]) == 2
