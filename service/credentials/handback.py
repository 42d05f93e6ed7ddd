"""Handing a credential back when its account leaves custody (Segunda III, Décima novena).

Order matters, as in a departure. One SQL transaction first: open checkouts of
the account close (``left_custody``), the account stops holding a credential
(``credential_version`` NULL, so the checkout grant refuses with
``no_credential`` even before it looks at the term), its version history stays,
its owed rotation obligation is withdrawn (``rotation.withdrawn``: no new
version could ever satisfy it), and ``credential.handed_back`` is appended.
Custody has ended from that commit, even while Vault is down. Then Vault
destroys every version and the metadata; ``credential.destroyed`` (``ok``)
records it once. Until that event exists the hand-back is the open marker: the
``hand-back`` job retries the destroy every round, and a repeated call to the
endpoint does it at once. An account that leaves custody holding no credential
has nothing to hand back and gets no ``credential.handed_back``; a rotation it
owes is withdrawn (``rotation.withdrawn``) all the same, by the job or the endpoint.

Safe across replicas: the account row is locked before it is read (the job
skips rows another replica holds), and a hand-back or destroy event is written
only after re-reading, under that lock, that it is still owed.
"""

from __future__ import annotations

from typing import Literal

import structlog

from service.accounts.profiles import profile_of_row
from service.audit.log import Entry
from service.credentials.repository import CredentialRepository
from service.credentials.schemas import HandBackOut
from service.db.models import Account
from service.domain.custody import (
    DESTROYED,
    HANDED_BACK,
    NUMERALS,
    HandBack,
    latest_hand_back,
    leave_reason,
    leaving_custody,
    left_without_credential,
)
from service.domain.events import (
    AccessEnded,
    CheckoutsClosed,
    CredentialLeftCustody,
    ObligationWithdrawn,
)
from service.errors import Conflict, NotFound, VaultDenied, VaultUnavailable
from service.principal import SYSTEM, Caller
from service.runtime import Runtime
from service.uow import UnitOfWork

log = structlog.get_logger("custodia.credentials")

ROUND_SECONDS = 300.0
CLOSE_REASON = "left_custody"

Left = Literal["missing", "empty", "may_hold", "handed_back"]


async def hand_back(rt: Runtime, caller: Caller, account_id: str) -> HandBackOut:
    """Endpoint: hand the credential back now, or answer the hand-back already recorded."""
    left = await leave_custody(rt, caller, account_id)
    if left == "missing":
        raise NotFound(f"No account with id {account_id}")
    if left == "may_hold":
        raise Conflict(
            "This account may still be held in custody (an official account, or a "
            "personal one an área administers while its owner holds office, Décima "
            "novena): there is nothing to hand back",
            numerals=["Décima novena"],
        )
    state = await _state(rt, account_id)
    if state is None:
        raise Conflict("The account has no credential in custody: there is nothing to hand back")
    if state.destroy_pending:
        try:
            await destroy(rt, caller, account_id)
        except (VaultUnavailable, VaultDenied):
            raise VaultUnavailable(
                "The account has left custody (checkouts closed, no credential to check "
                "out), but its credential could not be destroyed in Vault yet; repeat the "
                "call, or the periodic job will finish",
                vault_destroyed=False,
            ) from None
        state = await _state(rt, account_id)
        assert state is not None
    return hand_back_view(account_id, state)


async def leave_custody(
    rt: Runtime, caller: Caller, account_id: str, *, skip_locked: bool = False
) -> Left:
    """The SQL half, in one transaction: checkouts closed, no current credential, one event."""
    async with rt.unit_of_work(caller) as uow:
        # The account row first, for update: rotations share-lock it before opening an
        # obligation, so a trigger either committed before this or waits for its end.
        repo = CredentialRepository(uow)
        account = await repo.locked_account(account_id, skip_locked=skip_locked)
        if account is None:
            return "missing"
        why = leave_reason(profile_of_row(account), uow.now())
        if account.credential_version is None:
            if why is not None:
                # Nothing to hand back, but no version can be written: an owed rotation goes.
                await uow.publish(CredentialLeftCustody(account_id))
            return "empty"
        if why is None:
            return "may_hold"
        ended = await uow.publish(
            AccessEnded(close_reason=CLOSE_REASON, account_ids=(account_id,), expired_first=True)
        )
        closed = [i for a in ended if isinstance(a, CheckoutsClosed) for i in a.ids]
        # No new version can be written from here on: an owed rotation is withdrawn.
        answers = await uow.publish(CredentialLeftCustody(account_id))
        withdrawn = next((a for a in answers if isinstance(a, ObligationWithdrawn)), None)
        last = account.credential_version
        _forget_current_credential(account, uow)
        uow.record(
            Entry(
                HANDED_BACK,
                "ok",
                account_id=account_id,
                subject=f"account:{account_id}",
                reason=why,
                details={
                    "last_version": last,
                    "versions_kept": await repo.count_versions(account_id),
                    "checkouts_closed": closed,
                    "obligation_withdrawn": None if withdrawn is None else withdrawn.obligation.id,
                    "term_ends_on": _iso(account),
                    "managed_by_area": account.managed_by_area,
                    "kind": account.kind,
                    "numerals": list(NUMERALS),
                },
            )
        )
    return "handed_back"


