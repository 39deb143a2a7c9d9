"""A cluster-mode-enabled ElastiCache group through the real engine and boto3 (tests/aws_sim.py): preflight
judges the node groups' slots against a real source Redis Cluster, StartMigration gets ONE source endpoint and
each shard's stand-in replicates the source master of its slots, status reads every shard's link health, and
complete without a path to every node leaves the in-sync check to the service."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from migrator.aws import migration as aws_migration
from migrator.errors import Code
from migrator.local import cluster
from migrator.local.cluster import LocalCluster
from tests.aws_sim import (
    ClusterLoopback,
    LoopbackReplication,
    SimulatedElastiCache,
    install,
    tunnelled_workspace,
)
from tests.conftest import CliResult
from tests.servers import ServerProcess, matrix_binary

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
