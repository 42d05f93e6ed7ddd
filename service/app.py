"""The app factory: settings in, a ready Litestar app out. Nothing happens at import."""

from __future__ import annotations

from litestar import Litestar
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from service.clock import Clock
from service.http.auth import DEPENDENCIES, PUBLIC_PATHS, PUBLIC_PREFIXES, BearerTokenMiddleware
from service.http.content_type import require_json_bodies
from service.http.input_hygiene import check_request_input
from service.http.problems import EXCEPTION_HANDLERS, document_problems
from service.http.routes import route_handlers
from service.http.schema_ui import SelfHostedSwaggerUI
from service.http.security_headers import add_security_headers
from service.jobs.schedule import default_jobs
from service.jobs.supervisor import Supervisor
from service.logs.observability import configure_logging, request_log_middleware
from service.runtime import build_runtime
from service.settings import Settings
from service.throttling.middleware import document_throttling, throttle_refusals

VERSION = "0.1.0"


def create_app(settings: Settings, *, clock: Clock | None = None) -> Litestar:
    """Build the Custodia API for ``settings``."""
    configure_logging(settings.log_level)
    rt = build_runtime(settings, clock)
    supervisor = Supervisor(default_jobs() if settings.background_tasks else [])

    async def on_startup() -> None:
        await rt.start()
        supervisor.start(rt)

    async def on_shutdown() -> None:
        await supervisor.stop()
        await rt.stop()  # closes Vault's client and disposes of the engine

    app = Litestar(
        route_handlers=route_handlers(),
        dependencies=DEPENDENCIES,
        middleware=[
            request_log_middleware(rt.metrics),
            throttle_refusals(rt),
            require_json_bodies,
            DefineMiddleware(BearerTokenMiddleware, exclude=PUBLIC_PATHS),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        before_request=check_request_input,
        before_send=[add_security_headers],
        on_startup=[on_startup],
        on_shutdown=[on_shutdown],
        request_max_body_size=settings.max_body_bytes,
        logging_config=None,
        openapi_config=OpenAPIConfig(
            title="Custodia",
            version=VERSION,
            description=(
                "Credential custody and gestor audit for the official social-media "
                "accounts of Mexican public bodies."
            ),
            path="/schema",
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(
                        type="http", scheme="bearer", description="Custodia API token"
                    )
                }
            ),
            security=[{"bearer": []}],
            render_plugins=[SelfHostedSwaggerUI()],
        ),
        debug=False,
    )
    document_problems(app, PUBLIC_PREFIXES)
    document_throttling(app)
    app.state.runtime = rt
    return app
