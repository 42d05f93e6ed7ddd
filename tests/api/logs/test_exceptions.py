"""A request that fails inside a real server logs the exception's types and places, not its text.

The server is a real uvicorn process built by the app factory with a clock that fails
(the factory's one injectable dependency); its error quotes a canary, as a driver
error quotes the parameters it was sent or an hvac error Vault's response body.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from service.principal import SYSTEM
from service.settings import Settings
from service.tokens.usecases import issue_token
from tests.support.apps import Client, runtime_of
from tests.support.processes import ServiceProcess

CANARY = "CANARY-clock-9e41b7"
SERVE = f"""
import uvicorn
from service.app import create_app
from service.settings import Settings


class ClockSourceError(OSError):
    '''The time source failed; its message quotes what it was sent.'''


class FailingClock:
    def now(self):
        raise ClockSourceError("time source refused key {CANARY}")


s = Settings.from_env()
app = create_app(s, clock=FailingClock())
uvicorn.run(app, host=s.host, port=s.port, log_config=None, log_level="debug")
"""


def serve_and_call(settings: Settings, log_path: Path, headers: dict[str, str]) -> httpx.Response:
    """Start the server, make one failing request, stop it; its stdout lands in log_path."""
    server = ServiceProcess(
        settings, log_path, script=SERVE, CUSTODIA_BACKGROUND_TASKS="0", CUSTODIA_LOG_LEVEL="DEBUG"
    )
    try:
        server.wait_ready()
        with httpx.Client(base_url=server.url, timeout=10) as http:
            return http.get("/v1/tokens?code=482913", headers=headers)
    finally:
        server.stop()


def events(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


async def test_a_failing_request_logs_types_and_places_not_the_message(
    client: Client, settings: Settings, tmp_path: Path
) -> None:
    issued = await issue_token(runtime_of(client), SYSTEM, role="admin", name="clock-canary")
    headers = {"Authorization": f"Bearer {issued.token}", "X-Request-ID": "clock-canary-1"}
    log_path = tmp_path / "server.log"

    response = serve_and_call(settings, log_path, headers)

    assert response.status_code == 500, response.text
    assert CANARY not in response.text
    logs = log_path.read_text("utf-8", "replace")
    assert CANARY not in logs
    assert issued.token not in logs and "482913" not in logs
    [request] = [e for e in events(logs) if e.get("client_request_id") == "clock-canary-1"]
    assert request["request_id"] == response.headers["x-request-id"] != "clock-canary-1"
    assert request["status"] == 500 and request["route"] == "/v1/tokens"
    [error] = [e for e in events(logs) if e.get("event") == "unhandled_error"]
    chain = error["exception"]
    assert [item["type"] for item in chain] == ["__main__.ClockSourceError"]
    frames = chain[0]["at"]
    # Where: the failing dependency, and the service code that called it.
    assert frames[-1].startswith("__main__:FailingClock.now:"), frames
    assert any(
        f.startswith("service.http.auth:BearerTokenMiddleware.authenticate_request:")
        for f in frames
    )
