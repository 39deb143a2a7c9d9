"""The local cluster target's mechanism: each target shard replicates the source master of its slots.

A cluster node refuses REPLICAOF, so for the migration each target node leaves cluster mode (its nodes.conf
stays on disk) and replicates its source master as a plain replica: read-only, as ElastiCache's target is
while it migrates. Promotion is REPLICAOF NO ONE, SAVE and a restart into cluster mode with the same
nodes.conf: the same cluster, layout and node ids, now holding the data (`cluster_nodes`). No rule lives
here: the engine decides what start and complete check, wait for and refuse, for every shard at once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from migrator import preflight
from migrator.endpoints import connect
from migrator.errors import Code, MigratorError
from migrator.lifecycle.protocol import DataPlane, Shard, StartPhase, StartProgress, TargetView
from migrator.lifecycle.results import LinkStatus, MigrationDetails, MigrationState
from migrator.local import cluster, cluster_nodes
from migrator.local.cluster_nodes import node_spec, node_url
from migrator.local.migration import GROUP_ID, sync_failure
from migrator.local.processes import LOOPBACK
from migrator.state import ServerRecord, State, Workspace


class ClusterBackend:
    """A workspace's two local clusters, driven the way ElastiCache drives a cluster-mode migration."""

    kind = "local"
    poll_seconds = 0.05

    def __init__(self, workspace: Workspace, state: State) -> None:
        self.workspace = workspace
        self.state = state
        self._log_marks: dict[str, int] = {}
        for role in cluster_nodes.ROLES:
            if len(state.nodes(role)) != state.shards:
                raise MigratorError(
                    f"the local {role} cluster is not set up",
                    "run `migrator up --shards N`",
                    Code.NO_ENVIRONMENT,
                )

    def _current(self) -> State:
        return self.workspace.load() or self.state

    def _targets(self) -> list[tuple[str, ServerRecord]]:
        return self._current().nodes("target")

    # ---- where things are ----------------------------------------------------------------------------------
    def endpoints(self) -> tuple[str, str]:
        """One node of each cluster: verify and the workload discover the rest from it."""
        state = self._current()
        return node_url(state.nodes("source")[0][1]), node_url(state.nodes("target")[0][1])

    def data_plane(self) -> DataPlane:
        state = self._current()
        shards = [
            Shard(
                node_url(state.servers[source]),
                node_url(state.servers[target]),
                name=f"{i + 1:04d}",  # as ElastiCache names node groups
                slots=tuple((a, b) for a, b in state.servers[target].slots),
            )
            for i, (target, source) in enumerate(cluster_nodes.pairing(state))
        ]
        return DataPlane(tuple(shards), via="loopback", cluster=True)

    def source_endpoint(self) -> str:
        """The one source node StartMigration would be given; the rest is discovered from it."""
        return f"{LOOPBACK}:{self._current().nodes('source')[0][1].port}"

    # ---- state ---------------------------------------------------------------------------------------------
    def current_state(self) -> MigrationState:
        """Migrating while any target node replicates; the record stands for nodes that do not answer."""
        recorded = MigrationState(self._current().migration_state)
        roles = []
        for _, record in self._targets():
            try:
                client = connect(node_url(record), "target", timeout=2)
            except MigratorError:
                continue
            try:
                roles.append(client.info("replication").get("role"))
            finally:
                client.close()
        if not roles:
            return recorded
        return MigrationState.MIGRATING if "slave" in roles else MigrationState.AVAILABLE

    def clock(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def events(self) -> list[dict[str, Any]]:
        return list(self._current().events)

    def details(self) -> MigrationDetails:
        return MigrationDetails(group_id=GROUP_ID, group_status=self.current_state().value)

    # ---- preflight -----------------------------------------------------------------------------------------
    def describe_target(self, target_url: str | None) -> TargetView:
        checks, facts = preflight.inspect(target_url or self.endpoints()[1], "target")
        return TargetView(checks, facts)

    def test_migration(self, timeout: float) -> str:
        """Every source master answers from here, as every target shard must reach its own."""
        masters = [node.url for node in cluster.topology(self.endpoints()[0]) if node.role == "master"]
        for url in masters:
            try:
                connect(url, "source master", timeout=min(timeout, 5.0)).close()
            except MigratorError as err:
                raise MigratorError(
                    f"a target shard cannot reach its source master at {url}: {err.message}",
                    err.hint,
                    Code.TEST_FAILED,
                ) from None
        return f"all {len(masters)} source masters answer without AUTH; preflight passed"

    # ---- start ---------------------------------------------------------------------------------------------
    def begin_replication(self, bridge: bool) -> str:
        if bridge:
            raise MigratorError(
                "the local cluster rehearsal has no bridge",
                "run a source whose RDB the target loads (`up --shards N --source-version 7.0`)",
                Code.INVALID_COMBINATION,
            )
        # What the logs hold now is an older story: a failure in it is not this start's.
        self._log_marks = {
            name: cluster_nodes.log_size(self.workspace, name, record) for name, record in self._targets()
        }
        cluster_nodes.refresh_slots(self.workspace, "source")  # pair by the layout the source has now
        names = [name for name, _ in self._targets()]
        state = cluster_nodes.follow(self.workspace, names)
        self.state = state
        return (
            f"each of the {state.shards} target shards replicates the source master of its slots "
            f"(discovered from {self.source_endpoint()})"
        )

    def bridge_identity(self) -> tuple[str, str] | None:
        return None

    def stop_bridge(self) -> None:
        """No bridge in the cluster rehearsal."""

    def start_progress(self, since: Any) -> StartProgress:
        reason = self._sync_failure()
        return StartProgress(StartPhase.FAILED, reason) if reason else StartProgress(StartPhase.REPLICATING)

    def _sync_failure(self) -> str | None:
        """A fatal sync error in a target node's log after its last success."""
        logs = [(name, node_spec(self.workspace, name, record).logfile) for name, record in self._targets()]
        return sync_failure((f"target node {name}", log, self._log_marks.get(name, 0)) for name, log in logs)

    def abort_start(self) -> bool:
        """The target nodes come back into their cluster, empty, as before the start."""
        moved = [name for name, record in self._targets() if record.standalone]
        try:
            cluster_nodes.rejoin(self.workspace, moved, keep_data=False)
        except MigratorError:
            return False
        return True

    # ---- complete ------------------------------------------------------------------------------------------
    def promote(self, force: bool) -> None:
        moved = [name for name, record in self._targets() if record.standalone]
        try:
            rejoined = cluster_nodes.rejoin(self.workspace, moved, undo=True)
        except MigratorError as err:
            code = err.code if err.code == Code.KEYS_DROPPED_ON_LOAD else Code.COMPLETE_FAILED
            raise MigratorError(f"promotion failed: {err.message}", err.hint, code) from None
        self.workspace.update(lambda state: state.add_event(rejoined.describe()))

    def wait_promoted(self, since: Any, timeout: float) -> str:
        """Every target node is a master in cluster mode again, and the cluster serves every slot."""
        if self.current_state() is not MigrationState.AVAILABLE:
            raise MigratorError(
                "a target node still replicates after the promotion",
                "see the target nodes' logs; run `migrator migrate complete` again",
                Code.COMPLETE_FAILED,
            )
        cluster.wait_ok([node_url(record) for _, record in self._targets()], timeout=min(timeout, 30.0))
        return f"Complete Migration successful for {GROUP_ID} ({self._current().shards} shards)"

    def link_without_data_plane(self) -> LinkStatus | None:
        return None  # the rehearsal always has its data plane
