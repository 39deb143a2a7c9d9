"""The command line: thin Typer wiring over the library. Heavy imports happen inside commands.

`apps` holds the Typer apps and the root options; each `*_cmds` module defines its commands at module level
on them (importing it registers them, in this order: the order of `migrator --help`).
"""

from __future__ import annotations

import importlib
import sys

from migrator.cli.apps import app, migrate_app

# Importing a command module registers its commands; this order is the order of `migrator --help`.
for _module in ("env_cmds", "migrate_cmds", "data_cmds", "aws_cmds"):
    importlib.import_module(f"migrator.cli.{_module}")

__all__ = ["app", "main", "migrate_app"]


def main() -> None:
    # Commands run with stdout possibly piped: make sure one JSON document is all it carries.
    sys.exit(app(standalone_mode=True))
