"""A departed gestor's tokens: none is issued, and a stray one is a 401, never a 500."""

from __future__ import annotations

from datetime import timedelta

from service.principal import SYSTEM
from service.tokens.repository import TokenRepository, new_token
from tests.support.apps import AppFactory, bearer, runtime_of
from tests.support.factories import create_gestor, depart, gestor_token


async def test_a_departed_gestors_token_is_refused_and_none_is_issued(
    make_client: AppFactory,
) -> None:
    c = await make_client()
    rt = runtime_of(c)
    admin = await bearer(c, "admin", "departed-tokens")
    gestor_id = await create_gestor(c, admin)
    headers = await gestor_token(c, admin, gestor_id)
    assert (await c.get("/v1/me", headers=headers)).status_code == 200
    await depart(c, admin, gestor_id)

    issued = await c.post(f"/v1/gestores/{gestor_id}/tokens", json={"name": "otra"}, headers=admin)
    assert issued.status_code == 409, issued.text
    assert "departed" in issued.json()["detail"]

    # A token row the departure did not revoke (as if written by a racing request):
    # the departure alone must make it worthless.
    plaintext, digest = new_token()
    async with rt.unit_of_work(SYSTEM) as uow:
        session = uow.session
        await TokenRepository(session).add(
            name="stray",
            role="gestor",
            digest=digest,
            now=rt.clock.now() + timedelta(seconds=1),
            created_by="test",
            gestor_id=gestor_id,
        )
    stray = await c.get("/v1/me", headers={"Authorization": f"Bearer {plaintext}"})
    assert stray.status_code == 401, stray.text
