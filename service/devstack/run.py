"""``custodia dev``: local OpenBao, bootstrap, SQLite migrations and the API, in one process."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from service.devstack.bootstrap import AppRoleCredentials, bootstrap_vault, installed_policies_dir
from service.devstack.openbao import (
    OpenBaoProcess,
    start_openbao,
    stop_openbao,
    unseal_local,
)
from service.settings import Settings


@dataclass(frozen=True)
class LocalVault:
    """The bootstrapped local OpenBao and the service's AppRole credentials."""

    server: OpenBaoProcess
    creds: AppRoleCredentials
    first_start: bool

    @property
    def addr(self) -> str:
        return self.server.addr


class _Stop(Exception):
    """Raised by the SIGTERM handler so that cleanup runs as for Ctrl-C."""


def default_policies_dir() -> Path:
    """The Vault policies shipped with the package (service.devstack.bootstrap)."""
    return installed_policies_dir()


# The home holds the SQLite file, the admin token and OpenBao's keys: only its owner may look.
PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600
DATABASE_FILES = ("custodia.db", "custodia.db-wal", "custodia.db-shm", "custodia.db-journal")


def prepare_home(home: Path) -> Path:
    """Create ``home`` 0700 (tightening one that exists) with its private files 0600.

    The SQLite file is created here, empty and 0600, before anything opens it:
    SQLite gives its -wal, -shm and -journal files the database file's mode. Files
    an older version left readable (the database, the admin token) are tightened.
    """
    home = home.resolve()
    home.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    home.chmod(PRIVATE_DIR)
    os.close(os.open(home / "custodia.db", os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    for name in (*DATABASE_FILES, "admin-token"):
        with contextlib.suppress(FileNotFoundError):
            (home / name).chmod(PRIVATE_FILE)
    return home


def sqlite_url(home: Path) -> str:
    """The aiosqlite URL of ``$CUSTODIA_HOME/custodia.db`` (absolute path)."""
    return f"sqlite+aiosqlite:///{home.resolve() / 'custodia.db'}"


def start_local_vault(settings: Settings, policies_dir: Path | None = None) -> LocalVault:
    """Start, initialise or unseal, and bootstrap the local OpenBao; stops it on failure."""
    server = start_openbao(settings.home, settings.vault_port)
    try:
        root_token, first = unseal_local(server)
        creds = bootstrap_vault(server.addr, root_token, policies_dir or default_policies_dir())
    except BaseException:
        stop_openbao(server)
        raise
    return LocalVault(server=server, creds=creds, first_start=first)


def service_settings(settings: Settings, vault: LocalVault) -> Settings:
    """Settings of the API: the local OpenBao through AppRole and the home SQLite file."""
    return dataclasses.replace(
        settings,
        home=settings.home.resolve(),
        vault_addr=vault.addr,
        vault_token=None,
        vault_role_id=vault.creds.role_id,
        vault_secret_id=vault.creds.secret_id,
        database_url=sqlite_url(settings.home),
    )


def write_admin_token(home: Path, token: str) -> Path:
    """Store the admin token in ``$CUSTODIA_HOME/admin-token`` with mode 0600."""
    path = home / "admin-token"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    path.chmod(0o600)
    return path


def _say(message: str) -> None:
    print(f"custodia dev: {message}", file=sys.stderr, flush=True)


def _serve(settings: Settings) -> None:
    """Migrate, ensure the admin token, then serve the API until a signal stops it."""
    # Imported lazily: these modules pull in the whole app, and the OpenBao half of the
    # dev stack is usable (and tested) without them.
    import uvicorn

    from service.app import create_app
    from service.db.migrate import upgrade_to_head
    from service.http.server import server_config
    from service.tokens.bootstrap import ensure_admin_token

    upgrade_to_head(settings.database_url)
    token = asyncio.run(ensure_admin_token(settings))
    if token is not None:
        path = write_admin_token(settings.home, token)
        print(f"Admin API token (shown once, also stored in {path}):\n{token}", flush=True)
    else:
        _say(f"admin token: see {settings.home / 'admin-token'}")
    _say(f"API on http://{settings.host}:{settings.port} (docs at /schema)")
    config = server_config(
        create_app(settings), settings, log_level="warning", access_log=False, lifespan="on"
    )
    uvicorn.Server(config).run()


def local_stack_settings(settings: Settings) -> Settings:
    """Settings to reach a running ``custodia dev`` stack from another command.

    Commands such as ``custodia demo seed`` run beside the stack; when no Vault
    credentials are configured they get a fresh AppRole secret-id from the local
    OpenBao, whose root token is kept (local-only) in ``init.json``.
    """
    if settings.vault_token or settings.vault_role_id:
        return settings
    home = settings.home.resolve()
    init_file = home / "openbao" / "init.json"
    if not init_file.is_file():
        return settings
    addr = f"http://127.0.0.1:{settings.vault_port}"
    root_token = str(json.loads(init_file.read_text(encoding="utf-8"))["root_token"])
    creds = bootstrap_vault(addr, root_token, default_policies_dir())
    return dataclasses.replace(
        settings,
        home=home,
        vault_addr=addr,
        vault_role_id=creds.role_id,
        vault_secret_id=creds.secret_id,
        database_url=sqlite_url(home)
        if settings.database_url == Settings().database_url
        else settings.database_url,
    )


def run_dev(settings: Settings) -> int:
    """Run the whole local stack in the foreground; return the process exit code."""

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise _Stop

    # uvicorn re-raises the signals it captured once it has shut down; with this
    # handler that turns into _Stop, so OpenBao is still stopped on SIGTERM.
    previous = signal.signal(signal.SIGTERM, on_sigterm)
    home = prepare_home(settings.home)
    settings = dataclasses.replace(settings, home=home)
    vault: LocalVault | None = None
    try:
        _say(f"starting OpenBao on 127.0.0.1:{settings.vault_port} (data in {home / 'openbao'})")
        vault = start_local_vault(settings)
        _say("OpenBao initialised" if vault.first_start else "OpenBao unsealed")
        _serve(service_settings(settings, vault))
        return 0
    except (KeyboardInterrupt, _Stop):
        return 0
    except Exception as exc:
        _say(f"error: {exc}")
        return 1
    finally:
        if vault is not None:
            with contextlib.suppress(KeyboardInterrupt, _Stop):
                stop_openbao(vault.server)
            _say("OpenBao stopped")
        signal.signal(signal.SIGTERM, previous)
