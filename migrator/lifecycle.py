"""One Migration interface for both targets, and the results it returns.

The CLI picks a backend from the workspace state (`for_workspace`) and calls the same methods, so the
local rehearsal and AWS run the same life-cycle code path and the same preflight rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from migrator.errors import MigratorError
from migrator.render import ProgressCallback
from migrator.state import State, Workspace

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str
    fix: str = ""


@dataclass
class PreflightReport:
    source: str
    target: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAIL]


@dataclass
class LinkStatus:
    """The target's view of replication from the source (INFO replication on the target)."""

    master_link_status: str  # "up" | "down"
    lag_bytes: int | None = None
    last_io_seconds_ago: int | None = None
    sync_in_progress: bool = False
    sync_bytes_received: int = 0
    sync_total_bytes: int | None = None
    link_down_since_seconds: int | None = None
    source_offset: int | None = None
    target_offset: int | None = None
    keys_synced: int | None = None
    source_keys: int | None = None


@dataclass
class MigrationStatus:
    state: str  # available | migrating
    link: LinkStatus | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class StartResult:
    state: str
    waited: bool
    message: str
    sync_seconds: float | None = None
    link: LinkStatus | None = None


@dataclass
class CompleteResult:
    state: str
    forced: bool
    caught_up: bool
    message: str
    source_offset: int | None = None
    target_offset: int | None = None
    lag_bytes: int | None = None
    pause_ms: float | None = None
    warnings: list[str] = field(default_factory=list)
    # --pause-writes: True when the old source now refuses writes (see replication.fence_source).
    source_fenced: bool | None = None


@dataclass
class EnvironmentStatus:
    """`migrator status`: what exists. Shape fixed by SPEC.md."""

    target_kind: str
    source: dict[str, Any]
    target: dict[str, Any]
    migration: dict[str, Any]


class Migration(Protocol):
    """The life cycle, identical for the local rehearsal and ElastiCache."""

    def preflight(self, source_url: str | None = None, target_url: str | None = None) -> PreflightReport: ...

    def start(
        self,
        wait: bool = False,
        timeout: float = 600.0,
        test_first: bool = False,
        progress: ProgressCallback | None = None,
    ) -> StartResult: ...

    def status(self) -> MigrationStatus: ...

    def complete(
        self,
        force: bool = False,
        wait: bool = True,
        timeout: float = 60.0,
        pause_writes: bool = False,
        fence_source: bool = True,
    ) -> CompleteResult: ...

    def endpoints(self) -> tuple[str, str]:
        """(source URL, target URL) reachable from where the tool runs, for verify and workload."""
        ...


def for_workspace(workspace: Workspace, state: State | None = None) -> Migration:
    state = state or workspace.require()
    if state.target_kind == "local":
        from migrator.local import LocalMigration

        return LocalMigration(workspace, state)
    if state.target_kind == "aws":
        from migrator.aws import AwsMigration

        return AwsMigration(workspace, state)
    raise MigratorError(f"unknown target kind {state.target_kind!r}", "run `migrator up`", "CorruptState")
