"""Token creation outside HTTP: ``custodia tokens create`` and the dev stack's first admin."""

from __future__ import annotations

from service.principal import SYSTEM, Role
from service.runtime import build_runtime
from service.settings import Settings
from service.tokens.repository import TokenRepository
from service.tokens.usecases import issue_token


async def create_token(settings: Settings, *, role: Role, name: str) -> str:
    """Create a token and return its plaintext (printed once by the caller)."""
    rt = build_runtime(settings)
    try:
        issued = await issue_token(rt, SYSTEM, role=role, name=name)
    finally:
        await rt.engine.dispose()
    return issued.token


async def ensure_admin_token(settings: Settings) -> str | None:
    """On first start, create the first admin token; later starts return None."""
    rt = build_runtime(settings)
    try:
        async with rt.reader() as r:
            if await TokenRepository(r).any_admin():
                return None
        issued = await issue_token(rt, SYSTEM, role="admin", name="first-admin")
    finally:
        await rt.engine.dispose()
    return issued.token
