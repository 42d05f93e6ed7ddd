"""``custodia dev`` keeps its home private: the folder 0700, the database and keys 0600."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.devstack.openbao import start_openbao, stop_openbao
from service.devstack.run import prepare_home
from tests.bao_server import free_port_pair
from tests.support.devstack import run_dev_until_ready, stop_dev


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """The usual umask (022): what the fix must not rely on being stricter."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def loose_modes(root: Path) -> dict[str, int]:
    """Every folder not 0700 and file not 0600 under ``root`` (itself included)."""
    loose = {} if mode(root) == 0o700 else {".": mode(root)}
    for folder, folders, files in os.walk(root):
        for name in folders + files:
            path = Path(folder) / name
            wanted = 0o700 if path.is_dir() else 0o600
            if not path.is_symlink() and mode(path) != wanted:
                loose[str(path.relative_to(root))] = mode(path)
    return loose


def test_a_new_home_is_private_and_so_is_its_database(tmp_path: Path) -> None:
    home = prepare_home(tmp_path / "new" / "home")
    assert mode(home) == 0o700
    assert mode(home / "custodia.db") == 0o600
    # SQLite gives the write-ahead log and shared memory the database file's mode.
    with sqlite3.connect(home / "custodia.db") as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (x)")
        db.execute("INSERT INTO t VALUES (1)")
        assert mode(home / "custodia.db-wal") == 0o600
        assert mode(home / "custodia.db-shm") == 0o600
    db.close()


def test_an_old_readable_home_is_tightened(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    for name in ("custodia.db", "custodia.db-wal", "custodia.db-shm", "admin-token"):
        (home / name).write_text("x")
        (home / name).chmod(0o644)
    prepare_home(home)
    assert loose_modes(home) == {}


def test_openbao_files_and_keys_are_private(tmp_path: Path) -> None:
    home = prepare_home(tmp_path / "home")
    old = home / "openbao" / "data"
    old.mkdir(parents=True, mode=0o755)
    (home / "openbao").chmod(0o755)
    (home / "openbao" / "init.json").write_text("{}")  # left 0644 by an older version
    server = start_openbao(home, free_port_pair())
    try:
        assert loose_modes(home / "openbao") == {}
    finally:
        stop_openbao(server)
    # What bao wrote while it ran (storage, logs) is private too.
    assert any((home / "openbao" / "data").iterdir())
    assert loose_modes(home) == {}


def test_custodia_dev_keeps_every_file_of_its_home_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    process = run_dev_until_ready(home, free_port_pair(), free_port_pair())
    try:
        running = loose_modes(home)
        assert (home / "custodia.db-wal").exists()  # checked while the API holds it open
    finally:
        stop_dev(process, signal.SIGTERM, home)
    assert running == {}
    assert loose_modes(home) == {}
    assert (home / "admin-token").is_file() and (home / "openbao" / "init.json").is_file()
