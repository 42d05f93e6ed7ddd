"""Issue 12, item 4: one live account per handle, and no look-alikes in what the public reads.

Every case the issue lists, through the API, on SQLite and PostgreSQL: the same
handle in other case, with a trailing space or a leading @, with a Cyrillic а,
a zero-width space or a right-to-left override.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from service.accounts.repository import AccountRepository
from service.db.models import Account
from service.principal import SYSTEM
from tests.support.apps import Client, runtime_of
from tests.support.factories import handle_uid
from tests.support.reads import head_seq

ALERTAS = "demo_pc_alertas"  # the handle the issue registered six times
CYRILLIC_A = ("demo_pc_\u0430lertas", "U+0430", "CYRILLIC SMALL LETTER A", 8, "mixed_script")
ZERO_WIDTH = ("demo_pc_\u200balertas", "U+200B", "ZERO WIDTH SPACE", 8, "invisible")
RTL_OVERRIDE = ("\u202edemo_pc_alertas", "U+202E", "RIGHT-TO-LEFT OVERRIDE", 0, "bidi_control")
LOOK_ALIKES = [CYRILLIC_A, ZERO_WIDTH, RTL_OVERRIDE]
LOOK_ALIKE_IDS = ["cyrillic-a", "zero-width-space", "rtl-override"]


def account(handle: str, platform: str = "x", **fields: Any) -> dict[str, Any]:
    hosts = {"x": "https://x.com/", "instagram": "https://www.instagram.com/"}
    return {
        "platform": platform,
        "handle": handle,
        "url": hosts[platform] + handle.strip().lstrip("@"),
        "display_name": "Protección Civil — Alertas",
        "area": "Protección Civil",
        "kind": "oficial",
        **fields,
    }


@pytest.fixture
async def alertas(client: Client, admin: dict[str, str]) -> AsyncIterator[str]:
    """The id of the live X account demo_pc_alertas: made here, or the demo seed's."""
    resp = await client.post("/v1/accounts", json=account(ALERTAS), headers=admin)
    if resp.status_code == 409:  # the demo seed's account (test_documents_api) holds it
        yield str(resp.json()["existing_account_id"])
        return
    assert resp.status_code == 201, resp.text
    account_id = str(resp.json()["id"])
    yield account_id
    retired = await client.post(f"/v1/accounts/{account_id}/retire", headers=admin)
    assert retired.status_code == 200, retired.text


async def live_with_key(client: Client, admin: dict[str, str], platform: str, key: str) -> int:
    listed = await client.get("/v1/accounts", params={"include_retired": "false"}, headers=admin)
    return sum(
        1 for a in listed.json() if a["platform"] == platform and a["handle"].casefold() == key
    )


@pytest.mark.parametrize(
    "variant", ["DEMO_PC_ALERTAS", "demo_pc_alertas ", "@demo_pc_alertas", " @Demo_PC_Alertas\t"]
)
async def test_the_same_handle_written_differently_is_409_naming_the_live_one(
    client: Client, admin: dict[str, str], alertas: str, variant: str
) -> None:
    start = await head_seq(client)
    resp = await client.post("/v1/accounts", json=account(variant), headers=admin)
    assert resp.status_code == 409, resp.text
    problem = resp.json()
    assert problem["existing_handle"] == ALERTAS and problem["existing_account_id"] == alertas
    assert ALERTAS in problem["detail"]
    assert await head_seq(client) == start
    assert await live_with_key(client, admin, "x", ALERTAS) == 1


@pytest.mark.parametrize(
    ("handle", "code", "name", "index", "rule"), LOOK_ALIKES, ids=LOOK_ALIKE_IDS
)
async def test_a_look_alike_handle_is_422_naming_the_character_and_where(
    client: Client,
    admin: dict[str, str],
    alertas: str,
    handle: str,
    code: str,
    name: str,
    index: int,
    rule: str,
) -> None:
    start = await head_seq(client)
    for platform in ("x", "instagram"):
        resp = await client.post("/v1/accounts", json=account(handle, platform), headers=admin)
        assert resp.status_code == 422, resp.text
        problem = resp.json()
        assert problem["field"] == "handle"
        assert (problem["character"], problem["character_name"]) == (code, name)
        assert problem["index"] == index and problem["rule"] == rule
        assert f"{code} {name} at index {index}" in problem["detail"]
    assert await head_seq(client) == start


