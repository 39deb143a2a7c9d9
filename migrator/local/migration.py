"""The local target's mechanism: REPLICAOF to start, REPLICAOF NO ONE to promote. No rules live here.

States and error codes come from the engine, which mirrors ElastiCache: available → migrating (start) →
available (complete), so the rehearsal fails the way AWS will.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from migrator import preflight
from migrator.endpoints import connect
from migrator.errors import Code, MigratorError
from migrator.lifecycle.protocol import DataPlane, StartPhase, StartProgress, TargetView
from migrator.lifecycle.results import LinkStatus, MigrationDetails, MigrationState
from migrator.local import bridge as bridges
from migrator.local.layout import server_url
from migrator.local.processes import LOOPBACK
from migrator.state import State, Workspace

GROUP_ID = "local"
# A fatal sync error in the target's log → what it means. Redis and Valkey < 8 say MASTER, Valkey 8 PRIMARY.
SYNC_FAILURES = (
    ("OOM", "the target ran out of memory during the sync (maxmemory too small for the dataset)"),
    ("Can't handle RDB format version", "the target refused the source's RDB format version"),
    (
        "Can't handle foreign type or opcode",
        "the target cannot load a type in the source's RDB (e.g. hash-field TTLs)",
    ),
)
SYNC_SUCCESS = "sync: Finished with success"


class LocalBackend:
    """The two local processes of a workspace, driven the way ElastiCache drives a migration."""

    kind = "local"
    poll_seconds = 0.05

    def __init__(self, workspace: Workspace, state: State) -> None:
        self.workspace = workspace
        self.state = state
        self._log_marks: dict[str, int] = {}
        for role in ("source", "target"):
            if role not in state.servers:
                raise MigratorError(
                    f"the local {role} is not set up", "run `migrator up`", Code.NO_ENVIRONMENT
                )

    # ---- where things are ----------------------------------------------------------------------------------
    def endpoints(self) -> tuple[str, str]:
        return server_url(self.state, "source"), server_url(self.state, "target")

    def data_plane(self) -> DataPlane:
        state = self.workspace.load() or self.state
        # A bridge that is down stays on the plane: the engine finds it unreachable and says so.
        bridge = server_url(state, "bridge") if state.bridged and "bridge" in state.servers else None
        return DataPlane.single(*self.endpoints(), via="loopback", bridge_url=bridge)

    def source_endpoint(self) -> str:
        """The address the target replicates from: the bridge's during a bridged migration (as on AWS)."""
        state = self.workspace.load() or self.state
        role = "bridge" if state.bridged and "bridge" in state.servers else "source"
        return f"{LOOPBACK}:{state.servers[role].port}"

    def _target(self) -> Any:
        return connect(server_url(self.state, "target"), "target")

    # ---- state ---------------------------------------------------------------------------------------------
    def current_state(self) -> MigrationState:
        """The target's own role is the truth, as the group's status is on ElastiCache."""
        recorded = MigrationState((self.workspace.load() or self.state).migration_state)
        try:
            target = connect(server_url(self.state, "target"), "target", timeout=2)
        except MigratorError:
            return recorded  # a target that is down changes nothing about what was requested
        try:
            replicating = target.info("replication").get("role") == "slave"
        finally:
            target.close()
        return MigrationState.MIGRATING if replicating else MigrationState.AVAILABLE

    def clock(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def events(self) -> list[dict[str, Any]]:
        return list((self.workspace.load() or self.state).events)

    def details(self) -> MigrationDetails:
        return MigrationDetails(group_id=GROUP_ID, group_status=self.current_state().value)

    # ---- preflight -----------------------------------------------------------------------------------------
    def describe_target(self, target_url: str | None) -> TargetView:
        checks, facts = preflight.inspect(target_url or server_url(self.state, "target"), "target")
        return TargetView(checks, facts)

    def test_migration(self, timeout: float) -> str:
        """Target and source share this host: what the target would dial, dialled from here."""
        address = self.source_endpoint()
        try:
            connect(server_url(self.state, "source"), "source", timeout=min(timeout, 5.0)).close()
        except MigratorError as err:
            raise MigratorError(
                f"the target cannot reach the source at {address}: {err.message}", err.hint, Code.TEST_FAILED
            ) from None
        return f"the source at {address} answers without AUTH; preflight passed"

    # ---- start ---------------------------------------------------------------------------------------------
    def begin_replication(self, bridge: bool) -> str:
        # What the logs hold now is an older story: a failure in it is not this start's.
        self._log_marks = _log_sizes(self.workspace)
        upstream = self.state.servers["source"].port
        how = f"the target replicates {self.source_endpoint()}"
        if bridge:
            upstream = bridges.start(self.workspace, self.state.servers["source"].port).port
            how = f"bridge {LOOPBACK}:{upstream} replicates {self.source_endpoint()}; the target follows it"
        target = self._target()
        try:
            target.replicaof(LOOPBACK, upstream)
        finally:
            target.close()
        return how

    def bridge_identity(self) -> tuple[str, str] | None:
        return bridges.identity(self.workspace.load() or self.state)

    def stop_bridge(self) -> None:
        bridges.stop(self.workspace)

    def start_progress(self, since: Any) -> StartProgress:
        reason = self._sync_failure()
        return StartProgress(StartPhase.FAILED, reason) if reason else StartProgress(StartPhase.REPLICATING)

    def _sync_failure(self) -> str | None:
        """A fatal sync error in the target's (or the bridge's) log after its last success."""
        roles = ("bridge", "target") if (self.workspace.load() or self.state).bridged else ("target",)
        return sync_failure(
            (f"the {role}", self.workspace.logs_dir / f"{role}.log", self._log_marks.get(role, 0))
            for role in roles
        )

    def abort_start(self) -> bool:
        try:
            target = self._target()
        except MigratorError:
            return False
        try:
            target.replicaof("NO", "ONE")
        finally:
            target.close()
        return True

    # ---- complete ------------------------------------------------------------------------------------------
    def promote(self, force: bool) -> None:
        try:
            target = self._target()
            try:
                target.replicaof("NO", "ONE")
            finally:
                target.close()
        except MigratorError as err:
            raise MigratorError(f"promotion failed: {err.message}", err.hint, Code.COMPLETE_FAILED) from None

    def wait_promoted(self, since: Any, timeout: float) -> str:
        if self.current_state() is not MigrationState.AVAILABLE:
            raise MigratorError(
                "the target still replicates after REPLICAOF NO ONE",
                "see the target's log; run `migrator migrate complete` again",
                Code.COMPLETE_FAILED,
            )
        return f"Complete Migration successful for {GROUP_ID}"

    def link_without_data_plane(self) -> LinkStatus | None:
        return None  # the rehearsal always has its data plane


def sync_failure(logs: Iterable[tuple[str, Path, int]]) -> str | None:
    """A fatal sync error in a log, after that log's last success: (who, log, offset to read from) each."""
    for who, path, since in logs:
        try:
            tail = _log_tail(path, since)
        except OSError:
            continue
        for marker, reason in SYNC_FAILURES:
            if marker in tail and SYNC_SUCCESS not in tail.split(marker)[-1]:
                return reason.replace("the target", who)
    return None


def _log_tail(path: Path, since: int, size: int = 4000) -> str:
    """The last `size` bytes of a log, none of them before offset `since`."""
    with path.open("rb") as log:
        log.seek(max(since, log.seek(0, os.SEEK_END) - size))
        return log.read().decode(errors="replace")


def _log_sizes(workspace: Workspace) -> dict[str, int]:
    """Each server log's size now, so a sync failure is looked for only in what follows."""
    sizes = {}
    for role in ("target", "bridge"):
        with contextlib.suppress(OSError):
            sizes[role] = (workspace.logs_dir / f"{role}.log").stat().st_size
    return sizes
