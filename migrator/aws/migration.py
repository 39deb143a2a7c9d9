"""The migration life cycle on ElastiCache: TestMigration, StartMigration, CompleteMigration through boto3.

Control-plane facts (group status, settings, events, CloudWatch metrics) come from the ElastiCache and
CloudWatch APIs. Data-plane facts (INFO replication, offsets, the source's settings) need a connection to
the servers, which from a laptop only exists through `migrator tunnel`; without one, those rows say so.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from migrator.aws import clients
from migrator.aws.environment import source_port
from migrator.aws.tunnel import tunnel_urls
from migrator.errors import GROUP_NOT_FOUND, MigratorError
from migrator.lifecycle import (
    FAIL,
    OK,
    WARN,
    Check,
    CompleteResult,
    LinkStatus,
    MigrationStatus,
    PreflightReport,
    StartResult,
)
from migrator.render import ProgressCallback
from migrator.state import State, Workspace

if TYPE_CHECKING:
    import redis

POLL_SECONDS = 15.0  # ElastiCache's own waiters poll every 15 s; faster only spends API quota
COMPLETE_WAIT_SECONDS = 1800.0  # promotion after CompleteMigration takes minutes, unlike the catch-up
COMPLETE_SUCCESS = "Complete Migration successful"
ELASTICACHE_DATABASES = 16  # `databases` in every default ElastiCache parameter group
RESERVED_MEMORY = 0.25  # default reserved-memory-percent: maxmemory is 75% of the node's memory
METRICS = ("PrimaryLinkHealthStatus", "ReplicationLag", "ReplicationBytes")
NO_TUNNEL_FIX = "run `migrator tunnel` in another terminal (or pass --source/--target URLs), then re-run"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class AwsMigration:
    """The Migration protocol for an ElastiCache replication group created by `migrator up --target aws`."""

    def __init__(self, workspace: Workspace, state: State) -> None:
        self.workspace = workspace
        self.state = state
        self.outputs: dict[str, Any] = state.aws.get("outputs") or {}
        self.region: str | None = state.aws.get("region") or self.outputs.get("region")
        self.group_id: str = self.outputs.get("replication_group_id") or ""
        if not self.group_id:
            raise MigratorError(
                "the workspace records no ElastiCache replication group",
                "run `migrator up --target aws` first",
                "NoEnvironment",
            )
        self._clients: dict[str, Any] = {}
        self._completed_at: dt.datetime | None = None

    # ---- AWS plumbing -------------------------------------------------------------------------------------
    def _client(self, service: str = "elasticache") -> Any:
        if service not in self._clients:
            self._clients[service] = clients.make_client(service, self.region)
        return self._clients[service]

    def _call(self, operation: str, method: str, service: str = "elasticache", **params: Any) -> Any:
        with clients.aws_errors(operation, self.region, self.group_id):
            return getattr(self._client(service), method)(**params)

    def _group(self) -> dict[str, Any]:
        reply = self._call(
            "DescribeReplicationGroups", "describe_replication_groups", ReplicationGroupId=self.group_id
        )
        return reply["ReplicationGroups"][0]

    def _events(self, since: dt.datetime | None = None, minutes: int = 1440) -> list[dict[str, Any]]:
        """The group's events, oldest first, as {"date", "message"} like the workspace's own events."""
        params: dict[str, Any] = {"SourceIdentifier": self.group_id, "SourceType": "replication-group"}
        if since is not None:
            params["StartTime"] = since
        else:
            params["Duration"] = minutes
        reply = self._call("DescribeEvents", "describe_events", **params)
        events = sorted(reply.get("Events", []), key=lambda e: e.get("Date") or _now())
        return [
            {"date": e["Date"].isoformat() if e.get("Date") else "", "message": e.get("Message", "")}
            for e in events
        ]

    def _source_endpoint(self) -> list[dict[str, Any]]:
        address = self.outputs.get("redis_private_ip")
        if not address:
            raise MigratorError(
                "the workspace records no redis_private_ip output",
                "run `migrator outputs` (or `migrator up --target aws`) to refresh it",
                "NoEnvironment",
            )
        return [{"Address": address, "Port": source_port(self.outputs)}]

    def _cluster(self, cluster_id: str) -> dict[str, Any]:
        """A member cluster (engine version, parameter group); {} while it is being replaced."""
        try:
            reply = self._call("DescribeCacheClusters", "describe_cache_clusters", CacheClusterId=cluster_id)
        except MigratorError as err:
            if err.code != "CacheClusterNotFound":
                raise
            return {}
        return reply["CacheClusters"][0]

    def group_summary(self) -> dict[str, Any]:
        """Status and engine version for `migrator status`."""
        group = self._group()
        members = group.get("MemberClusters") or []
        version = self._cluster(members[0]).get("EngineVersion", "") if members else ""
        return {"status": group.get("Status"), "engine_version": version}

    # ---- data plane through the tunnel --------------------------------------------------------------------
    def endpoints(self) -> tuple[str, str]:
        """Through the tunnel when one is open; else the VPC-private addresses (reachable inside the VPC)."""
        urls = tunnel_urls(self.state)
        if urls:
            return urls
        port = self.outputs.get("valkey_port") or 6379
        return (
            f"redis://{self.outputs.get('redis_private_ip')}:{source_port(self.outputs)}",
            f"redis://{self.outputs.get('valkey_primary_endpoint')}:{port}",
        )

    @contextlib.contextmanager
    def _tunnel_clients(self) -> Iterator[tuple[redis.Redis, redis.Redis] | None]:
        """(source, target) connections through the tunnel, or None without one."""
        from migrator.endpoints import connect

        urls = tunnel_urls(self.state)
        if urls is None:
            yield None
            return
        source = connect(urls[0], "source")
        try:
            target = connect(urls[1], "target")
        except MigratorError:
            source.close()
            raise
        try:
            yield source, target
        finally:
            source.close()
            target.close()

    # ---- preflight ----------------------------------------------------------------------------------------
    def preflight(self, source_url: str | None = None, target_url: str | None = None) -> PreflightReport:
        urls = tunnel_urls(self.state)
        source_url = source_url or (urls[0] if urls else None)
        target_url = target_url or (urls[1] if urls else None)
        report = PreflightReport(
            source=source_url or self.endpoints()[0], target=target_url or self.endpoints()[1]
        )
        try:
            group = self._group()
        except MigratorError as err:
            if err.code != GROUP_NOT_FOUND:
                raise
            report.checks.append(Check("target_group", FAIL, err.message, err.hint))
            return report
        report.checks.extend(group_checks(group))
        cluster = self._cluster(group["MemberClusters"][0]) if group.get("MemberClusters") else {}
        engine_version = str(cluster.get("EngineVersion", ""))
        report.checks.extend(self._data_plane_checks(group, cluster, engine_version, source_url, target_url))
        return report

    def _data_plane_checks(
        self,
        group: dict[str, Any],
        cluster: dict[str, Any],
        engine_version: str,
        source_url: str | None,
        target_url: str | None,
    ) -> list[Check]:
        from migrator import preflight

        if source_url is None:
            return [
                Check(
                    "source_reachable",
                    WARN,
                    "no tunnel open: the source's settings were not checked "
                    "(AUTH, protected-mode, renamed commands, databases, memory, RDB format)",
                    NO_TUNNEL_FIX,
                )
            ]
        checks, facts = preflight.source_checks(source_url)
        if facts is None:
            return checks
        if engine_version:
            checks.append(preflight.rdb_format_check(facts.version, engine_version, facts.engine))
        else:
            checks.append(
                Check("rdb_format", WARN, "target engine version unknown", "check the group's nodes")
            )
        if facts.cluster_enabled and not group.get("ClusterEnabled"):
            checks.append(
                Check(
                    "cluster_mode_match",
                    FAIL,
                    "source is cluster-mode enabled, target is not",
                    "use a cluster-mode-disabled source or a cluster-mode target",
                )
            )
        checks.append(self._databases_check(cluster, facts.databases))
        checks.append(preflight.memory_check(facts.used_memory, self._target_capacity(group, target_url)))
        return checks

    def _databases_check(self, cluster: dict[str, Any], source_databases: int | None) -> Check:
        """ElastiCache forbids CONFIG, so the target's `databases` comes from its parameter group."""
        target = self._target_databases(cluster)
        if source_databases is None:
            return Check(
                "databases",
                WARN,
                f"source's databases unknown (CONFIG refused); target has {target}",
                f"make sure the source uses `databases {target}`",
            )
        if source_databases != target:
            return Check(
                "databases",
                FAIL,
                f"source has {source_databases} databases, target {target}",
                f"set `databases {target}` on the source, or a parameter group with "
                f"databases={source_databases} on the target",
            )
        return Check("databases", OK, f"{target} databases on both")

    def _target_databases(self, cluster: dict[str, Any]) -> int:
        name = (cluster.get("CacheParameterGroup") or {}).get("CacheParameterGroupName", "")
        if not name or name.startswith("default."):
            return ELASTICACHE_DATABASES
        paginator = self._client().get_paginator("describe_cache_parameters")
        with clients.aws_errors("DescribeCacheParameters", self.region, self.group_id):
            for page in paginator.paginate(CacheParameterGroupName=name):
                for parameter in page.get("Parameters", []):
                    if parameter.get("ParameterName") == "databases" and parameter.get("ParameterValue"):
                        return int(parameter["ParameterValue"])
        return ELASTICACHE_DATABASES

    def _target_capacity(self, group: dict[str, Any], target_url: str | None) -> int:
        """maxmemory as the target reports it (through the tunnel), else from the node type's memory."""
        from migrator.aws.cost import node_memory_bytes
        from migrator.endpoints import connect

        if target_url:
            with contextlib.suppress(MigratorError):
                client = connect(target_url, "target")
                try:
                    maxmemory = int(client.info("memory").get("maxmemory", 0))
                finally:
                    client.close()
                if maxmemory:
                    return maxmemory
        memory = node_memory_bytes(group.get("CacheNodeType", ""))
        return int(memory * (1 - RESERVED_MEMORY)) if memory else 0

    # ---- start --------------------------------------------------------------------------------------------
    def start(
        self,
        wait: bool = False,
        timeout: float = 600.0,
        test_first: bool = False,
        progress: ProgressCallback | None = None,
    ) -> StartResult:
        endpoints = self._source_endpoint()
        source = f"{endpoints[0]['Address']}:{endpoints[0]['Port']}"
        if test_first:
            self._test_migration(endpoints, timeout)
        began = _now()
        reply = self._call(
            "StartMigration",
            "start_migration",
            ReplicationGroupId=self.group_id,
            CustomerNodeEndpointList=endpoints,
        )
        self.state.migration_state = "migrating"
        self.state.add_event(f"StartMigration requested: {self.group_id} replicates from {source}")
        self.workspace.save(self.state)
        if not wait:
            status = (reply.get("ReplicationGroup") or {}).get("Status", "modifying")
            return StartResult(
                state="migrating",
                waited=False,
                message=f"migration requested: ElastiCache is connecting to {source} (group status {status})",
            )
        return self._wait_for_migrating(began, timeout, progress)

    def _test_migration(self, endpoints: list[dict[str, Any]], timeout: float) -> None:
        """TestMigration runs asynchronously: wait for its event, and fail with its message when it failed."""
        began = _now()
        self._call(
            "TestMigration",
            "test_migration",
            ReplicationGroupId=self.group_id,
            CustomerNodeEndpointList=endpoints,
        )
        deadline = time.monotonic() + timeout
        while True:
            events = self._events(since=began)
            if events and self._group().get("Status") == "available":
                message = events[-1]["message"]
                if _looks_failed(message):
                    raise MigratorError(
                        f"TestMigration failed: {message}", clients.PREFLIGHT_HINT, "TestFailed"
                    )
                self.state.add_event(f"TestMigration: {message}")
                return
            if time.monotonic() >= deadline:
                raise MigratorError(
                    f"TestMigration gave no result within {timeout:.0f}s",
                    "raise --timeout, or check the group's events in the console",
                    "TestTimeout",
                )
            time.sleep(POLL_SECONDS)

    def _wait_for_migrating(
        self, began: dt.datetime, timeout: float, progress: ProgressCallback | None
    ) -> StartResult:
        """Until the group is `migrating` (and, with a tunnel, the target's link is up and synced).

        A failed start is retried by ElastiCache, then the group returns to `available` with an event.
        """
        deadline = time.monotonic() + timeout
        seen_busy = False
        while True:
            group = self._group()
            status = group.get("Status")
            seen_busy = seen_busy or status != "available"
            events = self._events(since=began)
            if status == "available" and (seen_busy or events):
                reason = events[-1]["message"] if events else "the group returned to available"
                self.state.migration_state = "available"
                self.state.add_event(f"StartMigration failed: {reason}")
                self.workspace.save(self.state)
                raise MigratorError(
                    f"StartMigration failed: {reason}",
                    "fix the cause (" + clients.PREFLIGHT_HINT + ") and run `migrator migrate start` again",
                    "MigrationFailed",
                )
            if status == "migrating":
                link = self._link_through_tunnel()
                if link is None or (link.master_link_status == "up" and not link.sync_in_progress):
                    elapsed = (_now() - began).total_seconds()
                    how = (
                        "replication link up, initial sync done"
                        if link
                        else "ElastiCache reports migrating; open `migrator tunnel` to see the link itself"
                    )
                    return StartResult(
                        state="migrating", waited=True, message=how, sync_seconds=round(elapsed, 1), link=link
                    )
                if progress is not None:
                    progress(0, link.sync_total_bytes)
            if time.monotonic() >= deadline:
                raise MigratorError(
                    f"migration not established within {timeout:.0f}s (group status {status})",
                    "follow it with `migrator migrate status --watch`; raise --timeout for large datasets",
                    "MigrationTimeout",
                )
            time.sleep(POLL_SECONDS)

    def _link_through_tunnel(self) -> LinkStatus | None:
        from migrator.replication import read_link

        with self._tunnel_clients() as pair:
            return None if pair is None else read_link(pair[0], pair[1])

    # ---- status -------------------------------------------------------------------------------------------
    def status(self) -> MigrationStatus:
        group = self._group()
        group_status = group.get("Status", "")
        # ElastiCache is the truth; the workspace only remembers what was last requested.
        if group_status in ("available", "migrating") and self.state.migration_state != group_status:
            self.state.migration_state = group_status
            self.workspace.save(self.state)
        metrics = self._metrics(group.get("MemberClusters") or [])
        link = self._link_through_tunnel() or _link_from_metrics(metrics, _primary_cluster(group))
        details = {
            "group_status": group_status,
            "replication_group_id": self.group_id,
            "region": self.region,
            "source": f"{self.outputs.get('redis_private_ip')}:{source_port(self.outputs)}",
            "member_clusters": group.get("MemberClusters") or [],
            "primary_cluster": _primary_cluster(group),
            "metrics": metrics,
            "link_from": "tunnel" if tunnel_urls(self.state) else ("cloudwatch" if link else "none"),
        }
        return MigrationStatus(
            state=self.state.migration_state,
            link=link,
            events=self._events(minutes=180)[-20:],
            details=details,
        )

    def _metrics(self, clusters: list[str]) -> dict[str, dict[str, float]]:
        """The latest value of each replication metric per member cluster, over the last 15 minutes."""
        if not clusters:
            return {}
        queries = [
            {
                "Id": f"m{i}_{j}",
                "ReturnData": True,
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/ElastiCache",
                        "MetricName": metric,
                        "Dimensions": [{"Name": "CacheClusterId", "Value": cluster}],
                    },
                    "Period": 60,
                    "Stat": "Average",
                },
            }
            for i, cluster in enumerate(clusters)
            for j, metric in enumerate(METRICS)
        ]
        end = _now() + dt.timedelta(minutes=1)  # include the current, still-open minute
        reply = self._call(
            "GetMetricData",
            "get_metric_data",
            service="cloudwatch",
            MetricDataQueries=queries,
            StartTime=end - dt.timedelta(minutes=15),
            EndTime=end,
            ScanBy="TimestampDescending",
        )
        found: dict[str, dict[str, float]] = {}
        for result in reply.get("MetricDataResults", []):
            if result.get("Values"):
                i, j = (int(x) for x in result["Id"][1:].split("_"))
                found.setdefault(clusters[i], {})[METRICS[j]] = float(result["Values"][0])
        return found

    # ---- complete -----------------------------------------------------------------------------------------
    def complete(
        self,
        force: bool = False,
        wait: bool = True,
        timeout: float = 60.0,
        pause_writes: bool = False,
        fence_source: bool = True,
    ) -> CompleteResult:
        from migrator import replication

        warnings: list[str] = []
        with self._tunnel_clients() as pair:
            link = replication.read_link(pair[0], pair[1]) if pair else self.status().link
            if not force and link is not None and link.master_link_status == "down":
                raise MigratorError(
                    "the replication link from the source is down: completing now would lose "
                    "writes the target has not received",
                    "fix the link (`migrator migrate status`), or pass --force to cut over anyway",
                    "LinkDown",
                )
            if pause_writes and pair is None:
                raise MigratorError(
                    "--pause-writes needs the source reachable from here", NO_TUNNEL_FIX, "NoTunnel"
                )
            pause_ms = fenced = None
            caught_up = force
            catch_up = None
            if force:
                self._complete_call(force=True)
            elif pair is None:
                # Without Force, CompleteMigration itself refuses a target that is not in sync.
                warnings.append(
                    "no tunnel: the catch-up check is left to ElastiCache (CompleteMigration without Force)"
                )
                self._complete_call(force=False)
                caught_up = True
            elif pause_writes:
                cut = replication.paused_cut_over(
                    pair[0], pair[1], timeout, lambda: self._complete_call(False), fence_source
                )
                catch_up, pause_ms, caught_up = cut.catch_up, cut.pause_ms, cut.catch_up.caught_up
                fenced = cut.source_fenced
                if fenced is False:
                    warnings.append(replication.FENCE_FAILED)
            else:
                catch_up = replication.wait_for_catch_up(pair[0], pair[1], timeout, moving_source=True)
                caught_up = catch_up.caught_up
                if caught_up:
                    self._complete_call(force=False)
            if catch_up is not None and not catch_up.caught_up:
                raise MigratorError(
                    f"the target did not catch up within {timeout:.0f}s "
                    f"(lag {catch_up.lag_bytes} bytes); nothing was changed",
                    "raise --timeout, add --pause-writes, or pass --force",
                    "NotCaughtUp",
                )
        state, message = (
            "migrating",
            "CompleteMigration requested; `migrator migrate status` shows available when done",
        )
        if wait:
            state, message, more = self._wait_for_available()
            warnings.extend(more)
        return CompleteResult(
            state=state,
            forced=force,
            caught_up=caught_up,
            message=message,
            source_offset=catch_up.source_offset if catch_up else None,
            target_offset=catch_up.target_offset if catch_up else None,
            lag_bytes=catch_up.lag_bytes if catch_up else None,
            pause_ms=pause_ms,
            warnings=warnings,
            source_fenced=fenced,
        )

    def _complete_call(self, force: bool) -> None:
        self._completed_at = _now()
        self._call("CompleteMigration", "complete_migration", ReplicationGroupId=self.group_id, Force=force)
        self.state.add_event(f"CompleteMigration requested (force={force})")
        self.workspace.save(self.state)

    def _wait_for_available(self) -> tuple[str, str, list[str]]:
        """botocore's replication_group_available waiter, then the "Complete Migration successful" event."""
        from botocore.exceptions import WaiterError

        waiter = self._client().get_waiter("replication_group_available")
        delay = max(1, int(POLL_SECONDS))
        finished = True
        with clients.aws_errors("DescribeReplicationGroups", self.region, self.group_id):
            # WaiterError is a BotoCoreError: caught here, before aws_errors would translate it generically.
            try:
                waiter.wait(
                    ReplicationGroupId=self.group_id,
                    WaiterConfig={"Delay": delay, "MaxAttempts": max(1, int(COMPLETE_WAIT_SECONDS // delay))},
                )
            except WaiterError:
                finished = False
        if not finished:
            events = self._events(since=self._completed_at)
            reason = events[-1]["message"] if events else "no event yet"
            raise MigratorError(
                f"the group did not become available after CompleteMigration: {reason}",
                "check `migrator migrate status`; a failed complete stays migrating — fix the "
                "cause and run `migrator migrate complete` again",
                "CompleteFailed",
            ) from None
        self.state.migration_state = "available"
        events = self._events(since=self._completed_at)
        success = [e["message"] for e in events if COMPLETE_SUCCESS.lower() in e["message"].lower()]
        warnings = [] if success else [f'no "{COMPLETE_SUCCESS}" event seen yet for {self.group_id}']
        message = success[-1] if success else f"{self.group_id} is available and takes writes"
        self.state.add_event(message)
        self.workspace.save(self.state)
        return "available", message, warnings


def group_checks(group: dict[str, Any]) -> list[Check]:
    """The target's control-plane requirements for online migration, from DescribeReplicationGroups."""
    gid = group.get("ReplicationGroupId", "?")
    status = group.get("Status", "")
    recreate = "set it in terraform/ and re-create the group (`migrator up --target aws`)"
    rows = [
        Check(
            "target_group",
            OK if status == "available" else FAIL,
            f"{gid} is {status}",
            "" if status == "available" else "wait until it is available (`migrator migrate status`)",
        )
    ]
    engine = group.get("Engine", "")
    rows.append(
        Check(
            "target_engine",
            OK if engine in ("valkey", "") else FAIL,
            f"engine {engine or 'not reported (assumed valkey)'}",
            "" if engine in ("valkey", "") else "create the target with engine valkey",
        )
    )
    for key, label in (("TransitEncryptionEnabled", "in-transit"), ("AtRestEncryptionEnabled", "at-rest")):
        on = bool(group.get(key))
        rows.append(
            Check(
                f"encryption_{label.replace('-', '_')}",
                FAIL if on else OK,
                f"{label} encryption {'on' if on else 'off'}",
                f"online migration needs {label} encryption off; {recreate}" if on else "",
            )
        )
    multi_az = group.get("MultiAZ", "disabled")
    rows.append(
        Check(
            "multi_az",
            OK if multi_az == "enabled" else FAIL,
            f"Multi-AZ {multi_az}",
            "" if multi_az == "enabled" else f"enable Multi-AZ with automatic failover; {recreate}",
        )
    )
    shards = len(group.get("NodeGroups") or [])
    cluster_on = bool(group.get("ClusterEnabled"))
    rows.append(
        Check(
            "cluster_mode",
            FAIL if cluster_on or shards > 1 else OK,
            f"cluster mode {'enabled' if cluster_on else 'disabled'}, {shards} shard(s)",
            f"the source is a single Redis: use cluster mode disabled, 1 shard; {recreate}"
            if cluster_on or shards > 1
            else "",
        )
    )
    global_id = (group.get("GlobalReplicationGroupInfo") or {}).get("GlobalReplicationGroupId")
    rows.append(
        Check(
            "global_datastore",
            FAIL if global_id else OK,
            f"member of global datastore {global_id}" if global_id else "not in a global datastore",
            "remove the group from the global datastore first" if global_id else "",
        )
    )
    tiering = group.get("DataTiering", "disabled")
    rows.append(
        Check(
            "data_tiering",
            FAIL if tiering == "enabled" else OK,
            f"data tiering {tiering}",
            f"online migration does not support data tiering; {recreate}" if tiering == "enabled" else "",
        )
    )
    node_type = group.get("CacheNodeType", "")
    r6gd = node_type.startswith("cache.r6gd.")
    rows.append(
        Check(
            "node_type",
            FAIL if r6gd else OK,
            f"node type {node_type or '?'}",
            f"r6gd (data tiering) nodes are not supported; pick another node type; {recreate}"
            if r6gd
            else "",
        )
    )
    return rows


def _looks_failed(message: str) -> bool:
    text = message.lower()
    return any(word in text for word in ("fail", "error", "unable", "could not", "cannot"))


def _primary_cluster(group: dict[str, Any]) -> str | None:
    for node_group in group.get("NodeGroups") or []:
        for member in node_group.get("NodeGroupMembers") or []:
            if member.get("CurrentRole") == "primary":
                return member.get("CacheClusterId")
    members = group.get("MemberClusters") or []
    return members[0] if members else None


def _link_from_metrics(metrics: dict[str, dict[str, float]], primary: str | None) -> LinkStatus | None:
    """PrimaryLinkHealthStatus on the primary (1 up, 0 down), when CloudWatch has it."""
    values = metrics.get(primary or "", {})
    health = values.get("PrimaryLinkHealthStatus")
    if health is None:
        return None
    # ReplicationLag (seconds) stays in details.metrics: LinkStatus.lag_bytes means bytes.
    return LinkStatus(master_link_status="up" if health >= 1 else "down")