@pytest.mark.parametrize(("text", "code", "name", "index", "rule"), LOOK_ALIKES, ids=LOOK_ALIKE_IDS)
@pytest.mark.parametrize("field", ["display_name", "area", "owner_name", "owner_cargo"])
async def test_account_names_and_areas_refuse_look_alikes(
    client: Client,
    admin: dict[str, str],
    field: str,
    text: str,
    code: str,
    name: str,
    index: int,
    rule: str,
) -> None:
    personal: dict[str, Any] = {
        "kind": "personal",
        "owner_name": "José Ñúñez Güemes",
        "owner_cargo": "Presidente Municipal",
        "hierarchy_level": 0,
    }
    body = {**account(handle_uid()), **personal, field: text}
    resp = await client.post("/v1/accounts", json=body, headers=admin)
    assert resp.status_code == 422, resp.text
    problem = resp.json()
    assert (problem["field"], problem["character"], problem["index"]) == (field, code, index)
    assert problem["character_name"] == name and problem["rule"] == rule


@pytest.mark.parametrize(("text", "code", "name", "index", "rule"), LOOK_ALIKES, ids=LOOK_ALIKE_IDS)
async def test_a_patch_refuses_look_alikes_too(
    client: Client, admin: dict[str, str], text: str, code: str, name: str, index: int, rule: str
) -> None:
    created = await client.post("/v1/accounts", json=account(handle_uid()), headers=admin)
    account_id = created.json()["id"]
    for field in ("display_name", "area", "handle"):
        resp = await client.patch(f"/v1/accounts/{account_id}", json={field: text}, headers=admin)
        assert resp.status_code == 422, resp.text
        assert (resp.json()["field"], resp.json()["character"]) == (field, code)
    unchanged = await client.get(f"/v1/accounts/{account_id}", headers=admin)
    assert unchanged.json()["display_name"] == created.json()["display_name"]


@pytest.mark.parametrize(("text", "code", "name", "index", "rule"), LOOK_ALIKES, ids=LOOK_ALIKE_IDS)
@pytest.mark.parametrize("field", ["name", "area", "cargo"])
async def test_gestor_names_and_areas_refuse_look_alikes(
    client: Client,
    admin: dict[str, str],
    field: str,
    text: str,
    code: str,
    name: str,
    index: int,
    rule: str,
) -> None:
    gestor = {
        "name": "José Ñúñez",
        "email": f"g{uuid.uuid4().hex[:10]}@example.gob.mx",
        "kind": "servidor_publico",
        "cargo": "Jefe de Redes",
        "area": "Comunicación Social",
        field: text,
    }
    resp = await client.post("/v1/gestores", json=gestor, headers=admin)
    assert resp.status_code == 422, resp.text
    problem = resp.json()
    assert (problem["field"], problem["character"], problem["index"]) == (field, code, index)
    assert problem["character_name"] == name


async def test_spanish_names_and_areas_pass(client: Client, admin: dict[str, str]) -> None:
    body = account(
        handle_uid(),
        display_name="Peñón de los Baños — ¿Dudas? ¡Escríbenos!",
        area="Protección Civil y Bomberos",
        kind="personal",
        owner_name="José Ñúñez Güemes",
        owner_cargo="Presidente Municipal",
        hierarchy_level=0,
    )
    resp = await client.post("/v1/accounts", json=body, headers=admin)
    assert resp.status_code == 201, resp.text
    assert resp.json()["owner_name"] == "José Ñúñez Güemes"
    gestor = {
        "name": "María José Ñúñez Pingüino",
        "email": f"g{uuid.uuid4().hex[:10]}@example.gob.mx",
        "kind": "externo",
        "provider": "Estrategia Digital Ñandú, S.C.",
        "area": "Comunicación Social",
    }
    assert (await client.post("/v1/gestores", json=gestor, headers=admin)).status_code == 201


async def test_the_stored_handle_has_no_at_sign_or_spaces(
    client: Client, admin: dict[str, str]
) -> None:
    handle = handle_uid("at")
    resp = await client.post("/v1/accounts", json=account(f" @{handle} "), headers=admin)
    assert resp.status_code == 201, resp.text
    assert resp.json()["handle"] == handle


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://x.com/{h}", "url"),
        ("https://evil.example/{h}", "platform_domain"),
        ("https://x.com.evil.example/{h}", "platform_domain"),
        ("https://x.com@evil.example/{h}", "url"),
        ("https://www.instagram.com/{h}", "platform_domain"),
    ],
)
async def test_the_url_is_https_on_the_platforms_domain(
    client: Client, admin: dict[str, str], url: str, rule: str
) -> None:
    handle = handle_uid()
    body = {**account(handle), "url": url.format(h=handle)}
    resp = await client.post("/v1/accounts", json=body, headers=admin)
    assert resp.status_code == 422, resp.text
    assert (resp.json()["field"], resp.json()["rule"]) == ("url", rule)


async def test_twitter_com_is_x(client: Client, admin: dict[str, str]) -> None:
    handle = handle_uid()
    body = {**account(handle), "url": f"https://twitter.com/{handle}"}
    assert (await client.post("/v1/accounts", json=body, headers=admin)).status_code == 201


