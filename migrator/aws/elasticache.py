"""ElastiCache and CloudWatch calls for one replication group: every AWS failure becomes a MigratorError."""

from __future__ import annotations

import datetime as dt
from typing import Any

from migrator.aws import clients
from migrator.errors import Code, MigratorError

METRICS = ("PrimaryLinkHealthStatus", "ReplicationLag", "ReplicationBytes")
ELASTICACHE_DATABASES = 16  # `databases` in every default ElastiCache parameter group


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ReplicationGroup:
    """The API of one ElastiCache replication group (and its CloudWatch metrics)."""

    def __init__(self, group_id: str, region: str | None) -> None:
        self.group_id = group_id
        self.region = region
        self._clients: dict[str, Any] = {}
        self.last: dict[str, Any] | None = None  # the last DescribeReplicationGroups entry seen

    def client(self, service: str = "elasticache") -> Any:
        if service not in self._clients:
            self._clients[service] = clients.make_client(service, self.region)
        return self._clients[service]

    def call(self, operation: str, method: str, service: str = "elasticache", **params: Any) -> Any:
        with clients.aws_errors(operation, self.region, self.group_id):
            return getattr(self.client(service), method)(**params)

    # ---- reads ---------------------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        reply = self.call(
            "DescribeReplicationGroups", "describe_replication_groups", ReplicationGroupId=self.group_id
        )
        self.last = reply["ReplicationGroups"][0]
        return self.last

    def latest(self) -> dict[str, Any]:
        """The group as last described in this command, else described now (saves an API call)."""
        return self.last if self.last is not None else self.describe()

    def member(self, cluster_id: str) -> dict[str, Any]:
        """A member cluster (engine version, parameter group); {} while it is being replaced."""
        try:
            reply = self.call("DescribeCacheClusters", "describe_cache_clusters", CacheClusterId=cluster_id)
        except MigratorError as err:
            if err.code != Code.CLUSTER_NOT_FOUND:
                raise
            return {}
        return reply["CacheClusters"][0]

    def node_endpoint(self, cluster_id: str) -> tuple[str, int]:
        """A member cluster's node address (each member of a cluster-mode group is one node)."""
        reply = self.call(
            "DescribeCacheClusters",
            "describe_cache_clusters",
            CacheClusterId=cluster_id,
            ShowCacheNodeInfo=True,
        )
        endpoint = (reply["CacheClusters"][0].get("CacheNodes") or [{}])[0].get("Endpoint") or {}
        if not endpoint.get("Address"):
            raise MigratorError(
                f"ElastiCache reports no address for node {cluster_id} yet",
                "wait until the group is available (`migrator status`), then open the tunnel again",
                Code.INVALID_CLUSTER_STATE,
            )
        return str(endpoint["Address"]), int(endpoint.get("Port") or 6379)

    def events(self, since: dt.datetime | None = None, minutes: int = 1440) -> list[dict[str, Any]]:
        """The group's events, oldest first, as {"date", "message"} like the workspace's own events."""
        params: dict[str, Any] = {"SourceIdentifier": self.group_id, "SourceType": "replication-group"}
        if since is not None:
            params["StartTime"] = since
        else:
            params["Duration"] = minutes
        reply = self.call("DescribeEvents", "describe_events", **params)
        found = sorted(reply.get("Events", []), key=lambda e: e.get("Date") or now())
        return [
            {"date": e["Date"].isoformat() if e.get("Date") else "", "message": e.get("Message", "")}
            for e in found
        ]

    def databases(self, cluster: dict[str, Any]) -> int:
        """ElastiCache forbids CONFIG, so the target's `databases` comes from its parameter group."""
        name = (cluster.get("CacheParameterGroup") or {}).get("CacheParameterGroupName", "")
        if not name or name.startswith("default."):
            return ELASTICACHE_DATABASES
        paginator = self.client().get_paginator("describe_cache_parameters")
        with clients.aws_errors("DescribeCacheParameters", self.region, self.group_id):
            for page in paginator.paginate(CacheParameterGroupName=name):
                for parameter in page.get("Parameters", []):
                    if parameter.get("ParameterName") == "databases" and parameter.get("ParameterValue"):
                        return int(parameter["ParameterValue"])
        return ELASTICACHE_DATABASES

    def metrics(self, clusters: list[str]) -> dict[str, dict[str, float]]:
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
        end = now() + dt.timedelta(minutes=1)  # include the current, still-open minute
        reply = self.call(
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

    # ---- the migration API ---------------------------------------------------------------------------------
    def start_migration(self, endpoints: list[dict[str, Any]]) -> dict[str, Any]:
        return self.call(
            "StartMigration",
            "start_migration",
            ReplicationGroupId=self.group_id,
            CustomerNodeEndpointList=endpoints,
        )

    def test_migration(self, endpoints: list[dict[str, Any]]) -> dict[str, Any]:
        return self.call(
            "TestMigration",
            "test_migration",
            ReplicationGroupId=self.group_id,
            CustomerNodeEndpointList=endpoints,
        )

    def complete_migration(self, force: bool) -> dict[str, Any]:
        return self.call(
            "CompleteMigration", "complete_migration", ReplicationGroupId=self.group_id, Force=force
        )


def primary_cluster(group: dict[str, Any]) -> str | None:
    for node_group in group.get("NodeGroups") or []:
        for member in node_group.get("NodeGroupMembers") or []:
            if member.get("CurrentRole") == "primary":
                return member.get("CacheClusterId")
    members = group.get("MemberClusters") or []
    return members[0] if members else None


def shard_members(group: dict[str, Any]) -> list[list[str]]:
    """Each shard's member clusters; cluster mode disabled: its primary alone (the one that replicates)."""
    if not group.get("ClusterEnabled"):
        primary = primary_cluster(group)
        return [[primary]] if primary else []
    return [
        [m["CacheClusterId"] for m in node_group.get("NodeGroupMembers") or [] if m.get("CacheClusterId")]
        for node_group in group.get("NodeGroups") or []
    ]


def looks_failed(message: str) -> bool:
    text = message.lower()
    return any(word in text for word in ("fail", "error", "unable", "could not", "cannot", "rollback"))


def about_migration(message: str) -> bool:
    return "migrat" in message.lower()
