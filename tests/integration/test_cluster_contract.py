"""The cluster life cycle's rules against both backends: the same commands give the same results and codes.

`local` is `migrator up --shards 3` (a Redis Cluster and a Valkey cluster). `aws` is the ElastiCache backend
over the simulated service with a cluster-mode group of 3 node groups, its tunnel forwarding every source
node and every target node (real servers: a Redis Cluster source and one stand-in per node group's primary).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from migrator.aws import migration as aws_migration
from migrator.errors import Code
from migrator.local import cluster
from migrator.topology import SlotMap
from migrator.workload import load
from tests.helpers.aws_sim import (
    ClusterLoopback,
    LoopbackReplication,
    SimulatedElastiCache,
    install,
    tunnelled_cluster_workspace,
)
from tests.helpers.cli import CliResult
from tests.helpers.cluster_rehearsal import key_in_each_range
from tests.helpers.servers import ServerProcess, matrix_binary
from tests.helpers.tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow
SHARDS = cluster.slot_ranges(3)


@dataclass
class ClusterEnv:
    kind: str
    cli: Callable[..., CliResult]
    source_ports: list[int]  # the source masters, in slot order
    target_ports: list[int]  # the target shards' primaries, in slot order

    def node(self, role: str, shard: int) -> redis.Redis:
        ports = self.source_ports if role == "source" else self.target_ports
        return redis.Redis(port=ports[shard], socket_timeout=10)

    def run(self, *args: str, expect: int) -> Any:
        result = self.cli(*args, "-o", "json")
        assert result.exit_code == expect, result
        return result.json

    def error_code(self, *args: str) -> str:
        return str(self.run(*args, expect=2)["error"]["code"])

    def state(self) -> str:
        return str(self.run("migrate", "status", expect=0)["state"])

    def wait_link(self, shard: int, up: bool, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            info = self.node("target", shard).info("replication")
            if (info.get("master_link_status") == "up" and not info.get("master_sync_in_progress")) == up:
                return
            assert time.monotonic() < deadline, f"shard {shard} link never went {'up' if up else 'down'}"
            time.sleep(0.05)


def _local(cli: Callable[..., CliResult]) -> Iterator[ClusterEnv]:
    up = cli("up", "--shards", "3", "-o", "json")
    assert up.exit_code == 0, up
    document: Any = up.json
    ports = {role: [node["port"] for node in document[role]["nodes"]] for role in ("source", "target")}
    try:
        yield ClusterEnv("local", cli, ports["source"], ports["target"])
    finally:
        cli("down")


def _aws(
    cli: Callable[..., CliResult],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    server_factory: Callable[..., ServerProcess],
) -> Iterator[ClusterEnv]:
    source = cluster.start_cluster(
        "source", matrix_binary("redis", "7.0"), 3, tmp_path / "src", tmp_path / "logs"
    )
    try:
        stand_ins = [server_factory("valkey-server") for _ in SHARDS]
        ports = [spec.port for spec in source.specs]
        monkeypatch.setattr(aws_migration, "POLL_SECONDS", 0.01)
        service = SimulatedElastiCache(shards=3)
        primaries = [members[0] for members in service.members()]
        tunnelled_cluster_workspace(
            tmp_path / ".migrator", ports, {m: s.port for m, s in zip(primaries, stand_ins, strict=True)}
        )
        service.data_plane = ClusterLoopback(
            [LoopbackReplication(s.port, {("10.0.2.15", 6379): ports[0]}) for s in stand_ins], SHARDS
        )
        install(monkeypatch, service)
        yield ClusterEnv("aws", cli, ports, [s.port for s in stand_ins])
    finally:
        source.stop()


@pytest.fixture(params=["local", "aws"])
def env(
    request: pytest.FixtureRequest,
    cli: Callable[..., CliResult],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    server_factory: Callable[..., ServerProcess],
) -> Iterator[ClusterEnv]:
    if request.param == "local":
        yield from _local(cli)
    else:
        yield from _aws(cli, tmp_path, monkeypatch, server_factory)


def _fill(env: ClusterEnv, keys: int = 2000) -> None:
    load(f"redis://127.0.0.1:{env.source_ports[0]}", keys=keys, ttl_fraction=0.1, seed=5)


def test_start_each_shard_then_a_paused_cut_over_fencing_every_master(env: ClusterEnv) -> None:
    _fill(env)
    assert env.error_code("migrate", "complete") == Code.NOT_MIGRATING
    started = env.run("migrate", "start", "--wait", expect=0)
    assert (started["state"], started["waited"]) == ("migrating", True)
    for shard in range(3):  # each target shard replicates the source master of its slots, and has its keys
        info = env.node("target", shard).info("replication")
        assert (info["role"], int(info["master_port"])) == ("slave", env.source_ports[shard])
        assert env.node("target", shard).dbsize() == env.node("source", shard).dbsize() > 0
    assert env.error_code("migrate", "start") == Code.ALREADY_MIGRATING
    rows = {row["name"]: row["status"] for row in env.run("migrate", "preflight", expect=1)["checks"]}
    assert rows["target_state"] == "fail"

    done = env.run("migrate", "complete", "--pause-writes", expect=0)
    assert (done["state"], done["caught_up"], done["source_fenced"]) == ("available", True, True)
    assert 0 < done["writes_blocked_ms"] <= done["pause_ms"]
    assert done["verify"]["ok"] is True
    assert [s["name"] for s in done["verify"]["shards"]] == ["0001", "0002", "0003"]
    for shard, key in enumerate(key_in_each_range(SHARDS)):
        with pytest.raises(redis.ResponseError, match="NOREPLICAS"):
            env.node("source", shard).set(key, "late")
        assert env.node("target", shard).info("replication")["role"] == "master"
    assert env.error_code("migrate", "complete") == Code.NOT_MIGRATING


def test_one_shard_s_link_cut_shows_there_refuses_the_cut_over_and_recovers_by_itself(
    env: ClusterEnv,
) -> None:
    from migrator.workload import check_ledger
    from tests.helpers.rehearsal import live_writes, wait_for

    _fill(env)
    env.run("migrate", "start", "--wait", expect=0)
    with TcpProxy(env.source_ports[1]) as proxy:
        env.node("target", 1).replicaof("127.0.0.1", proxy.port)  # shard 0002's link now runs through it
        env.wait_link(1, up=True)
        proxy.cut()
        env.wait_link(1, up=False)
        status = env.run("migrate", "status", expect=0)
        assert status["link"]["master_link_status"] == "down"  # the whole target: not every shard is up
        assert [s["link"]["master_link_status"] for s in status["shards"]] == ["up", "down", "up"]
        assert env.error_code("migrate", "complete", "--pause-writes") == Code.LINK_DOWN
        assert env.state() == "migrating"
        with live_writes(f"redis://127.0.0.1:{env.source_ports[0]}", rate=200) as writer:
            wait_for(lambda: writer.ledger.acked > 100, 10, "writes while the link is cut")
            proxy.restore()  # nothing else: the replica reconnects and resyncs from the backlog
            env.wait_link(1, up=True)
            status = env.run("migrate", "status", expect=0)
            assert [s["link"]["master_link_status"] for s in status["shards"]] == ["up", "up", "up"]
            done = env.run("migrate", "complete", "--pause-writes", expect=0)
    assert done["caught_up"] is True and done["verify"]["ok"] is True
    urls = [f"redis://127.0.0.1:{port}" for port in env.target_ports]
    report = check_ledger(
        writer.ledger, urls[0], SlotMap.of(list(zip(urls, [[span] for span in SHARDS], strict=True)))
    )
    assert report.ok and report.acked_writes > 100, report.summary()  # zero acknowledged writes lost
