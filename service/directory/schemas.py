"""Response shapes of the public directory."""

from __future__ import annotations

import msgspec

from service.documents.schemas import GestorOut


class DirectoryEntry(msgspec.Struct):
    """One public row; ``gestores`` only with CUSTODIA_DIRECTORY_SHOW_GESTORES."""

    sujeto_obligado: str
    area: str
    platform: str
    kind: str
    account_name: str
    url: str
    verified: bool
    updated_at: str
    gestores: list[GestorOut] | msgspec.UnsetType = msgspec.UNSET
