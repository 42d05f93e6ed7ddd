"""Shared fixtures: a real OpenBao dev server and real SQLite and PostgreSQL databases.

Nothing here mocks Vault or the database. ``CUSTODIA_TEST_DATABASE_URL`` adds
PostgreSQL to every database test; ``CUSTODIA_REQUIRE_POSTGRES=1`` turns its
absence into a failure instead of a skip.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from service.db.migrate import upgrade_to_head
from service.devstack.bootstrap import AppRoleCredentials, bootstrap_vault, installed_policies_dir
from service.settings import Settings
from tests.bao_server import DevServer, start_dev_server, stop
from tests.support.apps import PG_URL, REQUIRE_PG, AppFactory, Client, app_factory, bearer
from tests.support.databases import reset_postgres


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under CUSTODIA_REQUIRE_POSTGRES=1 (CI) a skipped test is a failed test."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if REQUIRE_PG and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CUSTODIA_REQUIRE_POSTGRES=1: {report.longrepr}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the SQLite runs of tests marked postgresql_only (not skipped: not there)."""
    dropped = [
        item
        for item in items
        if item.get_closest_marker("postgresql_only")
        and getattr(item, "callspec", None) is not None
        and item.callspec.params.get("database_url") == "sqlite"  # type: ignore[attr-defined]
    ]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


@pytest.fixture(scope="session")
def bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    server = start_dev_server(tmp_path_factory.mktemp("bao"))
    try:
        yield server
    finally:
        stop(server)


@pytest.fixture(scope="session")
def approle(bao: DevServer) -> AppRoleCredentials:
    """The service's AppRole: tests run with the service policy only, as in production."""
    return bootstrap_vault(bao.addr, bao.root_token, installed_policies_dir())


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A freshly migrated database of each kind, once per session."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'custodia.db'}"
    else:
        if not PG_URL:
            if REQUIRE_PG:
                pytest.fail("CUSTODIA_REQUIRE_POSTGRES=1 but CUSTODIA_TEST_DATABASE_URL is unset")
            pytest.skip("PostgreSQL tests need CUSTODIA_TEST_DATABASE_URL")
        url = PG_URL
        await reset_postgres(url)
    # Alembic's env runs its own event loop, so it cannot share the test loop.
    await asyncio.to_thread(upgrade_to_head, url)
    return url


@pytest.fixture(scope="session")
def settings(bao: DevServer, approle: AppRoleCredentials, database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        vault_addr=bao.addr,
        vault_role_id=approle.role_id,
        vault_secret_id=approle.secret_id,
        background_tasks=False,
        # Many apps share one PostgreSQL (100 connections) in a test session.
        database_pool_size=3,
    )


@pytest.fixture
async def make_client(settings: Settings) -> AsyncIterator[AppFactory]:
    """More apps for one test (e.g. with a frozen clock), stopped when it ends.

    Stopping them returns their pooled connections: PostgreSQL allows 100.
    """
    async with app_factory(settings) as factory:
        yield factory


@pytest.fixture(scope="session")
async def client(settings: Settings) -> AsyncIterator[Client]:
    async with app_factory(settings) as factory:
        yield await factory()


@pytest.fixture(scope="session")
async def admin(client: Client) -> dict[str, str]:
    return await bearer(client, "admin", "admin-fixture")


@pytest.fixture(scope="session")
async def auditor(client: Client) -> dict[str, str]:
    return await bearer(client, "auditor", "auditor-fixture")