async def test_a_handle_over_the_platform_limit_is_422(
    client: Client, admin: dict[str, str]
) -> None:
    resp = await client.post("/v1/accounts", json=account("demo_asmr_noticias"), headers=admin)
    assert resp.status_code == 422, resp.text
    assert "1 to 15 characters" in resp.json()["detail"]


async def test_a_retired_handle_is_free_again(client: Client, admin: dict[str, str]) -> None:
    handle = handle_uid("ret")
    first = await client.post("/v1/accounts", json=account(handle), headers=admin)
    await client.post(f"/v1/accounts/{first.json()['id']}/retire", headers=admin)
    again = await client.post("/v1/accounts", json=account(handle.upper()), headers=admin)
    assert again.status_code == 201, again.text


async def test_a_patch_onto_a_taken_handle_is_409(client: Client, admin: dict[str, str]) -> None:
    taken, mine = handle_uid("tk"), handle_uid("mi")
    await client.post("/v1/accounts", json=account(taken), headers=admin)
    created = await client.post("/v1/accounts", json=account(mine), headers=admin)
    account_id = created.json()["id"]
    start = await head_seq(client)
    resp = await client.patch(
        f"/v1/accounts/{account_id}", json={"handle": f"@{taken.upper()}"}, headers=admin
    )
    assert resp.status_code == 409, resp.text
    assert resp.json()["existing_handle"] == taken
    assert await head_seq(client) == start
    still = await client.get(f"/v1/accounts/{account_id}", headers=admin)
    assert still.json()["handle"] == mine
    own = await client.patch(
        f"/v1/accounts/{account_id}", json={"handle": mine.upper()}, headers=admin
    )
    assert own.status_code == 200 and own.json()["handle"] == mine.upper()


async def test_concurrent_registrations_of_one_handle_make_one_account(
    client: Client, admin: dict[str, str]
) -> None:
    handle = handle_uid("race")
    variants = [handle, handle.upper(), f"@{handle}", f"{handle} ", f" @{handle.title()}"]
    answers = await asyncio.gather(
        *(client.post("/v1/accounts", json=account(v), headers=admin) for v in variants)
    )
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409, 409]
    assert await live_with_key(client, admin, "x", handle) == 1


async def test_when_the_index_decides_the_409_still_names_the_holder(
    client: Client, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer whose first read missed the holder (as in a race) is stopped by the index."""
    handle = handle_uid("idx")
    first = await client.post("/v1/accounts", json=account(handle), headers=admin)
    reads: list[str] = []
    read = AccountRepository.live_with_handle

    async def blind_once(
        self: AccountRepository, platform: str, key: str, *, excluding: str | None = None
    ) -> Account | None:
        reads.append(key)
        return None if len(reads) == 1 else await read(self, platform, key, excluding=excluding)

    monkeypatch.setattr(AccountRepository, "live_with_handle", blind_once)
    start = await head_seq(client)
    resp = await client.post("/v1/accounts", json=account(handle.upper()), headers=admin)
    assert resp.status_code == 409, resp.text
    assert resp.json()["existing_account_id"] == first.json()["id"]
    assert reads == [handle, handle]
    assert await head_seq(client) == start


async def test_the_database_refuses_a_second_live_handle(client: Client) -> None:
    """The partial unique index holds even for a writer that skips the use case."""
    rt = runtime_of(client)
    handle = handle_uid("db")
    now = datetime.now(UTC)

    def row(written: str) -> Account:
        return Account(**{**account(written), "id": str(uuid.uuid4())}, created_at=now,
                       updated_at=now)  # fmt: skip

    async with rt.unit_of_work(SYSTEM) as uow:
        uow.session.add(row(handle))
    with pytest.raises(IntegrityError):
        async with rt.unit_of_work(SYSTEM) as uow:
            uow.session.add(row(f" @{handle.upper()}"))


async def test_the_public_directory_lists_the_handle_once(
    client: Client, admin: dict[str, str], alertas: str
) -> None:
    for variant in ("DEMO_PC_ALERTAS", "demo_pc_alertas ", *(c[0] for c in LOOK_ALIKES)):
        resp = await client.post("/v1/accounts", json=account(variant), headers=admin)
        assert resp.status_code in (409, 422), resp.text
    directory = (await client.get("/v1/public/directory")).json()
    shown = [e["account_name"] for e in directory if e["platform"] == "x"]
    assert [name for name in shown if seen_as(name) == ALERTAS] == [ALERTAS]


def seen_as(name: str) -> str:
    """What a reader would take ``name`` for: the tricks this file tries, undone."""
    for trick in ("\u200b", "\u202e", "@", " "):
        name = name.replace(trick, "")
    return name.replace("\u0430", "a").casefold()
