"""Options and helpers shared by every command."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from migrator import render
from migrator.errors import Code, MigratorError
from migrator.render import OutputFormat

if TYPE_CHECKING:
    from migrator.state import Workspace


def _set_output(value: OutputFormat) -> OutputFormat:
    render.set_format(value)
    return value


OutputOpt = Annotated[
    OutputFormat,
    typer.Option(
        "--output",
        "-o",
        help="text for people, json for machines (one document on stdout).",
        callback=_set_output,
        is_eager=True,
        case_sensitive=False,
    ),
]


# The AWS target's Terraform options (`up`, `plan`).
VarFileOpt = Annotated[
    list[Path] | None, typer.Option("--var-file", help="terraform -var-file (repeatable).")
]
RegionOpt = Annotated[str | None, typer.Option(help="AWS region (terraform var `region`).")]
TerraformBinOpt = Annotated[
    str | None, typer.Option(envvar="MIGRATOR_TERRAFORM", help="terraform or tofu binary.")
]
TerraformDirOpt = Annotated[
    Path | None,
    typer.Option(
        envvar="MIGRATOR_TERRAFORM_DIR",
        help="Root module to use (default: the terraform/ shipped with migrator).",
    ),
]


def workspace(ctx: typer.Context) -> Workspace:
    root = ctx.find_root()
    return root.obj


def confirm(question: str, auto_approve: bool, flag: str = "--auto-approve") -> None:
    """Ask before destroying or creating paid resources; never prompt without a terminal."""
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise MigratorError(
            f"{question} needs confirmation and stdin is not a terminal",
            f"pass {flag} to proceed without a prompt",
            Code.CONFIRMATION_REQUIRED,
        )
    if not typer.confirm(question, default=False, err=True):
        raise MigratorError(
            "cancelled", f"nothing was changed; pass {flag} to skip the prompt", Code.CANCELLED
        )
