"""The ``custodia`` command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Callable
from pathlib import Path

from service.settings import Settings, SettingsError

Command = Callable[[argparse.Namespace, Settings], int]


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    """Migrate, then serve the API with uvicorn (production entry point)."""
    import uvicorn

    from service.app import create_app
    from service.db.migrate import upgrade_to_head
    from service.http.server import server_config

    upgrade_to_head(settings.database_url)
    server = uvicorn.Server(server_config(create_app(settings), settings))
    # As uvicorn.run: Ctrl-C (re-raised once uvicorn has shut down) is a clean stop,
    # and exit status 3 says the app failed to start (e.g. Vault unreachable).
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    return 0 if server.started else 3


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from service.db.migrate import upgrade_to_head

    upgrade_to_head(settings.database_url)
    print("database at head")
    return 0


def _dev(args: argparse.Namespace, settings: Settings) -> int:
    from service.devstack.run import run_dev

    return run_dev(settings)


def _vault_bootstrap(args: argparse.Namespace, settings: Settings) -> int:
    """Initialise or unseal OpenBao, install policies and write the service's AppRole env."""
    from service.devstack.compose import compose_bootstrap
    from service.devstack.run import default_policies_dir

    compose_bootstrap(
        settings.vault_addr, default_policies_dir(), Path(args.init_file), Path(args.env_file)
    )
    print(f"vault bootstrapped; AppRole settings written to {args.env_file}")
    return 0


def _tokens_create(args: argparse.Namespace, settings: Settings) -> int:
    from service.tokens.bootstrap import create_token

    print(asyncio.run(create_token(settings, role=args.role, name=args.name)))
    return 0


def _openapi(args: argparse.Namespace, settings: Settings) -> int:
    from service.http.openapi import write_openapi

    write_openapi(Path(args.output))
    return 0


def _audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    """Offline: needs neither the database nor Vault."""
    from service.audit.offline import main as verify_main

    keys = [part for key in args.public_key for part in ("--public-key", key)]
    return verify_main([args.export, *keys, *(["--from-genesis"] if args.from_genesis else [])])


def _audit_reconcile(args: argparse.Namespace, settings: Settings) -> int:
    from service.audit.granted import granted_checkouts
    from service.audit.reconcile import main as reconcile_main

    argv = ["--vault-audit-log", args.vault_audit_log, "--mount", settings.vault_kv_mount]
    if args.since:
        argv += ["--since", args.since]
    return reconcile_main(argv, lambda since: asyncio.run(granted_checkouts(settings, since)))


def _rotations_scan(args: argparse.Namespace, settings: Settings) -> int:
    from service.rotations.jobs import scan_once

    print(f"max_age obligations opened: {asyncio.run(scan_once(settings))}")
    return 0


def _directory_export(args: argparse.Namespace, settings: Settings) -> int:
    from service.directory.export import export_directory

    output = Path(args.output) if args.output else None
    digest = asyncio.run(export_directory(settings, args.format, output))
    if output is not None:
        print(f"directorio written to {output} (sha256 {digest})")
    return 0


def _demo_seed(args: argparse.Namespace, settings: Settings) -> int:
    from service.demo.seed import run_demo_seed
    from service.devstack.run import local_stack_settings

    return asyncio.run(run_demo_seed(local_stack_settings(settings)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="custodia", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="migrate and serve the API").set_defaults(run=_serve)
    sub.add_parser("migrate", help="bring the database to the latest schema").set_defaults(
        run=_migrate
    )
    sub.add_parser("dev", help="run the embedded local stack (OpenBao + SQLite)").set_defaults(
        run=_dev
    )
    boot = sub.add_parser(
        "vault-bootstrap", help="initialise/unseal OpenBao and install policies (compose)"
    )
    boot.add_argument("--init-file", required=True, help="where the init keys are kept (0600)")
    boot.add_argument("--env-file", required=True, help="where to write the AppRole settings")
    boot.set_defaults(run=_vault_bootstrap)
    tokens = sub.add_parser("tokens", help="API tokens").add_subparsers(
        dest="tokens", required=True
    )
    create = tokens.add_parser("create", help="create an admin or auditor token; prints it alone")
    create.add_argument("--role", choices=["admin", "auditor"], required=True)
    create.add_argument("--name", required=True)
    create.set_defaults(run=_tokens_create)
    openapi = sub.add_parser("openapi", help="write the OpenAPI document generated from the app")
    openapi.add_argument("--output", default="openapi.yaml")
    openapi.set_defaults(run=_openapi)
    audit = sub.add_parser("audit", help="verify and reconcile the audit trail").add_subparsers(
        dest="audit", required=True
    )
    verify = audit.add_parser("verify", help="verify an export offline; exit 1 when invalid")
    verify.add_argument("export", help="JSON Lines from GET /v1/audit/export, or - for stdin")
    verify.add_argument("--public-key", action="append", required=True, metavar="KEY")
    verify.add_argument("--from-genesis", action="store_true", help="require seq 1 first")
    # Offline by design: no setting is read, so no unrelated variable can stop it.
    verify.set_defaults(run=_audit_verify, offline=True)
    reconcile = audit.add_parser(
        "reconcile", help="match granted checkouts with OpenBao's audit log; exit 1 on mismatch"
    )
    reconcile.add_argument("--vault-audit-log", required=True, metavar="FILE")
    reconcile.add_argument("--since", metavar="RFC3339")
    reconcile.set_defaults(run=_audit_reconcile)
    rotations = sub.add_parser("rotations", help="rotation obligations").add_subparsers(
        dest="rotations", required=True
    )
    rotations.add_parser(
        "scan", help="open max_age obligations for credentials past the maximum age"
    ).set_defaults(run=_rotations_scan)
    directory = sub.add_parser("directory", help="the public directorio").add_subparsers(
        dest="directory", required=True
    )
    export = directory.add_parser("export", help="write the directorio as the API serves it")
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument("--output", metavar="FILE", help="default: standard output")
    export.set_defaults(run=_directory_export)
    demo = sub.add_parser("demo", help="demonstration data").add_subparsers(
        dest="demo", required=True
    )
    demo.add_parser(
        "seed", help="fill a local instance with a realistic fictional body (refuses twice)"
    ).set_defaults(run=_demo_seed)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "offline", False):
        return int(args.run(args, Settings()))
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"custodia: {exc}", file=sys.stderr)
        return 2
    run: Command = args.run
    return run(args, settings)


if __name__ == "__main__":
    sys.exit(main())
