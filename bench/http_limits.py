"""Server memory under a header flood (not a test): ``python bench/http_limits.py``.

    python bench/http_limits.py [--connections 32] [--header-mib 8] [--max-header-bytes N]

Starts its own OpenBao dev server and a ``custodia serve`` on a fresh SQLite
file, then opens ``--connections`` connections at once, each sending one header
of ``--header-mib`` MiB and leaving the head unfinished (a client gives up after
``--hold`` seconds), and prints the server's RSS (from /proc) before, at most
during, and after, with how each connection ended. ``--max-header-bytes``
sets CUSTODIA_HTTP_MAX_HEADER_BYTES (e.g. 1073741824 to see the server without
the cap).
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.devstack.bootstrap import bootstrap_vault  # noqa: E402
from service.settings import Settings  # noqa: E402
from tests.bao_server import start_dev_server, stop  # noqa: E402
from tests.support.http_server import MIB, header_flood, serve  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--header-mib", type=int, default=8)
    parser.add_argument("--max-header-bytes", type=int, default=None)
    parser.add_argument("--hold", type=float, default=10.0, help="seconds a client waits")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bao = start_dev_server(work)
        try:
            creds = bootstrap_vault(bao.addr, bao.root_token, ROOT / "vault_policies")
            settings = Settings(
                database_url=f"sqlite+aiosqlite:///{work / 'custodia.db'}",
                vault_addr=bao.addr,
                vault_role_id=creds.role_id,
                vault_secret_id=creds.secret_id,
            )
            env = {"CUSTODIA_HTTP_MAX_CONNECTIONS": str(args.connections + 8)}
            if args.max_header_bytes is not None:
                env["CUSTODIA_HTTP_MAX_HEADER_BYTES"] = str(args.max_header_bytes)
            with serve(settings, work / "server.log", **env) as served:
                served.get("/healthz")  # warm up
                flood = header_flood(served, args.connections, args.header_mib * MIB, args.hold)
        finally:
            stop(bao)
    ends = ", ".join(f"{n} × {what}" for what, n in collections.Counter(flood.outcomes).items())
    print(f"{args.connections} connections × {args.header_mib} MiB of headers: {ends}")
    print(f"RSS before: {flood.before:.1f} MiB")
    print(f"RSS during (max): {flood.during:.1f} MiB")
    print(f"RSS after: {flood.after:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
