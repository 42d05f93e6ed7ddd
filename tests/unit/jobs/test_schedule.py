"""The periodic jobs a replica runs: each round that the README promises is scheduled."""

from __future__ import annotations

import pytest

from service.audit.checkpoints import checkpoint_round
from service.checkouts.expiry import expiry_round
from service.credentials.handback import hand_back_round
from service.credentials.recovery import recovery_round
from service.departures.jobs import seed_retry_round
from service.jobs.schedule import default_jobs, renew_vault_token
from service.rotations.jobs import max_age_round, overdue_round
from service.throttling.jobs import forget_round
from service.webhooks.jobs import webhook_round

EXPECTED = [
    ("vault-token-renewal", renew_vault_token),
    ("audit-checkpoints", checkpoint_round),
    ("rotation-max-age-scan", max_age_round),
    ("rotation-overdue", overdue_round),
    ("webhook-delivery", webhook_round),
    ("departure-seed-retry", seed_retry_round),
    ("checkout-expiry", expiry_round),
    ("hand-back", hand_back_round),
    ("credential-recovery", recovery_round),
    ("throttle-cleanup", forget_round),
]


@pytest.mark.parametrize(("name", "job"), EXPECTED, ids=[name for name, _ in EXPECTED])
def test_job_is_scheduled(name: str, job: object) -> None:
    assert {p.name: p.job for p in default_jobs()}.get(name) is job


def test_no_unexpected_or_duplicate_jobs() -> None:
    names = [p.name for p in default_jobs()]
    assert sorted(names) == sorted(name for name, _ in EXPECTED)
