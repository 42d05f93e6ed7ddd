"""Refusals are throttled per token and per address, across replicas sharing one database."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select

from service.clock import FrozenClock
from service.db.models import AuditEvent, Throttle
from service.throttling.policy import Window, address_key, token_key
from service.throttling.usecases import forget_old_windows
from service.tokens.repository import token_digest
from tests.support.apps import AppFactory, Client, bearer, runtime_of

# Ten seconds into a window: a throttled key is released 50 seconds later.
START = datetime(2031, 3, 4, 5, 6, 10, tzinfo=UTC)
LIMITS = {"throttle_token_refusals": 3, "throttle_address_refusals": 5}
CHECKOUT = {"totp_code": "123456", "reason": "probar"}


# Every test runs in the same frozen window on one database: each needs an address
# no other test used, or their refusals would add up (random picks did collide).
_ADDRESSES = iter(
    f"{net}.{host}" for net in ("198.51.100", "203.0.113", "192.0.2") for host in range(1, 255)
)


def an_address() -> str:
    """A documentation address (RFC 5737) no other test in this session has used."""
    return next(_ADDRESSES)


@asynccontextmanager
async def from_address(client: Client, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """``client``'s app, called from ``address`` instead of the loopback."""
    transport = httpx.ASGITransport(app=client.app, client=(address, 40000))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://custodia") as http:
        yield http


