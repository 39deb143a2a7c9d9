"""The root module migrator applies: where it ships, and its copy into the workspace (beside state.json)."""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

from migrator.errors import MigratorError
from migrator.terraform_adapter.module_files import config_files


def bundled_module() -> Path | None:
    """The root module shipped with migrator: `terraform/` beside the package (checkout, editable install)."""
    package = Path(__file__).resolve().parent.parent  # migrator/
    for candidate in (package / "terraform", package.parent / "terraform"):
        if any(candidate.glob("*.tf")):
            return candidate
    return None


def module_source(terraform_dir: Path | None) -> Path:
    source = terraform_dir or bundled_module()
    if source is None or not any(Path(source).glob("*.tf")):
        raise MigratorError(
            f"no Terraform root module (*.tf) in {source or 'the migrator package'}",
            "pass --terraform-dir pointing at the repository's terraform/ folder",
            "ModuleNotFound",
        )
    return Path(source).absolute()


def sync_module(source: Path, working_dir: Path) -> bool:
    """Copy the module's configuration into the working dir, keeping its .terraform/ and state.

    The state then lives in the workspace, beside state.json, never inside a checkout or site-packages.
    Returns whether anything changed, so `init` (slow, and networked for real providers) runs only then.
    """
    changed = False
    for relative in config_files(source):
        target = working_dir / relative
        if target.is_file() and filecmp.cmp(source / relative, target, shallow=False):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / relative, target)
        changed = True
    return changed
