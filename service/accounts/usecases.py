"""Creating, changing and retiring accounts; each change is an audit event."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

import msgspec

from service.accounts.profiles import profile_of
from service.accounts.repository import AccountRepository
from service.accounts.schemas import AccountIn, AccountOut, AccountPatch
from service.audit.log import Entry
from service.db.models import Account
from service.domain.accounts import validate_account
from service.domain.events import AccessEnded, CheckoutsClosed
from service.domain.handles import check_account_url, handle_key, parse_handle
from service.domain.text_safety import check_text
from service.errors import Conflict, NotFound
from service.principal import Caller
from service.runtime import Runtime

PERSONAL_FIELDS = ("owner_name", "owner_cargo", "hierarchy_level", "term_ends_on")
# Shown to the public by the directory: no invisible, bidi or mixed-script characters.
SHOWN_TEXT_FIELDS = ("display_name", "area", "owner_name", "owner_cargo")
# A change to any of these re-checks the handle's syntax and the URL's domain.
ADDRESS_FIELDS = frozenset({"platform", "handle", "url"})


def _checked(values: dict[str, Any], changed: Collection[str]) -> dict[str, Any]:
    """Apply the domain rules to the ``changed`` fields; unchanged old values stand."""
    if not ADDRESS_FIELDS.isdisjoint(changed):
        check_text("handle", values["handle"])
        values["handle"] = parse_handle(values["platform"], values["handle"])
        check_text("url", values["url"])
        values["url"] = check_account_url(values["platform"], values["handle"], values["url"])
    for name in SHOWN_TEXT_FIELDS:
        if name in changed:
            check_text(name, values[name])
    validate_account(profile_of(values))
    # An official account keeps no personal fields.
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


async def _ensure_handle_free(
    accounts: AccountRepository, platform: str, handle: str, account_id: str
) -> None:
    """409 naming the live account of ``platform`` that already has ``handle``, if any.

    Read before the row changes: a dirty row would be autoflushed into the index.
    """
    holder = await accounts.live_with_handle(
        platform, handle_key(platform, handle), excluding=account_id
    )
    if holder is not None:
        raise _handle_taken(platform, handle, holder)


async def _save_claiming_handle(accounts: AccountRepository, row: Account) -> None:
    """Write ``row``; if a concurrent writer took its handle first, 409 naming it."""
    if await accounts.save(row):
        return
    key = handle_key(row.platform, row.handle)
    holder = await accounts.live_with_handle(row.platform, key, excluding=row.id)
    raise _handle_taken(row.platform, row.handle, holder)


def _handle_taken(platform: str, handle: str, holder: Account | None) -> Conflict:
    if holder is None:  # the winner retired in between: rare, and a retry settles it
        return Conflict(f"The {platform} handle {handle} was just taken; retry", field="handle")
    return Conflict(
        f"The {platform} handle {handle} is taken: live account {holder.id} has "
        f"{holder.handle}; handles that differ only in case, compatibility forms, "
        "surrounding spaces or a leading @ are the same handle",
        field="handle",
        existing_account_id=holder.id,
        existing_handle=holder.handle,
    )


async def create_account(rt: Runtime, caller: Caller, data: AccountIn) -> AccountOut:
    values = _checked(msgspec.structs.asdict(data), AccountIn.__struct_fields__)
    now = rt.clock.now()
    row = Account(id=str(uuid.uuid4()), created_at=now, updated_at=now, **values)
    async with rt.unit_of_work(caller) as uow:
        accounts = AccountRepository(uow)
        await _ensure_handle_free(accounts, row.platform, row.handle, row.id)
        await _save_claiming_handle(accounts, row)
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
        accounts = AccountRepository(uow)
        row = await accounts.get(account_id, lock=True)
        if row is None:
            raise NotFound(f"No account with id {account_id}")
        if row.retired_at is not None:
            raise Conflict("The account is retired; its record can no longer change")
        current = {k: getattr(row, k) for k in AccountIn.__struct_fields__}
        merged = _checked({**current, **changes}, changes)
        changed = sorted(k for k, v in merged.items() if getattr(row, k) != v)
        rekeyed = not {"platform", "handle"}.isdisjoint(changed)
        if rekeyed:
            await _ensure_handle_free(accounts, merged["platform"], merged["handle"], row.id)
        for key in changed:
            setattr(row, key, merged[key])
        row.updated_at = uow.now()
        if rekeyed:
            await _save_claiming_handle(accounts, row)
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
