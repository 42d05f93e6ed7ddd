"""Listing credential versions: SQL's record, plus any version Vault has that SQL lacks."""

from __future__ import annotations

from service.accounts.repository import AccountRepository
from service.credentials.repository import CredentialRepository
from service.credentials.schemas import VersionOut
from service.errors import NotFound, VaultUnavailable
from service.runtime import Runtime


async def list_versions(rt: Runtime, account_id: str) -> list[VersionOut]:
    """SQL's record of each version, plus any version Vault has that SQL lost."""
    async with rt.reader() as reader:
        if await AccountRepository(reader).get(account_id) is None:
            raise NotFound(f"No account with id {account_id}")
        rows = await CredentialRepository(reader).versions(account_id)
    out = {
        r.version: VersionOut(
            r.version,
            r.created_time,
            r.written_by,
            r.written_by_role,
            r.reason,
            r.checkout_id,
            r.is_rotation,
            True,
        )
        for r in rows
    }
    try:
        in_vault = await rt.vault.credential_versions(account_id)
    except VaultUnavailable:
        in_vault = {}  # SQL's record still answers while Vault is away
    for number, meta in in_vault.items():
        if number not in out:
            out[number] = VersionOut(number, meta.created_time, None, None, None, None, None, False)
    return [out[n] for n in sorted(out)]
