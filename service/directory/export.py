"""``custodia directory export``: the same bytes the public endpoint serves, to a file."""

from __future__ import annotations

import sys
from pathlib import Path

from service.directory.usecases import build_directory
from service.documents.formats import DIRECTORY_FORMATS, parse_format
from service.runtime import build_runtime
from service.settings import Settings


async def export_directory(settings: Settings, fmt: str, output: Path | None) -> str:
    """Write the directory to ``output`` (stdout when None); answer its SHA-256.

    Reads SQL only: Vault is neither contacted nor needed.
    """
    rt = build_runtime(settings)
    try:
        built = await build_directory(rt, parse_format(fmt, DIRECTORY_FORMATS))
    finally:
        await rt.engine.dispose()
    if output is None:
        sys.stdout.buffer.write(built.body())
        sys.stdout.flush()
    else:
        with output.open("wb") as fh:
            for chunk in built.chunks:
                fh.write(chunk)
    return built.sha256
