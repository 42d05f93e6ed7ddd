"""Run the Alembic migrations programmatically; they are the only schema source."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config


def migrations_dir() -> Path:
    """Alembic's script directory: the installed ``migrations`` package, not the checkout."""
    location = files("migrations")
    if not isinstance(location, Path):
        # Alembic reads env.py and versions/ from disk, so a zipped install cannot work.
        raise RuntimeError(f"the migrations package is not a directory on disk: {location}")
    return location


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade_to_head(database_url: str) -> None:
    """Bring the database at ``database_url`` to the latest schema."""
    _ensure_sqlite_dir(database_url)
    command.upgrade(alembic_config(database_url), "head")


def _ensure_sqlite_dir(database_url: str) -> None:
    prefix = "sqlite+aiosqlite:///"
    if database_url.startswith(prefix) and ":memory:" not in database_url:
        Path(database_url[len(prefix) :]).parent.mkdir(parents=True, exist_ok=True)
