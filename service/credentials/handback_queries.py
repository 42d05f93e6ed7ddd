"""Legacy: what rotations.triggers asks of custody, until it is deleted (use the bus instead).

The queries themselves live in CredentialRepository; rotations' own handlers
read the same facts through their repository.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.repository import AccountRepository
from service.accounts.usecases import profile_of_row
from service.credentials.repository import CredentialRepository
from service.domain.accounts import may_hold_credential


async def may_hold_now(session: AsyncSession, account_id: str, at: datetime) -> bool:
    """Whether the body may hold the account's password at ``at``; no such account: False."""
    account = await AccountRepository(session).get(account_id)
    return account is not None and may_hold_credential(profile_of_row(account), at)


async def ever_handed_back(session: AsyncSession, account_id: str) -> bool:
    return await CredentialRepository(session).ever_handed_back(account_id)
