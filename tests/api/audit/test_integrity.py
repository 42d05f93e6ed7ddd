"""Signed checkpoints, public key, verification and export, on real OpenBao and both databases."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import io
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from service.audit.canonical import checkpoint_message
from service.audit.checkpoints import make_due_checkpoints
from service.audit.offline import main as offline_main
from service.cli import main as cli_main
from service.clock import FrozenClock
from service.db.models import AuditCheckpoint, AuditEvent
from service.errors import VaultUnavailable
from service.principal import SYSTEM
from service.runtime import build_runtime
from service.tokens.usecases import issue_token
from tests.support.apps import AppFactory, Client, runtime_of
from tests.support.factories import add_events
from tests.support.reads import head_seq


def lines_of(body: bytes) -> list[bytes]:
    return [line for line in body.split(b"\n") if line]


def kinds(lines: list[bytes]) -> dict[str, Any]:
    """Counts of event and checkpoint lines in an export."""
    checkpoints = sum(1 for line in lines if line.startswith(b'{"hash"'))
    return {"events": len(lines) - checkpoints, "checkpoints": checkpoints}


async def _checkpoint_seqs(client: Client) -> set[int]:
    async with runtime_of(client).sessions() as session:
        return set((await session.execute(select(AuditCheckpoint.seq))).scalars())


async def test_public_key_verifies_stored_checkpoints(
    make_client: AppFactory, auditor: dict[str, str]
) -> None:
    client = await make_client(checkpoint_every_events=7, checkpoint_every_seconds=10**9)
    rt = runtime_of(client)
    await add_events(rt, 8, "pk")
    await make_due_checkpoints(rt)
    head = await head_seq(rt)
    assert head // 7 * 7 in await _checkpoint_seqs(client)

    key = (await client.get("/v1/audit/public-key", headers=auditor)).json()
    assert key["algorithm"] == "ed25519" and isinstance(key["key_version"], int)
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key["public_key"]))
    listed = await client.get("/v1/audit/checkpoints", headers=auditor)
    assert listed.status_code == 200, listed.text
    assert listed.json(), "no checkpoint listed"
    for checkpoint in listed.json():
        signature = base64.b64decode(checkpoint["signature"], validate=True)
        assert len(signature) == 64 and not checkpoint["signature"].startswith("vault:")
        public.verify(
            signature, checkpoint_message(checkpoint["seq"], checkpoint["hash"], checkpoint["ts"])
        )
    async with rt.sessions() as session:
        last = (
            await session.execute(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))
        ).scalar_one()
    assert (last.action, last.actor_role) == ("audit.checkpoints_listed", "auditor")


async def test_roles_and_bad_filters(
    client: Client, admin: dict[str, str], auditor: dict[str, str]
) -> None:
    issued = await issue_token(runtime_of(client), SYSTEM, role="gestor", name="not-an-auditor")
    gestor = {"Authorization": f"Bearer {issued.token}"}
    paths = ("/v1/audit/public-key", "/v1/audit/checkpoints", "/v1/audit/verify")
    for path in (*paths, "/v1/audit/export"):
        assert (await client.get(path)).status_code == 401
        assert (await client.get(path, headers=gestor)).status_code == 403
    for path in paths:
        assert (await client.get(path, headers=admin)).status_code == 200
    bad = [
        "since=yesterday",
        "since=2026-11-28",
        "until=2026-11-28T12:00:00",  # no offset: ambiguous
        "since=2026-11-28T12:00:00Z&until=2026-11-28T11:00:00Z",
        "until=9999-12-31T23:59:59-01:00",  # past datetime's range once in UTC
        "since=9999-12-31T00:00:00Z",
    ]
    for query in bad:
        for path in ("/v1/audit/export", "/v1/audit/events"):
            resp = await client.get(f"{path}?{query}", headers=auditor)
            assert resp.status_code == 400, (path, query, resp.text)
            assert resp.headers["content-type"].startswith("application/problem+json")
    far = await client.get("/v1/audit/events?until=9999-12-29T00:00:00Z", headers=auditor)
    assert far.status_code == 200, far.text
    for query in ("limit=0", "limit=1001", "after_seq=-1", "limit=x"):
        resp = await client.get(f"/v1/audit/checkpoints?{query}", headers=auditor)
        assert resp.status_code == 400, (query, resp.text)


async def test_checkpoint_by_age_of_oldest_unsigned_event(make_client: AppFactory) -> None:
    clock = FrozenClock(datetime.now(UTC) + timedelta(days=3650))
    client = await make_client(
        clock=clock, checkpoint_every_events=10**9, checkpoint_every_seconds=300
    )
    rt = runtime_of(client)
    await add_events(rt, 1, "age")
    await make_due_checkpoints(rt)  # whatever older events were pending
    await add_events(rt, 3, "age")
    head = await head_seq(rt)
    assert await make_due_checkpoints(rt) == []
    clock.advance(timedelta(seconds=299))
    assert await make_due_checkpoints(rt) == []
    clock.advance(timedelta(seconds=1))
    assert await make_due_checkpoints(rt) == [head]
    assert await make_due_checkpoints(rt) == []


async def test_vault_unavailable_means_no_checkpoint_then_a_retry(
    make_client: AppFactory,
) -> None:
    client = await make_client(checkpoint_every_events=5, checkpoint_every_seconds=10**9)
    rt = runtime_of(client)
    await make_due_checkpoints(rt)
    await add_events(rt, 5, "down")
    due = await head_seq(rt) // 5 * 5
    down = build_runtime(dataclasses.replace(rt.settings, vault_addr="http://127.0.0.1:9"))
    try:
        try:
            await make_due_checkpoints(down)
        except VaultUnavailable:
            pass
        else:
            raise AssertionError("a checkpoint was made without Vault")
    finally:
        await down.stop()
    assert due not in await _checkpoint_seqs(client)
    assert due in await make_due_checkpoints(rt)
    async with rt.sessions() as session:
        row = await session.get(AuditCheckpoint, due)
        event = await session.get(AuditEvent, due)
    assert row is not None and event is not None
    assert (row.hash, row.ts) == (event.hash, event.ts)


async def test_append_crossing_a_multiple_wakes_the_job(make_client: AppFactory) -> None:
    client = await make_client(checkpoint_every_events=4)
    rt = runtime_of(client)
    rt.checkpoint_due.clear()
    while (await head_seq(rt) + 1) % 4 != 0:
        await add_events(rt, 1, "wake")
        assert not rt.checkpoint_due.is_set()
    await add_events(rt, 1, "wake")
    assert rt.checkpoint_due.is_set()


async def test_verify_is_valid_and_audited(
    client: Client, auditor: dict[str, str], tmp_path: Path
) -> None:
    rt = runtime_of(client)
    await add_events(rt, 3, "verify")
    await make_due_checkpoints(rt)
    resp = await client.get("/v1/audit/verify", headers=auditor)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["valid"] is True, body
    assert body["problem"] is None and body["first_invalid_seq"] is None
    assert body["checked"] == body["head"]["seq"] >= 3
    async with rt.sessions() as session:
        last = (
            await session.execute(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))
        ).scalar_one()
    assert last.action == "audit.verified" and json.loads(last.details)["valid"] is True


async def _export(client: Client, headers: dict[str, str], query: str = "") -> bytes:
    resp = await client.get(f"/v1/audit/export{query}", headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/x-ndjson")
    assert 'filename="custodia-audit-' in resp.headers["content-disposition"]
    return resp.content


def _offline(tmp_path: Path, body: bytes, key: str) -> tuple[int, str]:
    path = tmp_path / f"export-{random.random()}.jsonl"
    path.write_bytes(body)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = offline_main([str(path), "--public-key", key])
    return code, out.getvalue()


async def test_export_verifies_offline_and_any_single_edit_fails(
    make_client: AppFactory,
    auditor: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = await make_client(checkpoint_every_events=5, checkpoint_every_seconds=10**9)
    rt = runtime_of(client)
    before = datetime.now(UTC)
    await add_events(rt, 12, "export")
    await make_due_checkpoints(rt)
    key = (await client.get("/v1/audit/public-key", headers=auditor)).json()["public_key"]

    whole = await _export(client, auditor)
    assert whole.endswith(b"\n")
    code, out = _offline(tmp_path, whole, key)
    assert code == 0, out
    exported = tmp_path / "whole.jsonl"
    exported.write_bytes(whole)
    argv = ["audit", "verify", str(exported), "--public-key", key, "--from-genesis"]
    # Needs neither the database nor Vault, nor any setting: a broken one must not matter.
    monkeypatch.setenv("CUSTODIA_PORT", "not-a-port")
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert await asyncio.to_thread(cli_main, argv) == 0, printed.getvalue()
    exported.write_bytes(b"\n".join(lines_of(whole)[1:]) + b"\n")  # first event dropped
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert await asyncio.to_thread(cli_main, argv) == 1
    assert "first bad seq 1: gap" in printed.getvalue()
    assert kinds(lines_of(whole))["checkpoints"] >= 2

    since = before.isoformat().replace("+00:00", "Z")
    part = await _export(client, auditor, f"?since={since}")
    lines = lines_of(part)
    first = json.loads(lines[0])
    assert first["seq"] > 1, "a mid-chain export starts at its range"
    assert _offline(tmp_path, part, key)[0] == 0

    events = [line for line in lines if not line.startswith(b'{"hash"')]
    rng = random.Random(4)
    for trial in range(80):
        # the first line is trusted as the start, so an edit there is caught at its own
        # (possibly edited) seq; every later line must be caught exactly where it is
        index = 0 if trial == 0 else rng.randrange(1, len(events))
        seq = json.loads(events[index])["seq"]
        line = bytearray(events[index])
        pos = rng.randrange(len(line))
        line[pos] = rng.choice([b for b in b'0123456789abcdefxyz{}":, \xc3' if b != line[pos]])
        edited = part.replace(events[index] + b"\n", bytes(line) + b"\n", 1)
        code, out = _offline(tmp_path, edited, key)
        assert code == 1, (pos, out)
        if index:
            assert f"first bad seq {seq}:" in out, (pos, bytes(line), out)

    other_key = base64.b64encode(bytes(range(32))).decode()
    code, out = _offline(tmp_path, part, other_key)
    assert code == 1 and "bad_signature" in out, out


async def test_export_range_and_empty_range(
    client: Client, auditor: dict[str, str], tmp_path: Path
) -> None:
    far = "2099-01-01T00:00:00Z"
    body = await _export(client, auditor, f"?since={far}")
    assert body == b""
    old = await _export(client, auditor, "?until=2000-01-01T00:00:00%2B00:00")
    assert old == b""
