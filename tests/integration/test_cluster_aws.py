"""A cluster-mode-enabled ElastiCache group through the real engine and boto3 (helpers/aws_sim.py): preflight
judges the node groups' slots against a real source Redis Cluster, StartMigration gets ONE source endpoint and
each shard's stand-in replicates the source master of its slots. Without a forward to every node, status reads
every shard's link health and complete leaves the in-sync check to the service; with `migrator tunnel`
forwarding every node, every shard is watched, paused, fenced and verified as in the rehearsal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from migrator.aws import migration as aws_migration
from migrator.errors import Code
from migrator.local import cluster
from migrator.local.cluster import LocalCluster
from tests.helpers.aws_sim import (
    ClusterLoopback,
    LoopbackReplication,
    SimulatedElastiCache,
    install,
    tunnelled_cluster_workspace,
    tunnelled_workspace,
)
from tests.helpers.cli import CliResult
from tests.helpers.cluster_rehearsal import key_in_each_range
from tests.helpers.servers import ServerProcess, matrix_binary

SOURCE_ENDPOINT = ("10.0.2.15", 6379)  # redis_private_ip and the first of redis_node_ports


@pytest.fixture
def source(tmp_path: Path) -> Iterator[LocalCluster]:
    local = cluster.start_cluster(
        "source", matrix_binary("redis", "7.0"), 3, tmp_path / "src", tmp_path / "logs"
    )
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture
def stand_ins(server_factory: Callable[..., ServerProcess]) -> list[ServerProcess]:
    return [server_factory("valkey-server") for _ in range(3)]


def _cluster_group(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    source: LocalCluster,
    stand_ins: list[ServerProcess],
    shards: int = 3,
) -> SimulatedElastiCache:
    monkeypatch.setattr(aws_migration, "POLL_SECONDS", 0.01)
    source_port = int(source.urls[0].rsplit(":", 1)[1])
    workspace = tunnelled_workspace(tmp_path / ".migrator", source_port, stand_ins[0].port)

    def as_cluster(state: Any) -> None:
        state.aws.outputs.update(
            valkey_cluster_mode_enabled=True,
            redis_cluster_enabled=True,
            redis_node_ports=[6379, 6380, 6381],
            valkey_num_node_groups=shards,
        )

    workspace.update(as_cluster)
    sources = {SOURCE_ENDPOINT: source_port}
    plane = ClusterLoopback(
        [LoopbackReplication(s.port, sources) for s in stand_ins[:shards]], cluster.slot_ranges(shards)
    )
    return install(monkeypatch, SimulatedElastiCache(shards=shards, data_plane=plane))


def _json(cli: Callable[..., CliResult], *args: str, expect: int = 0) -> Any:
    result = cli(*args, "-o", "json")
    assert result.exit_code == expect, result
    return result.json


def _rows(document: Any) -> dict[str, Any]:
    return {row["name"]: row for row in document["checks"]}


def test_preflight_judges_the_node_groups_against_the_source_cluster(
    cli: Callable[..., CliResult],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    source: LocalCluster,
    stand_ins: list[ServerProcess],
) -> None:
    _cluster_group(tmp_path, monkeypatch, source, stand_ins)
    rows = _rows(_json(cli, "migrate", "preflight", "--source", source.urls[1]))
    for name in (
        "cluster_mode",
        "shard_count",
        "slot_layout",
        "source_cluster_state",
        "source_masters",
        "databases",
    ):
        assert rows[name]["status"] == "ok", rows[name]
    service = _cluster_group(tmp_path, monkeypatch, source, stand_ins, shards=2)
    rows = _rows(_json(cli, "migrate", "preflight", "--source", source.urls[0], expect=1))
    assert rows["shard_count"]["status"] == "fail"
    assert "source has 3 shards, target 2" in rows["shard_count"]["detail"]
    service.shards = 1  # a cluster-mode-disabled group
    rows = _rows(_json(cli, "migrate", "preflight", "--source", source.urls[0], expect=1))
    assert rows["cluster_mode"]["status"] == "fail"
    assert "valkey_num_node_groups" in rows["cluster_mode"]["fix"]


def test_start_gives_one_endpoint_and_each_shard_follows_the_master_of_its_slots(
    cli: Callable[..., CliResult],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    source: LocalCluster,
    stand_ins: list[ServerProcess],
) -> None:
    service = _cluster_group(tmp_path, monkeypatch, source, stand_ins)
    started = _json(cli, "migrate", "start", "--wait")
    assert started["state"] == "migrating"
    calls = [params for name, params in service.calls if name == "StartMigration"]
    assert calls == [
        {
            "ReplicationGroupId": "migrator",
            "CustomerNodeEndpointList": [{"Address": "10.0.2.15", "Port": 6379}],
        }
    ]
    masters = [node for node in cluster.topology(source.urls[0]) if node.role == "master"]
    for stand_in, master in zip(stand_ins, masters, strict=True):
        info = stand_in.client().info("replication")
        assert (info["role"], f"redis://127.0.0.1:{info['master_port']}") == ("slave", master.url)

    # No forward to every node: the link is every shard primary's PrimaryLinkHealthStatus.
    status = _json(cli, "migrate", "status")
    assert (status["link"]["master_link_status"], status["details"]["link_from"]) == ("up", "cloudwatch")
    service.link_health = 0.0
    assert _json(cli, "migrate", "status")["link"]["master_link_status"] == "down"
    service.link_health = None

    refused = _json(cli, "migrate", "complete", "--pause-writes", expect=2)
    assert refused["error"]["code"] == Code.DATA_PLANE_REQUIRED
    done = _json(cli, "migrate", "complete")
    assert done["state"] == "available" and done["verify"]["ran"] is False
    assert [params["Force"] for name, params in service.calls if name == "CompleteMigration"] == [False]
    assert all(s.client().info("replication")["role"] == "master" for s in stand_ins)
    again = _json(cli, "migrate", "complete", expect=2)
    assert again["error"]["code"] == Code.NOT_MIGRATING


# ---- with `migrator tunnel` forwarding every source node and every target node -------------------------
def _tunnelled_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: LocalCluster, stand_ins: list[ServerProcess]
) -> SimulatedElastiCache:
    monkeypatch.setattr(aws_migration, "POLL_SECONDS", 0.01)
    ports = [int(url.rsplit(":", 1)[1]) for url in source.urls]
    service = SimulatedElastiCache(shards=3)
    primaries = [members[0] for members in service.members()]  # the replicas get no stand-in (or forward)
    tunnelled_cluster_workspace(
        tmp_path / ".migrator",
        ports,
        {member: s.port for member, s in zip(primaries, stand_ins, strict=True)},
    )
    service.data_plane = ClusterLoopback(
        [LoopbackReplication(s.port, {SOURCE_ENDPOINT: ports[0]}) for s in stand_ins], cluster.slot_ranges(3)
    )
    return install(monkeypatch, service)


@pytest.mark.slow
def test_through_the_tunnel_every_shard_is_watched_paused_fenced_and_verified(
    cli: Callable[..., CliResult],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    source: LocalCluster,
    stand_ins: list[ServerProcess],
) -> None:
    from migrator.topology import SlotMap
    from migrator.workload import check_ledger
    from tests.helpers.rehearsal import live_writes, wait_for

    service = _tunnelled_cluster(tmp_path, monkeypatch, source, stand_ins)
    _json(cli, "load", "--keys", "3000")  # through the `source-<port>` forwards, each key to its master
    assert all(redis.Redis.from_url(url).dbsize() > 700 for url in source.urls)
    rows = _rows(_json(cli, "migrate", "preflight"))
    assert rows["source_masters"]["status"] == "ok" and rows["slot_layout"]["status"] == "ok"
    started = _json(cli, "migrate", "start", "--wait")
    assert started["waited"] and started["message"] == "initial sync done; the link is up"
    assert all(s.client().dbsize() > 700 for s in stand_ins)  # every shard synced before --wait returned
    status = _json(cli, "migrate", "status")
    assert status["details"]["link_from"] == "data-plane"
    assert [(s["name"], s["link"]["master_link_status"]) for s in status["shards"]] == [
        ("0001", "up"),
        ("0002", "up"),
        ("0003", "up"),
    ]
    assert [s["target_url"] for s in status["shards"]] == [s.url for s in stand_ins]
    with live_writes(f"redis://127.0.0.1:{int(source.urls[0].rsplit(':', 1)[1])}", rate=200) as writer:
        wait_for(lambda: writer.ledger.acked > 100, 10, "live writes into the source cluster")
        assert _json(cli, "migrate", "verify")["ok"] is True
        done = _json(cli, "migrate", "complete", "--pause-writes")
    assert (done["state"], done["caught_up"], done["source_fenced"]) == ("available", True, True)
    assert done["verify"]["ok"] is True and len(done["verify"]["shards"]) == 3
    assert [p["Force"] for name, p in service.calls if name == "CompleteMigration"] == [False]
    for url, key in zip(source.urls, key_in_each_range(cluster.slot_ranges(3)), strict=True):
        with pytest.raises(redis.ResponseError, match="NOREPLICAS"):  # every source master is fenced
            redis.Redis.from_url(url).set(key, "late")
    shard_map = SlotMap.of(
        [(s.url, [span]) for s, span in zip(stand_ins, cluster.slot_ranges(3), strict=True)]
    )
    report = check_ledger(writer.ledger, stand_ins[0].url, shard_map)
    assert report.ok and report.acked_writes > 100, report.summary()


def test_the_tunnel_forwards_every_source_node_and_every_target_node() -> None:
    from migrator.aws.tunnel import forwards_from_outputs
    from tests.helpers.aws import OUTPUT_VALUES

    outputs = {**OUTPUT_VALUES, "redis_cluster_enabled": True, "valkey_cluster_mode_enabled": True,
               "redis_node_ports": [6379, 6380, 6381], "bridge_port": None}  # fmt: skip
    nodes = [(f"migrator-000{i}-001", f"10.0.3.{10 + i}", 6379) for i in (1, 2, 3)]
    forwards = forwards_from_outputs(outputs, 16379, nodes)
    assert [(f.name, f.local_port, f.remote_host, f.remote_port) for f in forwards] == [
        ("source", 16379, "127.0.0.1", 6379),
        ("target", 16380, str(OUTPUT_VALUES["valkey_primary_endpoint"]), 6379),
        ("source-6379", 16381, "127.0.0.1", 6379),
        ("source-6380", 16382, "127.0.0.1", 6380),
        ("source-6381", 16383, "127.0.0.1", 6381),
        ("target-migrator-0001-001", 16384, "10.0.3.11", 6379),
        ("target-migrator-0002-001", 16385, "10.0.3.12", 6379),
        ("target-migrator-0003-001", 16386, "10.0.3.13", 6379),
    ]


def test_the_tunnel_asks_elasticache_for_each_target_node(monkeypatch: pytest.MonkeyPatch) -> None:
    from migrator.aws import tunnel
    from migrator.state import AwsRecord, State
    from tests.helpers.aws import OUTPUT_VALUES

    service = install(monkeypatch, SimulatedElastiCache(shards=2))
    state = State(
        target_kind="aws", aws=AwsRecord(outputs={**OUTPUT_VALUES, "valkey_cluster_mode_enabled": True})
    )
    nodes = tunnel._target_nodes(state, "us-east-1")
    assert nodes == [
        (member, f"{member}.migrator.example.cache.amazonaws.com", 6379)
        for members in service.members()
        for member in members
    ]
    assert ("DescribeCacheClusters", {"CacheClusterId": "migrator-0001-001", "ShowCacheNodeInfo": True}) in (
        service.calls
    )
    state.aws.outputs["valkey_cluster_mode_enabled"] = False
    assert tunnel._target_nodes(state, "us-east-1") is None  # one shard: the primary endpoint is enough
