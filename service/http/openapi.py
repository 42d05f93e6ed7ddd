"""Generate ``openapi.yaml`` from the app, so the document never drifts from the code."""

from __future__ import annotations

from pathlib import Path

import yaml

from service.app import create_app
from service.settings import Settings


def openapi_yaml() -> str:
    """The OpenAPI document of an app built with default settings."""
    app = create_app(Settings(background_tasks=False))
    schema = app.openapi_schema.to_schema()
    return yaml.safe_dump(schema, sort_keys=True, allow_unicode=True, width=100)


def write_openapi(path: Path) -> None:
    path.write_text(openapi_yaml(), encoding="utf-8")
