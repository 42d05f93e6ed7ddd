"""``custodia audit reconcile``: granted checkouts against OpenBao's own file audit log.

What the log holds (observed on OpenBao 2.7.2 with a declarative file device,
default options; ``bao audit enable`` is refused, the device must be declared in
the server config with ``audit "file" "main" { options { file_path = ... } }``):

* one JSON object per line, each request logged twice: ``"type": "request"``
  before the backend runs and ``"type": "response"`` after; ``time`` is RFC 3339
  with nanoseconds;
* ``request.path`` (``custodia-kv/data/accounts/<id>``), ``request.operation``
  (``read``), ``request.id`` and ``request.remote_address`` are in clear;
* ``auth.metadata`` (our ``checkout_id``, ``gestor_id``, ``account_id``) is in
  clear; tokens, accessors and every secret value are ``hmac-sha256:...``;
* a read with the service's own or the root token has no ``auth.metadata``;
* a refused read has an ``error`` key ("permission denied") and no data; a read
  of a missing secret has a response without ``data``.

We count **response** entries of ``read`` on a credential path, with data and
without ``error``: those are the reads that released a password. Request
entries would also count refused attempts, which released nothing.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

# a checkout granted slightly before --since may be read after it
_SINCE_SLACK = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class GrantedCheckout:
    """A granted checkout as the database records it."""

    checkout_id: str
    account_id: str
    gestor_id: str
    granted_at: datetime
    # False when the service recorded that the Vault read failed (checkout.failed):
    # such a checkout may have a read behind it but is not required to.
    released: bool = True


# the CLI wiring passes one that reads the database; it gets ``since`` minus a slack
CheckoutLoader = Callable[[datetime | None], Iterable[GrantedCheckout]]


@dataclass(frozen=True, slots=True)
class CredentialRead:
    """A read of a credential path that returned the secret, per OpenBao's audit log."""

    time: datetime
    account_id: str
    checkout_id: str | None
    gestor_id: str | None
    token_account_id: str | None
    request_id: str | None


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One side without the other."""

    kind: Literal["checkout_without_read", "read_without_checkout"]
    time: datetime
    account_id: str
    checkout_id: str | None
    gestor_id: str | None
    request_id: str | None
    detail: str

    def line(self) -> str:
        """One report line."""
        return (
            f"{self.time.isoformat()} {self.kind} account={self.account_id}"
            f" checkout={self.checkout_id or '-'} gestor={self.gestor_id or '-'}"
            f" request={self.request_id or '-'}: {self.detail}"
        )


def _parse_time(value: str) -> datetime:
    when = datetime.fromisoformat(value)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


@dataclass(slots=True)
class AuditLogScan:
    """What one pass over the log found."""

    reads: list[CredentialRead]
    last_time: datetime | None = None
    unreadable_lines: int = 0


def scan_audit_log(
    lines: Iterable[str | bytes], *, mount: str = "custodia-kv", since: datetime | None = None
) -> AuditLogScan:
    """Credential reads that returned data, at or after ``since``, and the log's last time."""
    path = re.compile(re.escape(mount.strip("/")) + r"/data/accounts/([^/]+)")
    scan = AuditLogScan(reads=[])
    for line in lines:
        try:
            entry = json.loads(line)
            when = _parse_time(entry["time"])
        except (ValueError, KeyError, TypeError):
            scan.unreadable_lines += 1
            continue
        scan.last_time = when if scan.last_time is None else max(scan.last_time, when)
        if entry.get("type") != "response" or "error" in entry:
            continue
        request = _dict(entry.get("request"))
        match = path.fullmatch(str(request.get("path", "")))
        if request.get("operation") != "read" or match is None:
            continue
        if not _dict(entry.get("response")).get("data") or (since and when < since):
            continue  # a missing secret released nothing
        metadata = _dict(_dict(entry.get("auth")).get("metadata"))
        scan.reads.append(
            CredentialRead(
                time=when,
                account_id=match.group(1),
                checkout_id=_opt(metadata.get("checkout_id")),
                gestor_id=_opt(metadata.get("gestor_id")),
                token_account_id=_opt(metadata.get("account_id")),
                request_id=_opt(request.get("id")),
            )
        )
    return scan


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _opt(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def reconcile(
    checkouts: Iterable[GrantedCheckout],
    reads: Iterable[CredentialRead],
    *,
    window: tuple[datetime | None, datetime | None] = (None, None),
) -> list[Mismatch]:
    """Both ways: every checkout has a read carrying its id, every read has a checkout.

    Checkouts granted outside ``window`` may back reads but need not have one.
    """
    start, end = window
    by_id = {c.checkout_id: c for c in checkouts}
    read_ids: set[str] = set()
    mismatches: list[Mismatch] = []
    for read in reads:
        problem = _read_problem(read, by_id)
        if problem is None:
            read_ids.add(read.checkout_id or "")
            continue
        mismatches.append(
            Mismatch(
                "read_without_checkout",
                read.time,
                read.account_id,
                read.checkout_id,
                read.gestor_id,
                read.request_id,
                problem,
            )
        )
    for checkout in by_id.values():
        outside = (start is not None and checkout.granted_at < start) or (
            end is not None and checkout.granted_at > end
        )
        if checkout.checkout_id not in read_ids and checkout.released and not outside:
            mismatches.append(
                Mismatch(
                    "checkout_without_read",
                    checkout.granted_at,
                    checkout.account_id,
                    checkout.checkout_id,
                    checkout.gestor_id,
                    None,
                    "no read of the account's credential with this checkout's token",
                )
            )
    return sorted(mismatches, key=lambda m: m.time)


def _read_problem(read: CredentialRead, by_id: dict[str, GrantedCheckout]) -> str | None:
    if read.checkout_id is None:
        return "token has no checkout_id metadata (service or root token used directly)"
    checkout = by_id.get(read.checkout_id)
    if checkout is None:
        return "no granted checkout has this id"
    if checkout.account_id != read.account_id:
        return f"checkout is for account {checkout.account_id}, not the account read"
    if read.gestor_id != checkout.gestor_id or read.token_account_id != checkout.account_id:
        return "token metadata does not name the checkout's gestor and account"
    return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="custodia audit reconcile",
        description="Match granted checkouts with credential reads in OpenBao's audit log.",
    )
    parser.add_argument("--vault-audit-log", required=True, metavar="FILE")
    parser.add_argument("--since", type=_parse_time, metavar="ISO", help="RFC 3339 time")
    parser.add_argument("--mount", default="custodia-kv", help="KV v2 mount of credentials")
    return parser


def main(
    argv: list[str], load_checkouts: Callable[[datetime | None], Iterable[GrantedCheckout]]
) -> int:
    """Entry point; ``load_checkouts(since)`` yields granted checkouts from ``since`` on."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage message
        return exc.code if isinstance(exc.code, int) else 2
    since: datetime | None = args.since
    try:
        with open(args.vault_audit_log, "rb") as log:
            scan = scan_audit_log(log, mount=args.mount, since=since)
    except OSError as exc:
        print(
            f"custodia audit reconcile: cannot read {args.vault_audit_log}: {exc.strerror}",
            file=sys.stderr,
        )
        return 2
    if scan.unreadable_lines:
        print(f"warning: {scan.unreadable_lines} log lines are not audit entries", file=sys.stderr)
    checkouts = list(load_checkouts(None if since is None else since - _SINCE_SLACK))
    # a checkout granted after the log ends is beyond what this log can show
    mismatches = reconcile(checkouts, scan.reads, window=(since, scan.last_time))
    for mismatch in mismatches:
        print(mismatch.line())
    print(f"{len(scan.reads)} credential reads, {len(mismatches)} mismatches")
    return 1 if mismatches else 0
