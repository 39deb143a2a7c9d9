"""Which files of the Terraform module are configuration: the one list the wheel build and `up` both use.

Standard library only: setup.py loads this file directly, before migrator (or anything it needs) is installed.
"""

from __future__ import annotations

from pathlib import Path

# Local working data, never configuration: plugins, state, plans, and the module's own tests.
NOT_CONFIG = frozenset({".terraform", "terraform.tfstate", "terraform.tfstate.backup", "tfplan", "tests"})


def config_files(source: Path) -> list[Path]:
    """The module's configuration files, relative to `source`."""
    found = []
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if (
            path.is_file()
            and not NOT_CONFIG & set(relative.parts)
            and not path.name.endswith((".tfstate", ".tfstate.backup"))
        ):
            found.append(relative)
    return found
