"""Canary searches: every table dumped as text, and where a secret shows up in it."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import MetaData, select

from tests.support.apps import Client, runtime_of

# A real server in a subprocess, logging at DEBUG (the canaries must not reach its log).
SERVE = (
    "import uvicorn; from service.app import create_app; from service.settings import Settings; "
    "s = Settings.from_env(); "
    "uvicorn.run(create_app(s), host=s.host, port=s.port, log_config=None, log_level='debug')"
)


def code_pattern(code: str) -> re.Pattern[str]:
    """A six-digit code standing alone: not inside a hex id, a time fraction or a number."""
    return re.compile(rf"(?<![0-9A-Fa-f.:\-]){code}(?![0-9A-Fa-f])")


def leaks(text: str, secrets: dict[str, Any]) -> list[str]:
    found = [s for s in secrets["strings"] if s in text]
    found += [c for c in secrets["codes"] if code_pattern(c).search(text)]
    return found


async def dump_tables(client: Client) -> str:
    rt = runtime_of(client)
    meta = MetaData()
    async with rt.engine.connect() as conn:
        await conn.run_sync(meta.reflect)
        parts = []
        for table in meta.sorted_tables:
            for row in (await conn.execute(select(table))).all():
                parts.append(f"{table.name}: {tuple(row)!r}")
    return "\n".join(parts)
