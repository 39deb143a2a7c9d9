"""The Typer apps, the root options, and the one place errors become a line and an exit code."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from migrator import __version__, render
from migrator.errors import Code, MigratorError

_debug = False


def _is_usage_error(exc: Exception) -> bool:
    """Click's (or Typer's vendored click's) UsageError, except "no arguments: show the help"."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    return "UsageError" in names and "NoArgsIsHelpError" not in names


def _wants_json(args: tuple[str, ...]) -> bool:
    """`-o json`, `--output json` or `--output=json` in argv (a usage error may come before its callback)."""
    for i, arg in enumerate(args):
        value = args[i + 1] if arg in ("-o", "--output") and i + 1 < len(args) else None
        if arg.startswith("--output="):
            value = arg.split("=", 1)[1]
        elif arg.startswith("-o") and not arg.startswith("--") and len(arg) > 2:
            value = arg[2:]
        if value is not None and value.lower() == "json":
            return True
    return False


class MigratorGroup(TyperGroup):
    """Turns MigratorError (and stray exceptions) into one stderr line and an exit code, never a traceback."""

    _argv: tuple[str, ...] = ()

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        self._argv = tuple(args)
        return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except MigratorError as err:
            if _debug:
                raise
            render.fail(err)
            raise typer.Exit(err.exit_code) from None
        except KeyboardInterrupt:
            render.fail(
                MigratorError(
                    "interrupted", "re-run the command; state is saved after each step", Code.INTERRUPTED
                )
            )
            raise typer.Exit(130) from None
        except Exception as exc:
            if _is_usage_error(exc) and not _debug:
                # One line (and the JSON error document), like every other failure; not click's usage block.
                if _wants_json(self._argv):
                    render.set_format("json")
                where = getattr(exc, "ctx", None)
                command = where.command_path if where is not None else "migrator"
                message = " ".join(exc.format_message().split())  # type: ignore[attr-defined]
                render.fail(MigratorError(message, f"see `{command} -h`", Code.USAGE_ERROR))
                raise typer.Exit(2) from None
            # Exit, Abort and "no arguments: show the help" belong to Typer's own click, which renders them.
            if _debug or type(exc).__module__.startswith(("typer", "click")):
                raise
            render.fail(
                MigratorError(
                    f"internal error: {type(exc).__name__}: {exc}",
                    "re-run with --debug and report the traceback",
                    Code.INTERNAL_ERROR,
                )
            )
            raise typer.Exit(2) from None


HELP = """Rehearse, run and prove an online migration from Redis OSS to ElastiCache for Valkey.

Local rehearsal (default target; real redis-server + valkey-server on loopback):

\b
  migrator up && migrator load --keys 10000
  migrator migrate preflight && migrator migrate start --wait
  migrator migrate verify && migrator migrate complete --pause-writes
  migrator down

\b
On AWS: `migrator up --target aws`, then the same migrate commands.
"""

app = typer.Typer(
    cls=MigratorGroup,
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
migrate_app = typer.Typer(
    help="Drive the migration: preflight, start, status, verify, complete.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(migrate_app, name="migrate")


def _version(value: bool) -> None:
    if value:
        print(f"migrator {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    workspace: Annotated[
        Path,
        typer.Option(
            "--workspace",
            envvar="MIGRATOR_WORKSPACE",
            help="Workspace folder (state, logs, data).",
            show_default=True,
        ),
    ] = Path(".migrator"),
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    global _debug
    _debug = debug
    from migrator.state import Workspace

    ctx.obj = Workspace(workspace)