async def refuse(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """One audited refusal: an admin may not check a credential out (403, checkout.refused)."""
    resp = await http.post(
        f"/v1/accounts/{secrets.token_hex(4)}/checkouts", json=CHECKOUT, headers=headers
    )
    assert resp.status_code == 403, resp.text


async def events(client: Client, action: str, actor: str | None = None) -> list[AuditEvent]:
    statement = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
    if actor is not None:
        statement = statement.where(AuditEvent.actor == actor)
    async with runtime_of(client).reader() as reader:
        return list((await reader.session.execute(statement)).scalars())


def subject_of(headers: dict[str, str]) -> str:
    token = headers["Authorization"].removeprefix("Bearer ")
    return f"token:sha256:{token_key(token_digest(token)).digest}"


async def summaries(client: Client, subject: str) -> list[AuditEvent]:
    return [e for e in await events(client, "request.throttled") if e.subject == subject]


async def actor_of(client: Client, headers: dict[str, str]) -> str:
    me = await client.get("/v1/tokens", headers=headers)
    assert me.status_code == 200, me.text
    token_id = next(t["id"] for t in me.json() if t["name"] == headers["X-Name"])
    return f"token:{token_id}"


async def admin_token(client: Client) -> dict[str, str]:
    name = f"throttle-{secrets.token_hex(4)}"
    return {**await bearer(client, "admin", name), "X-Name": name}


async def test_refusals_on_one_instance_count_on_another(make_client: AppFactory) -> None:
    clock = FrozenClock(START)
    a = await make_client(clock=clock, **LIMITS)
    b = await make_client(clock=clock, **LIMITS)
    token = await admin_token(a)
    actor = await actor_of(a, token)
    await refuse(a, token)
    await refuse(a, token)
    await refuse(b, token)  # the third refusal, on the other instance: the limit is reached

    for instance in (b, a):  # B saw one refusal, A two: both answer from the shared count
        throttled = await instance.get("/v1/tokens", headers=token)
        assert throttled.status_code == 429, throttled.text
        assert throttled.headers["retry-after"] == "50"
        assert throttled.headers["content-type"].startswith("application/problem+json")
        assert throttled.json()["status"] == 429
        assert "this token" in throttled.json()["detail"]
        assert throttled.headers["x-content-type-options"] == "nosniff"
        assert throttled.headers["cache-control"] == "no-store"
        assert throttled.headers["x-request-id"]

    # Throttled before any handler: a further checkout attempt records nothing.
    refused_before = len(await events(a, "checkout.refused", actor))
    assert refused_before == 3
    blocked = await a.post(
        f"/v1/accounts/{secrets.token_hex(4)}/checkouts", json=CHECKOUT, headers=token
    )
    assert blocked.status_code == 429
    assert len(await events(a, "checkout.refused", actor)) == refused_before

    # One summary for the window, recorded by the first throttled request, naming the token.
    summary = await summaries(a, subject_of(token))
    assert len(summary) == 1
    assert summary[0].actor == actor
    assert summary[0].outcome == "denied"
    details = json.loads(summary[0].details)
    assert details["refusals"] == 3
    assert details["limit"] == 3
    assert details["window_start"] == "2031-03-04T05:06:00.000000Z"
    plain = token["Authorization"].removeprefix("Bearer ")
    assert plain not in summary[0].details and token_digest(plain) not in summary[0].details

    # The next window starts afresh, and gets its own summary once throttled again.
    clock.advance(timedelta(seconds=50))
    assert (await b.get("/v1/tokens", headers=token)).status_code == 200
    for _ in range(3):
        await refuse(b, token)
    assert (await a.get("/v1/tokens", headers=token)).status_code == 429
    assert (await b.get("/v1/tokens", headers=token)).status_code == 429
    assert len(await summaries(a, subject_of(token))) == 2


async def test_concurrent_refusals_are_all_counted_and_summarised_once(
    make_client: AppFactory,
) -> None:
    clock = FrozenClock(START)
    a = await make_client(clock=clock, **LIMITS)
    b = await make_client(clock=clock, **LIMITS)
    token = await admin_token(a)
    url = f"/v1/accounts/{secrets.token_hex(4)}/checkouts"
    answers = await asyncio.gather(
        *(c.post(url, json=CHECKOUT, headers=token) for c in (a, b, a, b, a, b))
    )
    refused = sum(r.status_code == 403 for r in answers)
    assert refused >= 3 and all(r.status_code in (403, 429) for r in answers)
    key = token_key(token_digest(token["Authorization"].removeprefix("Bearer ")))
    statement = select(Throttle.refusals).where(Throttle.key == key.digest)
    async with runtime_of(a).reader() as reader:
        counted = (await reader.session.execute(statement)).scalar_one()
    assert counted == refused  # no lost update between the replicas
    throttled = await asyncio.gather(
        *(c.get("/v1/tokens", headers=token) for c in (a, b, a, b, a, b))
    )
    assert {r.status_code for r in throttled} == {429}
    assert len(await summaries(a, subject_of(token))) == 1


async def test_a_replica_that_never_saw_the_key_lets_at_most_one_refusal_through(
    make_client: AppFactory,
) -> None:
    clock = FrozenClock(START)
    a = await make_client(clock=clock, **LIMITS)
    token = await admin_token(a)
    actor = await actor_of(a, token)
    for _ in range(3):
        await refuse(a, token)
    assert (await a.get("/v1/tokens", headers=token)).status_code == 429
    late = await make_client(clock=clock, **LIMITS)  # a replica that joins now
    await refuse(late, token)  # not checked: this instance has seen no refusal of it yet
    assert (await late.get("/v1/tokens", headers=token)).status_code == 429
    assert len(await events(a, "checkout.refused", actor)) == 4
    assert len(await summaries(a, subject_of(token))) == 1


async def test_an_address_limit_holds_back_every_token_from_it(make_client: AppFactory) -> None:
    clock = FrozenClock(START)
    a = await make_client(clock=clock, **LIMITS)
    b = await make_client(clock=clock, **LIMITS)
    noisy, polite, other = [await admin_token(a) for _ in range(3)]
    address = an_address()
    async with from_address(a, address) as on_a, from_address(b, address) as on_b:
        for _ in range(3):
            await refuse(on_a, noisy)
        assert (await on_a.get("/v1/tokens", headers=noisy)).status_code == 429
        # Another token on the same address is not held back by the noisy one...
        assert (await on_b.get("/v1/tokens", headers=polite)).status_code == 200
        await refuse(on_b, other)
        await refuse(on_a, other)  # ...until the address reaches its limit (5 refusals)
        for http in (on_a, on_b):
            held = await http.get("/v1/tokens", headers=polite)
            assert held.status_code == 429
            assert "this address" in held.json()["detail"]
            # Without a token: 429, not 401, so a token guesser learns nothing more.
            assert (await http.get("/v1/tokens")).status_code == 429
            assert (await http.get("/healthz")).status_code == 200  # public paths are not held
    async with from_address(b, an_address()) as elsewhere:
        assert (await elsewhere.get("/v1/tokens", headers=polite)).status_code == 200
    subject = f"address:sha256:{address_key(address).digest}"
    assert len(await summaries(a, subject)) == 1


async def test_unauthenticated_refusals_count_per_address(make_client: AppFactory) -> None:
    a = await make_client(clock=FrozenClock(START), **LIMITS)
    async with from_address(a, an_address()) as http:
        for _ in range(5):
            guess = {"Authorization": f"Bearer cust_{secrets.token_urlsafe(32)}"}
            assert (await http.get("/v1/tokens", headers=guess)).status_code == 401
        assert (await http.get("/v1/tokens", headers=guess)).status_code == 429
    async with runtime_of(a).reader() as reader:
        rows = (await reader.session.execute(select(Throttle.kind, Throttle.key))).all()
    guessed = token_key(token_digest(guess["Authorization"].removeprefix("Bearer "))).digest
    assert guessed not in {key for _, key in rows}  # an unknown token is no key worth a row


async def test_loopback_is_not_limited_by_address_but_its_tokens_are(
    make_client: AppFactory,
) -> None:
    a = await make_client(clock=FrozenClock(START), **LIMITS)  # calls come from 127.0.0.1
    for _ in range(8):
        assert (await a.get("/v1/tokens")).status_code == 401
    token = await admin_token(a)
    for _ in range(3):
        await refuse(a, token)
    assert (await a.get("/v1/tokens", headers=token)).status_code == 429
    other = await admin_token(a)
    assert (await a.get("/v1/tokens", headers=other)).status_code == 200


async def test_reads_that_find_nothing_do_not_count(make_client: AppFactory) -> None:
    a = await make_client(clock=FrozenClock(START), **LIMITS)
    token = await admin_token(a)
    for _ in range(5):
        missing = await a.get(f"/v1/accounts/{secrets.token_hex(4)}", headers=token)
        assert missing.status_code == 404
    assert (await a.get("/v1/tokens", headers=token)).status_code == 200


async def test_old_windows_are_forgotten(make_client: AppFactory) -> None:
    clock = FrozenClock(START)
    a = await make_client(clock=clock, **LIMITS)
    token = await admin_token(a)
    await refuse(a, token)
    key = token_key(token_digest(token["Authorization"].removeprefix("Bearer ")))
    statement = select(Throttle.window_start).where(Throttle.key == key.digest)
    clock.advance(timedelta(seconds=50))
    await refuse(a, token)
    rt = runtime_of(a)
    assert await forget_old_windows(rt) >= 1
    async with rt.reader() as reader:
        left = list((await reader.session.execute(statement)).scalars())
    assert left == [Window.at(clock.now(), 60).start]


def test_every_guarded_operation_documents_429() -> None:
    import yaml

    from service.http.openapi import openapi_yaml

    for path, operations in yaml.safe_load(openapi_yaml())["paths"].items():
        public = path.startswith(("/healthz", "/readyz", "/metrics", "/schema", "/v1/public/"))
        for method, operation in operations.items():
            assert ("429" in operation["responses"]) is not public, (method, path)
