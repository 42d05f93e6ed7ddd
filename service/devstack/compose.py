"""The one-shot bootstrap of the docker-compose stack (``custodia vault-bootstrap``).

It initialises and unseals the ``openbao`` container on first run (unseal key and root
token kept in a volume only the bootstrap mounts), unseals it on later runs, applies
:func:`bootstrap_vault`, and writes the service's AppRole login as an env file to a
volume the API containers mount read-only. Storing the unseal key beside the server
suits a demonstration stack; production uses auto-unseal and passes ``root_token``.
"""

from __future__ import annotations

from pathlib import Path

from service.devstack.bootstrap import AppRoleCredentials, bootstrap_vault
from service.devstack.vaultinit import init_and_unseal, wait_for_health, write_private

COMPOSE_INIT_LABEL = (
    "Unseal key and root token of the docker-compose OpenBao, written by "
    "'custodia vault-bootstrap'. For demonstration stacks only: in production use "
    "auto-unseal and revoke the root token."
)


def render_env_file(creds: AppRoleCredentials) -> str:
    """The env file the API containers source before ``custodia serve``."""
    return (
        "# Written by 'custodia vault-bootstrap': the AppRole login of the Custodia service.\n"
        f"CUSTODIA_VAULT_ROLE_ID={creds.role_id}\n"
        f"CUSTODIA_VAULT_SECRET_ID={creds.secret_id}\n"
    )


def compose_bootstrap(
    addr: str,
    policies_dir: Path,
    init_file: Path,
    env_file: Path,
    *,
    root_token: str | None = None,
    timeout: float = 60.0,
) -> AppRoleCredentials:
    """Wait for OpenBao, init/unseal it unless ``root_token`` is given, bootstrap, write env."""
    wait_for_health(addr, lambda code: True, "answer", timeout)
    if root_token is None:
        init_file.parent.mkdir(parents=True, exist_ok=True)
        root_token, _ = init_and_unseal(addr, init_file, COMPOSE_INIT_LABEL, timeout=timeout)
    creds = bootstrap_vault(addr, root_token, policies_dir)
    env_file.parent.mkdir(parents=True, exist_ok=True)
    write_private(env_file, render_env_file(creds))
    return creds
