"""Creating, changing and retiring accounts; each change is an audit event."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from service.accounts.repository import AccountRepository
from service.accounts.schemas import AccountIn, AccountOut, AccountPatch
from service.audit.log import Entry
from service.db.models import Account
from service.domain.accounts import AccountProfile, validate_account
from service.domain.contact import validate_http_url
from service.domain.events import AccessEnded, CheckoutsClosed
from service.errors import Conflict, NotFound
from service.principal import Caller
from service.runtime import Runtime

PERSONAL_FIELDS = ("owner_name", "owner_cargo", "hierarchy_level", "term_ends_on")


def profile_of(values: dict[str, Any]) -> AccountProfile:
    return AccountProfile(
        kind=values["kind"],
        owner_name=values.get("owner_name"),
        owner_cargo=values.get("owner_cargo"),
        hierarchy_level=values.get("hierarchy_level"),
        managed_by_area=bool(values.get("managed_by_area")),
        term_ends_on=values.get("term_ends_on"),
        in_directory=bool(values.get("in_directory")),
    )


def profile_of_row(row: Account) -> AccountProfile:
    return profile_of({k: getattr(row, k) for k in AccountIn.__struct_fields__})


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    """Apply the domain rules; an official account keeps no personal fields."""
    values["url"] = validate_http_url(values["url"])
    validate_account(profile_of(values))
    if values["kind"] == "oficial":
        values.update(dict.fromkeys(PERSONAL_FIELDS), managed_by_area=False)
    return values


def account_out(row: Account) -> AccountOut:
    return AccountOut(
        id=row.id,
        platform=row.platform,
        handle=row.handle,
        url=row.url,
        display_name=row.display_name,
        area=row.area,
        kind=row.kind,
        owner_name=row.owner_name,
        owner_cargo=row.owner_cargo,
        hierarchy_level=row.hierarchy_level,
        managed_by_area=row.managed_by_area,
        term_ends_on=row.term_ends_on,
        verified=row.verified,
        in_directory=row.in_directory,
        created_at=row.created_at,
        updated_at=row.updated_at,
        retired_at=row.retired_at,
        credential_version=row.credential_version,
        credential_created_time=row.credential_created_time,
        two_factor_method=row.two_factor_method,
        recovery_email_masked=row.recovery_email_masked,
        recovery_phone_masked=row.recovery_phone_masked,
    )


async def create_account(rt: Runtime, caller: Caller, data: AccountIn) -> AccountOut:
    values = _checked(msgspec.structs.asdict(data))
    now = rt.clock.now()
    row = Account(id=str(uuid.uuid4()), created_at=now, updated_at=now, **values)
    async with rt.unit_of_work(caller) as uow:
        AccountRepository(uow).add(row)
        await uow.flush()
        uow.record(
            Entry(
                "account.created",
                "ok",
                account_id=row.id,
                subject=f"account:{row.id}",
                details={"platform": row.platform, "handle": row.handle, "kind": row.kind},
            )
        )
    return account_out(row)


async def get_account(rt: Runtime, account_id: str) -> AccountOut:
    async with rt.reader() as r:
        row = await AccountRepository(r).get(account_id)
    if row is None:
        raise NotFound(f"No account with id {account_id}")
    return account_out(row)


async def list_accounts(
    rt: Runtime, *, area: str | None, kind: str | None, include_retired: bool
) -> list[AccountOut]:
    async with rt.reader() as r:
        rows = await AccountRepository(r).list_all(
            area=area, kind=kind, include_retired=include_retired
        )
    return [account_out(r) for r in rows]


async def update_account(
    rt: Runtime, caller: Caller, account_id: str, patch: AccountPatch
) -> AccountOut:
    changes = {k: v for k, v in msgspec.structs.asdict(patch).items() if v is not msgspec.UNSET}
    async with rt.unit_of_work(caller) as uow:
        row = await AccountRepository(uow).get(account_id, lock=True)
        if row is None:
            raise NotFound(f"No account with id {account_id}")
        if row.retired_at is not None:
            raise Conflict("The account is retired; its record can no longer change")
        current = {k: getattr(row, k) for k in AccountIn.__struct_fields__}
        merged = _checked({**current, **changes})
        changed = sorted(k for k, v in merged.items() if getattr(row, k) != v)
        for key in changed:
            setattr(row, key, merged[key])
        row.updated_at = uow.now()
        uow.record(
            Entry(
                "account.changed",
                "ok",
                account_id=row.id,
                subject=f"account:{row.id}",
                details={"fields": changed},
            )
        )
    return account_out(row)


async def retire_account(rt: Runtime, caller: Caller, account_id: str) -> AccountOut:
    """Retire: no more checkouts; an open one ends now. History and Vault versions stay.

    The account row is locked first: a grant share-locks it, so either the grant
    committed before (its checkout is closed here) or it waits and sees retired_at.
    """
    async with rt.unit_of_work(caller) as uow:
        row = await AccountRepository(uow).get(account_id, lock=True)
        if row is None:
            raise NotFound(f"No account with id {account_id}")
        if row.retired_at is not None:
            raise Conflict("The account is already retired")
        row.retired_at = row.updated_at = uow.now()
        answers = await uow.publish(
            AccessEnded(close_reason="account_retired", account_ids=(row.id,))
        )
        uow.record(
            Entry(
                "account.retired",
                "ok",
                account_id=row.id,
                subject=f"account:{row.id}",
                details={"closed_checkouts": _closed(answers)},
            )
        )
    return account_out(row)


def _closed(answers: list[object]) -> list[str]:
    """The checkouts an AccessEnded closed, from the bus's answers."""
    return [i for a in answers if isinstance(a, CheckoutsClosed) for i in a.ids]
