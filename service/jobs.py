"""The periodic jobs the service runs (see service.background)."""

from __future__ import annotations

from service.audit.checkpoints import checkpoint_round
from service.background import Periodic
from service.checkouts.expiry import expiry_round
from service.credentials.handback import hand_back_round
from service.credentials.recovery import recovery_round
from service.rotations import periodic as rotations
from service.runtime import Runtime


async def renew_vault_token(rt: Runtime) -> float:
    return float(await rt.vault.renew_token())


def default_jobs() -> list[Periodic]:
    return [
        Periodic("vault-token-renewal", renew_vault_token),
        Periodic("audit-checkpoints", checkpoint_round),
        Periodic("rotation-max-age-scan", rotations.max_age_round),
        Periodic("rotation-overdue", rotations.overdue_round),
        Periodic("webhook-delivery", rotations.webhook_round),
        Periodic("departure-seed-retry", rotations.seed_retry_round),
        Periodic("checkout-expiry", expiry_round),
        Periodic("hand-back", hand_back_round),
        Periodic("credential-recovery", recovery_round),
    ]