def _iso(account: Account) -> str | None:
    return None if account.term_ends_on is None else account.term_ends_on.isoformat()


def _forget_current_credential(account: Account, uow: UnitOfWork) -> None:
    """No current version: facts about it go too (the max-age scan skips no created_time)."""
    account.credential_version = None
    account.credential_created_time = None
    account.two_factor_method = None
    account.recovery_email_masked = None
    account.recovery_phone_masked = None
    account.updated_at = uow.now()


async def destroy(rt: Runtime, caller: Caller, account_id: str) -> None:
    """Destroy the Vault copy, then record it once; a Vault failure is recorded and raised."""
    try:
        await rt.vault.destroy_credential(account_id)
    except (VaultUnavailable, VaultDenied) as exc:
        await rt.record(
            caller,
            Entry(
                DESTROYED,
                "error",
                account_id=account_id,
                subject=f"account:{account_id}",
                details={"error": exc.title},
            ),
        )
        raise
    async with rt.unit_of_work(caller) as uow:
        # Replicas that both destroyed (idempotent in Vault) queue here; one records it.
        repo = CredentialRepository(uow)
        await repo.locked_account(account_id)
        state = latest_hand_back(await repo.custody_events(account_id))
        if state is None or not state.destroy_pending:
            return
        uow.record(
            Entry(
                DESTROYED,
                "ok",
                account_id=account_id,
                subject=f"account:{account_id}",
                details={
                    "handed_back_seq": state.handed_back.seq,
                    "last_version": state.handed_back.details.get("last_version"),
                },
            )
        )


async def _try_destroy(rt: Runtime, account_id: str) -> bool:
    """The job's destroy: False when Vault failed (recorded; retried next round)."""
    try:
        await destroy(rt, SYSTEM, account_id)
    except (VaultUnavailable, VaultDenied) as exc:
        log.warning("hand_back_destroy_deferred", account_id=account_id, error=type(exc).__name__)
        return False
    return True


async def hand_back_round(rt: Runtime) -> float:
    """Periodic job: finish owed destroys, hand back every account that left custody.

    An account that left custody with no credential has nothing to hand back; a
    rotation it owes is withdrawn all the same.
    """
    async with rt.reader() as reader:
        pending = await CredentialRepository(reader).pending_destroys()
    vault_up = True
    for account_id in pending:
        # Vault down for one account is down for all: one attempt per round.
        vault_up = await _try_destroy(rt, account_id)
        if not vault_up:
            break
    now = rt.clock.now()
    async with rt.reader() as reader:
        repo = CredentialRepository(reader)
        due = leaving_custody(await repo.holding(), now)
        owing = left_without_credential(await repo.owing_without_credential(), now)
    for account_id in due:
        # A row another replica holds is theirs this round (or ours the next).
        left = await leave_custody(rt, SYSTEM, account_id, skip_locked=True)
        if left == "handed_back":
            log.info("credential_handed_back", account_id=account_id)
            if vault_up:
                vault_up = await _try_destroy(rt, account_id)
    for account_id in owing:
        # No credential to hand back: only the owed rotation is withdrawn, once.
        await leave_custody(rt, SYSTEM, account_id, skip_locked=True)
    return ROUND_SECONDS


async def _state(rt: Runtime, account_id: str) -> HandBack | None:
    async with rt.reader() as reader:
        return latest_hand_back(await CredentialRepository(reader).custody_events(account_id))


def hand_back_view(account_id: str, state: HandBack) -> HandBackOut:
    back, details = state.handed_back, state.handed_back.details
    return HandBackOut(
        account_id=account_id,
        handed_back_at=back.ts,
        handed_back_by=back.actor,
        reason=back.reason,
        last_version=details.get("last_version"),
        versions_kept=details.get("versions_kept"),
        checkouts_closed=list(details.get("checkouts_closed", [])),
        numerals=list(details.get("numerals", NUMERALS)),
        vault_destroyed=not state.destroy_pending,
        vault_destroyed_at=None if state.destroyed is None else state.destroyed.ts,
    )


async def ensure_not_handed_back(rt: Runtime, account_id: str) -> None:
    """Refuse a new credential for an account whose credential was handed back.

    Vault numbers versions afresh once the old ones are destroyed, and the kept
    history already holds those numbers; while the destroy is owed, a new version
    would be destroyed with the old ones. Either way: a new account record.
    """
    async with rt.reader() as reader:
        handed_back = await CredentialRepository(reader).ever_handed_back(account_id)
    if handed_back:
        raise Conflict(
            "This account's credential was handed back when it left custody (Décima "
            "novena); its version history stays with this record, so it takes no new "
            "credential. Register the account again to hold its password once more",
            numerals=["Décima novena"],
        )
