"""ElastiCache's mechanism for the engine: TestMigration, StartMigration, CompleteMigration. No rules here.

Control-plane facts (group status, events, CloudWatch metrics) come from the APIs. Data-plane facts (INFO
replication, offsets, the source's settings) need a path to the servers, which from a laptop only exists
through `migrator tunnel`; the engine decides what to do without one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from typing import Any

from migrator.aws import preflight as aws_preflight
from migrator.aws.elasticache import (
    ReplicationGroup,
    about_migration,
    looks_failed,
    now,
    primary_cluster,
    shard_members,
)
from migrator.aws.outputs import ModuleOutputs
from migrator.aws.tunnel import tunnel_bridge_url, tunnel_forwards, tunnel_urls
from migrator.errors import Code, MigratorError
from migrator.lifecycle.protocol import DataPlane, Shard, StartPhase, StartProgress, TargetView
from migrator.lifecycle.results import LinkStatus, MigrationDetails, MigrationState
from migrator.state import State, Workspace

POLL_SECONDS = 15.0  # ElastiCache's own waiters poll every 15 s; faster only spends API quota
CLOCK_SKEW = dt.timedelta(seconds=30)  # this machine's clock against AWS's event timestamps
COMPLETE_SUCCESS = "Complete Migration successful"
PREFLIGHT_HINT = "run `migrator migrate preflight` to see which requirement is not met"


class AwsBackend:
    """The replication group that `migrator up --target aws` created, driven through its API."""

    kind = "aws"

    def __init__(self, workspace: Workspace, state: State) -> None:
        self.workspace = workspace
        self.state = state
        self.outputs = ModuleOutputs(state.aws.outputs)
        self.region = state.aws.region or self.outputs.region
        if not self.outputs.group_id:
            raise MigratorError(
                "the workspace records no ElastiCache replication group",
                "run `migrator up --target aws` first",
                Code.NO_ENVIRONMENT,
            )
        self.group = ReplicationGroup(self.outputs.group_id, self.region)
        self._seen_busy = False
        self._primaries: set[str] = set()  # shard primaries found in this command (one look per command)

    @property
    def poll_seconds(self) -> float:
        return POLL_SECONDS

    # ---- where things are ----------------------------------------------------------------------------------
    def data_plane(self) -> DataPlane | None:
        # Re-read: the tunnel may have been opened (or closed) by another command since this one began.
        state = self.workspace.load() or self.state
        urls = tunnel_urls(state)
        if urls is None:
            return None
        if self.outputs.cluster:
            return self._cluster_plane(state)
        bridge = tunnel_bridge_url(state) if state.bridged else None
        return DataPlane.single(urls[0], urls[1], via="tunnel", bridge_url=bridge)

    def _cluster_plane(self, state: State) -> DataPlane | None:
        """Each node group with the source master of its slots, both through their own forwards.

        A tunnel that does not forward every source master and every shard's primary (one opened before
        the group was a cluster) gives no data plane: watching some shards would pass the others unchecked,
        so the service's own checks stand instead.
        """
        forwards = tunnel_forwards(state)
        masters = {
            _key([[int(entry["first_slot"]), int(entry["last_slot"])]]): int(entry["port"])
            for entry in self.outputs.get("redis_cluster_slots", [])
        }
        shards: list[Shard] = []
        for node_group in self.group.latest().get("NodeGroups") or []:
            slots = aws_preflight.node_group_slots(node_group.get("Slots", ""))
            port = masters.get(_key(slots))
            members = [f"target-{m['CacheClusterId']}" for m in node_group.get("NodeGroupMembers") or []]
            source = forwards.get(f"source-{port}")
            target = self._shard_primary([forwards[m] for m in members if m in forwards])
            if source is None or target is None:
                return None
            name = str(node_group.get("NodeGroupId", len(shards) + 1))
            shards.append(Shard(source, target, name=name, slots=tuple((a, b) for a, b in slots)))
        if not shards:
            return None
        address = self.outputs.source_address
        reach = tuple(
            (f"redis://{address}:{name.split('-', 1)[1]}", url)
            for name, url in forwards.items()
            if name.startswith("source-")
        )
        return DataPlane(tuple(shards), via="tunnel", cluster=True, reach=reach)

    def _shard_primary(self, urls: list[str]) -> str | None:
        """A shard's primary among its nodes' forwards: the one replicating the source (while migrating),
        else the one that is a master; the first when none answers (the engine then finds it unreachable)."""
        from migrator.endpoints import connect

        if len(urls) < 2:
            return urls[0] if urls else None
        for url in urls:
            if url in self._primaries:
                return url
        found = None
        for url in urls:
            try:
                client = connect(url, "target", timeout=2)
            except MigratorError:
                continue
            try:
                info = client.info("replication")
            finally:
                client.close()
            if info.get("role") == "slave" and info.get("master_host") == self.outputs.source_address:
                found = url
                break
            if info.get("role") == "master":
                found = found or url
        chosen = found or urls[0]
        self._primaries.add(chosen)
        return chosen

    def endpoints(self) -> tuple[str, str]:
        """Through the tunnel when one is open; else the VPC-private addresses (reachable inside the VPC)."""
        plane = self.data_plane()
        return (
            (plane.source_url, plane.target_url)
            if plane
            else (self.outputs.source_url, self.outputs.target_url)
        )

    def source_endpoint(self) -> str:
        bridged = (self.workspace.load() or self.state).bridged
        port = self.outputs.bridge_port if bridged and self.outputs.bridge_port else self.outputs.source_port
        return f"{self.outputs.source_address}:{port}"

    def _customer_endpoints(self, bridge: bool = False) -> list[dict[str, Any]]:
        if not self.outputs.source_address:
            raise MigratorError(
                "the workspace records no redis_private_ip output",
                "run `migrator outputs` (or `migrator up --target aws`) to refresh it",
                Code.NO_ENVIRONMENT,
            )
        port = self.outputs.source_port
        if bridge:
            if not self.outputs.bridge_port:
                raise MigratorError(
                    "the module runs no bridge on the Redis host",
                    "set terraform var `bridge_enabled = true` and run `migrator up --target aws` again",
                    Code.NO_ENVIRONMENT,
                )
            port = self.outputs.bridge_port
        return [{"Address": self.outputs.source_address, "Port": port}]

    # ---- state ---------------------------------------------------------------------------------------------
    def current_state(self) -> MigrationState:
        """The group's status is the truth; while it is `modifying` the last request stands."""
        status = self.group.describe().get("Status")
        if status in ("available", "migrating"):
            return MigrationState(status)
        return MigrationState((self.workspace.load() or self.state).migration_state)

    def clock(self) -> dt.datetime:
        return now()

    def events(self) -> list[dict[str, Any]]:
        return self.group.events(minutes=180)

    def _migration_events(self, since: dt.datetime) -> list[dict[str, Any]]:
        return [e for e in self.group.events(since=since - CLOCK_SKEW) if about_migration(e["message"])]

    def details(self) -> MigrationDetails:
        group = self.group.latest()
        members = list(group.get("MemberClusters") or [])
        return MigrationDetails(
            group_id=self.group.group_id,
            group_status=group.get("Status"),
            region=self.region,
            member_clusters=members,
            primary_cluster=primary_cluster(group),
            metrics=self.group.metrics(members),
        )

    # ---- preflight -----------------------------------------------------------------------------------------
    def describe_target(self, target_url: str | None) -> TargetView:
        return aws_preflight.describe_target(self.group, target_url)

    def test_migration(self, timeout: float) -> str:
        """TestMigration runs asynchronously: its result is the migration event that follows the call."""
        began = now()
        self.group.test_migration(self._customer_endpoints())
        deadline = time.monotonic() + timeout
        while True:
            found = self._migration_events(began)
            if found:
                message = found[-1]["message"]
                if looks_failed(message):
                    raise MigratorError(f"TestMigration failed: {message}", PREFLIGHT_HINT, Code.TEST_FAILED)
                return message
            if time.monotonic() >= deadline:
                raise MigratorError(
                    f"TestMigration gave no result within {timeout:.0f}s",
                    "raise --timeout, or check the group's events in the console",
                    Code.TEST_TIMEOUT,
                )
            time.sleep(POLL_SECONDS)

    # ---- start ---------------------------------------------------------------------------------------------
    def begin_replication(self, bridge: bool) -> str:
        endpoints = self._customer_endpoints(bridge)
        if bridge:
            self._attach_bridge()
        reply = self.group.start_migration(endpoints)
        self._seen_busy = False
        status = (reply.get("ReplicationGroup") or {}).get("Status", "modifying")
        via = " (the bridge on the Redis host)" if bridge else ""
        where = f"{endpoints[0]['Address']}:{endpoints[0]['Port']}"
        return f"ElastiCache replicates {where}{via} into {self.group.group_id} (group {status})"

    def bridge_identity(self) -> tuple[str, str] | None:
        """The module's bridge (a systemd unit on the Redis host), when it runs one."""
        if not self.outputs.bridge_port:
            return None
        return "valkey", str(self.outputs.get("bridge_valkey_version", "9.1"))

    def _attach_bridge(self) -> None:
        """Make the host's bridge follow the Redis beside it (127.0.0.1 from there), through the tunnel.

        A bridge detached by an earlier cut-over (REPLICAOF NO ONE, persisted) would otherwise hand
        ElastiCache its stale copy; CONFIG REWRITE puts `replicaof` back in its file for its next start."""
        import redis

        from migrator.endpoints import connect

        url = tunnel_bridge_url(self.workspace.load() or self.state)
        if url is None:
            raise MigratorError(
                "a bridged migration needs the host's bridge reachable from here: no tunnel forwards it",
                "run `migrator tunnel` in another terminal (it forwards the bridge_port output), then start "
                "again",
                Code.DATA_PLANE_REQUIRED,
            )
        client = connect(url, "bridge")
        try:
            client.replicaof("127.0.0.1", self.outputs.source_port)
            with contextlib.suppress(redis.ResponseError):
                client.config_rewrite()
        finally:
            client.close()

    def stop_bridge(self) -> None:
        """The host's bridge is Terraform's (a systemd unit): detached by the engine, it stays for `down`."""

    def start_progress(self, since: Any) -> StartProgress:
        """A failed start is retried by ElastiCache, then the group returns to `available` with an event."""
        status = self.group.describe().get("Status")
        failures = [e["message"] for e in self._migration_events(since) if looks_failed(e["message"])]
        if status == "migrating":
            return StartProgress(StartPhase.REPLICATING)
        if failures:
            return StartProgress(StartPhase.FAILED, f"StartMigration failed: {failures[-1]}")
        self._seen_busy = self._seen_busy or status != "available"
        if status == "available" and self._seen_busy:
            return StartProgress(StartPhase.FAILED, "StartMigration failed: the group returned to available")
        return StartProgress(StartPhase.PENDING)

    def abort_start(self) -> bool:
        """ElastiCache undoes a failed start itself; a running migration can only be ended by a complete."""
        return self.group.describe().get("Status") == "available"

    # ---- complete ------------------------------------------------------------------------------------------
    def promote(self, force: bool) -> None:
        self.group.complete_migration(force)

    def wait_promoted(self, since: Any, timeout: float) -> str:
        """Poll the group's status and its events together: a failure event stops the wait with its text."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.group.describe().get("Status")
            found = self._migration_events(since)
            failures = [e["message"] for e in found if looks_failed(e["message"])]
            if failures:
                raise MigratorError(
                    f"CompleteMigration failed: {failures[-1]}",
                    "the group stays migrating: fix the cause and run `migrator migrate complete` again",
                    Code.COMPLETE_FAILED,
                )
            if status == "available":
                success = [e["message"] for e in found if COMPLETE_SUCCESS.lower() in e["message"].lower()]
                return success[-1] if success else f"{self.group.group_id} is available and takes writes"
            if time.monotonic() >= deadline:
                raise MigratorError(
                    f"the group is still {status} {timeout:.0f}s after CompleteMigration",
                    "check `migrator migrate status`; it may still finish",
                    Code.COMPLETE_FAILED,
                )
            time.sleep(POLL_SECONDS)

    def link_without_data_plane(self) -> LinkStatus | None:
        """PrimaryLinkHealthStatus (1 up, 0 down) of every shard's primary, when CloudWatch has recent values.

        Up only when every shard's is; a shard with no value yet leaves the link unknown.
        """
        group = self.group.latest()
        shards = shard_members(group)
        if not shards:
            return None
        metrics = self.group.metrics([member for members in shards for member in members])
        # Only a shard's primary reports the metric (cluster mode names no role): take what its members say.
        health = [
            max((metrics.get(m, {}).get("PrimaryLinkHealthStatus", -1.0) for m in members), default=-1.0)
            for members in shards
        ]
        if min(health) < 0:
            return None
        # ReplicationLag (seconds) stays in details.metrics: LinkStatus.lag_bytes means bytes.
        return LinkStatus(master_link_status="up" if min(health) >= 1 else "down")


def _key(slots: list[list[int]]) -> tuple[tuple[int, int], ...]:
    return tuple(sorted((int(a), int(b)) for a, b in slots))
