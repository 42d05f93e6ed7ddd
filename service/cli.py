"""The ``custodia`` command line."""

from __future__ import annotations

import argparse
import asyncio
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

    upgrade_to_head(settings.database_url)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None)
    return 0


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from service.db.migrate import upgrade_to_head

    upgrade_to_head(settings.database_url)
    print("database at head")
    return 0


def _dev(args: argparse.Namespace, settings: Settings) -> int:
    from service.devstack.run import run_dev

    return run_dev(settings)


def _tokens_create(args: argparse.Namespace, settings: Settings) -> int:
    from service.tokens.bootstrap import create_token

    print(asyncio.run(create_token(settings, role=args.role, name=args.name)))
    return 0


def _openapi(args: argparse.Namespace, settings: Settings) -> int:
    from service.openapi import write_openapi

    write_openapi(Path(args.output))
    return 0


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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"custodia: {exc}", file=sys.stderr)
        return 2
    run: Command = args.run
    return run(args, settings)


if __name__ == "__main__":
    sys.exit(main())
