"""The periodic jobs the service runs (see service.jobs.supervisor)."""

from __future__ import annotations

from service.audit.checkpoints import checkpoint_round
from service.checkouts.expiry import expiry_round
from service.credentials.handback import hand_back_round
from service.credentials.recovery import recovery_round
from service.departures.jobs import seed_retry_round
from service.jobs.supervisor import Periodic
from service.rotations.jobs import max_age_round, overdue_round
from service.runtime import Runtime
from service.throttling.jobs import forget_round
from service.webhooks.jobs import webhook_round


async def renew_vault_token(rt: Runtime) -> float:
    return float(await rt.vault.renew_token())


def default_jobs() -> list[Periodic]:
    return [
        Periodic("vault-token-renewal", renew_vault_token),
        Periodic("audit-checkpoints", checkpoint_round),
        Periodic("rotation-max-age-scan", max_age_round),
        Periodic("rotation-overdue", overdue_round),
        Periodic("webhook-delivery", webhook_round),
        Periodic("departure-seed-retry", seed_retry_round),
        Periodic("checkout-expiry", expiry_round),
        Periodic("hand-back", hand_back_round),
        Periodic("credential-recovery", recovery_round),
        Periodic("throttle-cleanup", forget_round),
    ]
