"""ElastiCache's online-migration state machine behind real boto3 clients, for tests without an account.

The clients are botocore's own, built from the real service model: a wrong parameter name or type fails in
botocore's validation before any response is made, and every response made here is validated against the
operation's output shape (botocore's `Stubber` machinery; only the queue is replaced by this state machine).

What it models, from AWS's migration guides: StartMigration moves the group to `modifying`, then `migrating`
(or back to `available` with an event when the start fails); CompleteMigration promotes, the group goes
`available` and "Complete Migration successful for <rg>" is emitted, or stays `migrating` with a failure
event; TestMigration answers with an event. With a `LoopbackReplication`, the target of the migration is a
real server on loopback: the simulated service issues REPLICAOF / REPLICAOF NO ONE on it, as ElastiCache's
node does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

GROUP = "migrator"
MEMBERS = ("migrator-001", "migrator-002")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ServiceFault(Exception):
    def __init__(self, code: str, http: int = 400, message: str = "") -> None:
        super().__init__(code)
        self.code, self.http, self.message = code, http, message


@dataclass
class LoopbackReplication:
    """The migration's data plane: the loopback server standing in for the group's primary."""

    target_port: int
    # (address, port) given in CustomerNodeEndpointList → the loopback port of the real source.
    sources: dict[tuple[str, int], int]

    def _client(self) -> Any:
        import redis

        return redis.Redis(host="127.0.0.1", port=self.target_port, socket_timeout=10)

    def replicate(self, endpoints: list[dict[str, Any]]) -> None:
        first = endpoints[0]
        self.follow(self.sources[(first["Address"], first["Port"])])

    def follow(self, port: int) -> None:
        client = self._client()
        try:
            client.replicaof("127.0.0.1", port)
        finally:
            client.close()

    def promote(self) -> None:
        client = self._client()
        try:
            client.replicaof("NO", "ONE")
        finally:
            client.close()


@dataclass
class ClusterLoopback:
    """A cluster-mode group's data plane: a loopback stand-in for each node group's primary.

    Given ONE source endpoint, the "service" discovers the source cluster from it and points each stand-in
    at the source master serving its node group's slots, as ElastiCache's shards do. (The stand-ins are
    plain servers: how ElastiCache's nodes do it inside is its own.)
    """

    shards: list[LoopbackReplication]
    slots: list[tuple[int, int]]

    def replicate(self, endpoints: list[dict[str, Any]]) -> None:
        from migrator.topology import topology

        first = endpoints[0]
        port = self.shards[0].sources[(first["Address"], first["Port"])]
        masters = [node for node in topology(f"redis://127.0.0.1:{port}") if node.role == "master"]
        for shard, (start, end) in zip(self.shards, self.slots, strict=True):
            master = next(node for node in masters if node.slots == [[start, end]])
            shard.follow(int(master.url.rsplit(":", 1)[1]))

    def promote(self) -> None:
        for shard in self.shards:
            shard.promote()


@dataclass
class SimulatedElastiCache:
    group_id: str = GROUP
    engine_version: str = "8.2"
    parameter_group: str = "default.valkey8"
    databases: int = 16  # what a custom parameter group sets
    status: str = "available"
    settle_polls: int = 1  # DescribeReplicationGroups answers spent in `modifying` before a transition
    data_plane: LoopbackReplication | ClusterLoopback | None = None
    shards: int = 1  # > 1: a cluster-mode-enabled group of as many node groups (slots spread evenly)
    # Planted faults: the next start / complete / test fails with this event text.
    start_failure: str | None = None
    complete_failure: str | None = None
    test_failure: str | None = None
    link_health: float | None = None  # None: 1.0 while migrating, no datapoint otherwise
    group_overrides: dict[str, Any] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _events: list[tuple[dt.datetime, str]] = field(default_factory=list)
    _pending: list[list[Any]] = field(default_factory=list)  # [polls left, action]
    _faults: dict[str, list[ServiceFault]] = field(default_factory=dict)

    # ---- what tests use ------------------------------------------------------------------------------------
    def fail_next(self, operation: str, code: str, http: int = 400, message: str = "") -> None:
        """The next call of `operation` (e.g. "StartMigration") answers with this service error."""
        self._faults.setdefault(operation, []).append(ServiceFault(code, http, message))

    def emit(self, message: str) -> None:
        self._events.append((now(), message))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def members(self) -> list[list[str]]:
        """Member cluster ids per node group, the primary first."""
        if self.shards == 1:
            return [list(MEMBERS)]
        return [[f"{self.group_id}-{i:04d}-{j:03d}" for j in (1, 2)] for i in range(1, self.shards + 1)]

    def group(self) -> dict[str, Any]:
        if self.shards > 1:
            return {**self._single_group(), **self._cluster_shape(), **self.group_overrides}
        return self._single_group()

    def _cluster_shape(self) -> dict[str, Any]:
        from migrator.local.cluster import slot_ranges

        node_groups = [
            {
                "NodeGroupId": f"{i + 1:04d}",
                "Status": "available",
                "Slots": f"{start}-{end}",
                # Cluster mode names no role: each shard's primary is the one that reports its link.
                "NodeGroupMembers": [{"CacheClusterId": member, "CacheNodeId": "0001"} for member in members],
            }
            for i, ((start, end), members) in enumerate(
                zip(slot_ranges(self.shards), self.members(), strict=True)
            )
        ]
        return {
            "ClusterEnabled": True,
            "MemberClusters": [member for members in self.members() for member in members],
            "NodeGroups": node_groups,
            "ConfigurationEndpoint": {
                "Address": f"clustercfg.{self.group_id}.example.cache.amazonaws.com",
                "Port": 6379,
            },
        }

    def _single_group(self) -> dict[str, Any]:
        return {
            "ReplicationGroupId": self.group_id,
            "Status": self.status,
            "Engine": "valkey",
            "CacheNodeType": "cache.t3.medium",
            "MemberClusters": list(MEMBERS),
            "ClusterEnabled": False,
            "MultiAZ": "enabled",
            "AutomaticFailover": "enabled",
            "TransitEncryptionEnabled": False,
            "AtRestEncryptionEnabled": False,
            "DataTiering": "disabled",
            "NodeGroups": [
                {
                    "NodeGroupId": "0001",
                    "NodeGroupMembers": [
                        {"CacheClusterId": MEMBERS[0], "CurrentRole": "primary"},
                        {"CacheClusterId": MEMBERS[1], "CurrentRole": "replica"},
                    ],
                }
            ],
            **self.group_overrides,
        }

    # ---- the service ---------------------------------------------------------------------------------------
    def handle(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((operation, params))
        if self._faults.get(operation):
            raise self._faults[operation].pop(0)
        handler: Callable[[dict[str, Any]], dict[str, Any]] = getattr(self, f"_op_{operation}")
        return handler(params)

    def _later(self, action: Callable[[], None]) -> None:
        self._pending.append([self.settle_polls, action])

    def _advance(self) -> None:
        for item in list(self._pending):
            item[0] -= 1
            if item[0] <= 0:
                self._pending.remove(item)
                item[1]()

    def _own(self, params: dict[str, Any]) -> None:
        if params.get("ReplicationGroupId") != self.group_id:
            raise ServiceFault("ReplicationGroupNotFoundFault", 404, "Replication group not found")

    def _op_DescribeReplicationGroups(self, params: dict[str, Any]) -> dict[str, Any]:
        self._own(params)
        self._advance()
        return {"ReplicationGroups": [self.group()]}

    def _op_DescribeCacheClusters(self, params: dict[str, Any]) -> dict[str, Any]:
        cluster: dict[str, Any] = {
            "CacheClusterId": params["CacheClusterId"],
            "EngineVersion": self.engine_version,
            "CacheParameterGroup": {"CacheParameterGroupName": self.parameter_group},
        }
        if params.get("ShowCacheNodeInfo"):
            address = f"{params['CacheClusterId']}.{self.group_id}.example.cache.amazonaws.com"
            cluster["CacheNodes"] = [{"CacheNodeId": "0001", "Endpoint": {"Address": address, "Port": 6379}}]
        return {"CacheClusters": [cluster]}

    def _op_DescribeCacheParameters(self, params: dict[str, Any]) -> dict[str, Any]:
        if params["CacheParameterGroupName"] != self.parameter_group:
            raise ServiceFault("CacheParameterGroupNotFound", 404, "no such parameter group")
        return {"Parameters": [{"ParameterName": "databases", "ParameterValue": str(self.databases)}]}

    def _op_DescribeEvents(self, params: dict[str, Any]) -> dict[str, Any]:
        since = params.get("StartTime") or now() - dt.timedelta(minutes=params.get("Duration", 60))
        since = since if since.tzinfo else since.replace(tzinfo=dt.UTC)
        found = [
            {"SourceIdentifier": self.group_id, "SourceType": "replication-group", "Message": m, "Date": d}
            for d, m in self._events
            if d >= since
        ]
        return {"Events": found}

    def _op_StartMigration(self, params: dict[str, Any]) -> dict[str, Any]:
        self._own(params)
        if self.status == "migrating":
            raise ServiceFault("ReplicationGroupAlreadyUnderMigrationFault", 400, "already migrating")
        if self.status != "available":
            raise ServiceFault("InvalidReplicationGroupState", 400, f"group is {self.status}")
        self.status = "modifying"
        endpoints = params["CustomerNodeEndpointList"]

        def settle() -> None:
            if self.start_failure:
                self.status = "available"
                self.emit(
                    f"Failed to start migration for replication group {self.group_id}: {self.start_failure}"
                )
                self.start_failure = None
                return
            if self.data_plane is not None:
                self.data_plane.replicate(endpoints)
            self.status = "migrating"
            self.emit(f"Migration started for replication group {self.group_id}")

        self._later(settle)
        return {"ReplicationGroup": self.group()}

    def _op_TestMigration(self, params: dict[str, Any]) -> dict[str, Any]:
        self._own(params)
        failure, self.test_failure = self.test_failure, None
        if failure:
            self.emit(f"Test Migration failed for replication group {self.group_id}: {failure}")
        else:
            self.emit(f"Test Migration successful for replication group {self.group_id}")
        return {"ReplicationGroup": self.group()}

    def _op_CompleteMigration(self, params: dict[str, Any]) -> dict[str, Any]:
        self._own(params)
        if self.status != "migrating":
            raise ServiceFault("ReplicationGroupNotUnderMigrationFault", 400, "not under migration")
        failure, self.complete_failure = self.complete_failure, None
        if failure:
            self._later(
                lambda: self.emit(
                    f"Complete Migration failed for replication group {self.group_id}: {failure}"
                )
            )
            return {"ReplicationGroup": self.group()}
        if self.data_plane is not None:
            self.data_plane.promote()

        def settle() -> None:
            self.status = "available"
            self.emit(f"Complete Migration successful for {self.group_id}")

        self._later(settle)
        return {"ReplicationGroup": self.group()}

    def _op_GetMetricData(self, params: dict[str, Any]) -> dict[str, Any]:
        health = (
            self.link_health
            if self.link_health is not None
            else (1.0 if self.status == "migrating" else None)
        )
        results = []
        for query in params["MetricDataQueries"]:
            metric = query["MetricStat"]["Metric"]
            member = metric["Dimensions"][0]["Value"]
            values = (
                [health]
                if metric["MetricName"] == "PrimaryLinkHealthStatus"
                and member in [members[0] for members in self.members()]
                and health is not None
                else []
            )
            results.append(
                {
                    "Id": query["Id"],
                    "Label": metric["MetricName"],
                    "StatusCode": "Complete",
                    "Timestamps": [now()] if values else [],
                    "Values": values,
                }
            )
        return {"MetricDataResults": results}


class SimStubber(Stubber):
    """botocore's Stubber with the response queue replaced by the simulated service."""

    def __init__(self, client: Any, service: SimulatedElastiCache) -> None:
        super().__init__(client)
        self.service = service
        self._api_params: dict[str, Any] = {}

    def _assert_expected_params(self, model: Any, params: Any, context: Any, **kwargs: Any) -> None:
        # The call's own keyword arguments (the client validates them against the real model next).
        self._api_params = dict(params)

    def _get_response_handler(self, model: Any, params: Any, context: Any, **kwargs: Any) -> Any:
        try:
            response = self.service.handle(model.name, self._api_params)
        except ServiceFault as fault:
            return AWSResponse(None, fault.http, {}, None), {
                "ResponseMetadata": {"HTTPStatusCode": fault.http},
                "Error": {"Code": fault.code, "Message": fault.message},
            }
        self._validate_operation_response(model.name, response)
        return AWSResponse(None, 200, {}, None), response


def tunnelled_workspace(path: Any, source_port: int, target_port: int) -> Any:
    """A workspace as `up --target aws` plus `migrator tunnel` leave it, the tunnel's ports on real servers.

    The tunnel process recorded is this test process itself, so the tunnel counts as open.
    """
    import os

    from migrator.aws.tunnel import _start_time
    from migrator.state import AwsRecord, State, TunnelRecord, Workspace
    from tests.helpers.aws import OUTPUT_VALUES

    workspace = Workspace(path)
    tunnel = TunnelRecord(os.getpid(), source_port, target_port, _start_time(os.getpid()))
    workspace.save(
        State(
            target_kind="aws", aws=AwsRecord(region="us-east-1", outputs=dict(OUTPUT_VALUES), tunnel=tunnel)
        )
    )
    return workspace


def tunnelled_cluster_workspace(path: Any, source_ports: list[int], target_ports: dict[str, int]) -> Any:
    """A cluster-mode environment's workspace, its tunnel forwarding every source node and target node.

    `source_ports`: the real source masters' ports in slot order (the host's 6379, 6380, …); `target_ports`:
    member cluster id → the port of the real server standing in for that node.
    """
    import os

    from migrator.aws.tunnel import _start_time
    from migrator.local.cluster import slot_ranges
    from migrator.state import AwsRecord, State, TunnelForward, TunnelRecord, Workspace
    from tests.helpers.aws import OUTPUT_VALUES

    host_ports = [6379 + i for i in range(len(source_ports))]
    outputs = {
        **OUTPUT_VALUES,
        "valkey_cluster_mode_enabled": True,
        "redis_cluster_enabled": True,
        "redis_node_ports": host_ports,
        "redis_cluster_slots": [
            {"port": port, "first_slot": first, "last_slot": last}
            for port, (first, last) in zip(host_ports, slot_ranges(len(host_ports)), strict=True)
        ],
        "valkey_num_node_groups": len(source_ports),
    }
    first_target = next(iter(target_ports.values()))
    forwards = [
        TunnelForward("source", source_ports[0], "127.0.0.1", host_ports[0]),
        TunnelForward("target", first_target, "clustercfg.example.cache.amazonaws.com", 6379),
    ]
    forwards += [
        TunnelForward(f"source-{host}", port, "127.0.0.1", host)
        for host, port in zip(host_ports, source_ports, strict=True)
    ]
    forwards += [
        TunnelForward(f"target-{member}", port, f"{member}.example", 6379)
        for member, port in target_ports.items()
    ]
    tunnel = TunnelRecord(
        os.getpid(), source_ports[0], first_target, _start_time(os.getpid()), forwards=forwards
    )
    workspace = Workspace(path)
    workspace.save(
        State(target_kind="aws", aws=AwsRecord(region="us-east-1", outputs=outputs, tunnel=tunnel))
    )
    return workspace


def install(monkeypatch: Any, service: SimulatedElastiCache) -> SimulatedElastiCache:
    """Every client `migrator.aws.clients.make_client` builds answers from `service`."""
    import boto3

    from migrator.aws import clients

    made: dict[str, Any] = {}

    def make_client(name: str, region: str | None) -> Any:
        if name not in made:
            client = boto3.session.Session(region_name=region or "us-east-1").client(name)
            SimStubber(client, service).activate()
            made[name] = client
        return made[name]

    monkeypatch.setattr(clients, "make_client", make_client)
    return service
