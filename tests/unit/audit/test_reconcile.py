"""Reconciliation against a file audit log captured from a real OpenBao 2.7.2 dev server.

The capture (``data/openbao_audit.log``): checkout tokens chk-abc (gestor ges-1) and
chk-def (ges-2) read acc-123; the root token read acc-123 twice (once with
``?version=1``); chk-def was refused a second read (use limit); root read a
missing account and acc-999's metadata; chk-ghi, issued for acc-123, read acc-999.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.audit.reconcile import (
    CredentialRead,
    GrantedCheckout,
    main,
    reconcile,
    scan_audit_log,
)

LOG = Path(__file__).parent / "data" / "openbao_audit.log"
T0 = datetime(2026, 11, 28, 12, 14, 2, tzinfo=UTC)
ABC = GrantedCheckout("chk-abc", "acc-123", "ges-1", T0)
DEF = GrantedCheckout("chk-def", "acc-123", "ges-2", T0 + timedelta(milliseconds=800))
GHI = GrantedCheckout("chk-ghi", "acc-123", "ges-3", T0 + timedelta(seconds=33))


def checkout_lines() -> list[bytes]:
    """The part of the capture a clean run would produce: only checkout tokens."""
    keep = []
    for line in LOG.read_bytes().splitlines(keepends=True):
        metadata = (json.loads(line).get("auth") or {}).get("metadata") or {}
        if metadata.get("checkout_id") in {"chk-abc", "chk-def"}:
            keep.append(line)
    return keep


def test_scan_keeps_only_reads_that_released_a_credential() -> None:
    scan = scan_audit_log(LOG.read_bytes().splitlines())
    summary = [(r.account_id, r.checkout_id, r.gestor_id, r.token_account_id) for r in scan.reads]
    assert summary == [
        ("acc-123", "chk-abc", "ges-1", "acc-123"),
        ("acc-123", None, None, None),
        ("acc-123", "chk-def", "ges-2", "acc-123"),
        ("acc-123", None, None, None),
        ("acc-999", "chk-ghi", "ges-3", "acc-123"),
    ]
    assert scan.reads[0].time == datetime(2026, 11, 28, 12, 14, 2, 662271, tzinfo=UTC)
    assert scan.reads[0].request_id == "d0bd6bf7-1805-a65a-7e63-a9c66889a33f"
    assert scan.last_time == datetime(2026, 11, 28, 12, 14, 35, 650479, tzinfo=UTC)
    assert scan.unreadable_lines == 0
    assert scan_audit_log(LOG.read_bytes().splitlines(), mount="other").reads == []


def test_clean_run_has_no_mismatch() -> None:
    assert reconcile([ABC, DEF], scan_audit_log(checkout_lines()).reads) == []


def test_direct_reads_and_wrong_account_are_reported_both_ways() -> None:
    mismatches = reconcile([ABC, DEF, GHI], scan_audit_log(LOG.read_bytes().splitlines()).reads)
    assert [(m.kind, m.account_id, m.checkout_id) for m in mismatches] == [
        ("read_without_checkout", "acc-123", None),
        ("read_without_checkout", "acc-123", None),
        ("checkout_without_read", "acc-123", "chk-ghi"),
        ("read_without_checkout", "acc-999", "chk-ghi"),
    ]
    assert "no checkout_id" in mismatches[0].detail
    assert "for account acc-123" in mismatches[3].detail
    assert mismatches[0].line().startswith("2026-11-28T12:14:02.770559+00:00 read_without_checkout")


def test_unknown_checkout_and_foreign_gestor_metadata() -> None:
    read = CredentialRead(T0, "acc-1", "chk-x", "ges-1", "acc-1", "req-1")
    assert reconcile([], [read])[0].detail == "no granted checkout has this id"
    granted = GrantedCheckout("chk-x", "acc-1", "ges-2", T0)
    read_side, checkout_side = reconcile([granted], [read])
    assert (read_side.kind, checkout_side.kind) == (
        "read_without_checkout",
        "checkout_without_read",
    )
    assert "gestor" in read_side.detail


def test_window_limits_which_checkouts_need_a_read() -> None:
    late = GrantedCheckout("chk-late", "acc-123", "ges-1", T0 + timedelta(hours=1))
    early = GrantedCheckout("chk-early", "acc-123", "ges-1", T0 - timedelta(hours=1))
    reads = scan_audit_log(checkout_lines()).reads
    window = (T0 - timedelta(minutes=1), T0 + timedelta(minutes=1))
    assert reconcile([ABC, DEF, late, early], reads, window=window) == []
    assert [m.checkout_id for m in reconcile([ABC, DEF, late, early], reads)] == [
        "chk-early",
        "chk-late",
    ]


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    asked: list[datetime | None] = []

    def loader(since: datetime | None) -> list[GrantedCheckout]:
        asked.append(since)
        return [ABC, DEF, GHI]

    clean = tmp_path / "clean.log"
    clean.write_bytes(b"".join(checkout_lines()))
    assert main(["--vault-audit-log", str(clean)], lambda since: [ABC, DEF]) == 0
    assert "2 credential reads, 0 mismatches" in capsys.readouterr().out
    assert main(["--vault-audit-log", str(LOG)], loader) == 1
    out = capsys.readouterr().out
    assert "read_without_checkout account=acc-123 checkout=- gestor=-" in out
    assert "request=58949952-b903-e9b2-d9f9-dcf1f9a8b535" in out
    assert out.strip().endswith("5 credential reads, 4 mismatches")
    since = "2026-11-28T12:14:10Z"
    assert main(["--vault-audit-log", str(LOG), "--since", since], loader) == 1
    out = capsys.readouterr().out
    assert out.count("chk-ghi") == 2 and "chk-abc" not in out
    assert asked[-1] == datetime(2026, 11, 28, 12, 4, 10, tzinfo=UTC)
    assert main(["--vault-audit-log", str(tmp_path / "nope.log")], loader) == 2
    assert main(["--vault-audit-log", str(LOG), "--since", "yesterday"], loader) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_a_checkout_whose_read_failed_needs_no_read() -> None:
    failed = GrantedCheckout("chk-failed", "acc-9", "ges-9", T0, released=False)
    assert reconcile([failed], []) == []
    assert [m.kind for m in reconcile([dataclasses.replace(failed, released=True)], [])] == [
        "checkout_without_read"
    ]
