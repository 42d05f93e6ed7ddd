"""The fields of a credential's current version and of the one a request writes (names only).

The rules are in ``service.domain.credential_fields``; this module reads what
they need: the request's removals, the account's credential events and facts.
"""

from __future__ import annotations

from collections.abc import Collection

from service.accounts.repository import AccountRepository
from service.credentials.repository import CredentialRepository
from service.credentials.schemas import CredentialIn
from service.domain.credential_fields import (
    NO_VERSION,
    Known,
    Removal,
    check_removals,
    shown_by_facts,
    version_fields,
)
from service.runtime import Runtime


def removals_of(cred: CredentialIn, named: Collection[str]) -> tuple[Removal, ...]:
    """The request's removals, checked against the fields it sends."""
    removals = tuple(Removal(r.field, r.reason.strip()) for r in cred.remove or ())
    check_removals(named, removals)
    return removals


async def current_fields(rt: Runtime, account_id: str, current: int) -> Known:
    """Version ``current``'s fields from the audit trail, else what the account's facts show.

    Read after recovery recorded every version Vault holds, so the latest event
    about ``current`` is about the version in Vault; the check-and-set on
    ``current`` keeps it so until the write.
    """
    if not current:
        return NO_VERSION
    async with rt.reader() as reader:
        events = await CredentialRepository(reader).credential_events(account_id)
        account = await AccountRepository(reader).get(account_id)
    listed = version_fields(events, current)
    if listed is not None:
        return Known(listed, complete=True)
    assert account is not None  # accounts are never deleted
    return shown_by_facts(
        account.two_factor_method, account.recovery_email_masked, account.recovery_phone_masked
    )
