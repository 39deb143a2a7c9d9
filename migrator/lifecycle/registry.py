"""Target kind → its backend and environment, imported only when asked for (keeps `--help` fast)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from migrator.errors import Code, MigratorError

if TYPE_CHECKING:
    from migrator.lifecycle.engine import Migration
    from migrator.lifecycle.protocol import Environment, MigrationBackend
    from migrator.state import State, Workspace

KINDS = ("local", "aws")


def _unknown(kind: str) -> MigratorError:
    return MigratorError(f"unknown target kind {kind!r}", "run `migrator up`", Code.CORRUPT_STATE)


def backend(workspace: Workspace, state: State) -> MigrationBackend:
    if state.target_kind == "local":
        from migrator.local.migration import LocalBackend

        return LocalBackend(workspace, state)
    if state.target_kind == "aws":
        from migrator.aws.migration import AwsBackend

        return AwsBackend(workspace, state)
    raise _unknown(state.target_kind)


def environment(kind: str) -> Environment:
    if kind == "local":
        from migrator.local.environment import LocalEnvironment

        return LocalEnvironment()
    if kind == "aws":
        from migrator.aws.environment import AwsEnvironment

        return AwsEnvironment()
    raise _unknown(kind)


def migration(workspace: Workspace, state: State | None = None) -> Migration:
    """The engine over the workspace's backend."""
    from migrator.lifecycle.engine import Migration

    state = state or workspace.require()
    return Migration(workspace, state, backend(workspace, state))


for_workspace = migration  # the old name
