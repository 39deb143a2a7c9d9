"""Local clusters from migrator.local.cluster: layout, formation, discovery, teardown, and the measured facts
that any cluster migration mechanism has to live with (real Redis 7.0 / Valkey 8.0 nodes)."""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from redis.cluster import RedisCluster

from migrator.errors import MigratorError
from migrator.local import cluster, processes
from migrator.local.cluster import LocalCluster
from migrator.local.processes import ServerSpec
from tests.helpers.servers import log_message, matrix_binary

REDIS_70 = ("redis", "7.0")
VALKEY_80 = ("valkey", "8.0")


@pytest.fixture
def make_cluster(tmp_path: Path) -> Iterator[Callable[..., LocalCluster]]:
    """make_cluster(role, (engine, version), masters) → a formed local cluster, stopped at teardown."""
    made: list[LocalCluster] = []

    def make(role: str, server: tuple[str, str], masters: int = 3, **settings: str) -> LocalCluster:
        taken = {port for c in made for s in c.specs for port in (s.port, s.cluster_port)}
        made.append(
            cluster.start_cluster(
                role,
                matrix_binary(*server),
                masters,
                tmp_path / role,
                tmp_path / "logs",
                taken=taken,
                settings=settings,
            )
        )
        return made[-1]

    yield make
    for local in made:
        local.stop()


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _masters_layout(url: str) -> list[list[list[int]]]:
    return [node.slots for node in cluster.topology(url) if node.role == "master"]


@pytest.mark.parametrize("masters", [2, 3, 4, 5, 7])
def test_slot_layout_covers_every_slot_once_and_is_deterministic(masters: int) -> None:
    ranges = cluster.slot_ranges(masters)
    assert ranges == cluster.slot_ranges(masters)
    assert ranges[0][0] == 0 and ranges[-1][1] == cluster.SLOTS - 1
    assert all(prev[1] + 1 == nxt[0] for prev, nxt in itertools.pairwise(ranges))
    sizes = [end - start + 1 for start, end in ranges]
    assert max(sizes) - min(sizes) <= 1


def test_three_way_layout_is_redis_cli_s() -> None:
    assert cluster.slot_ranges(3) == [(0, 5460), (5461, 10922), (10923, 16383)]


@pytest.mark.parametrize("server", [REDIS_70, VALKEY_80], ids=["redis-7.0", "valkey-8.0"])
def test_a_formed_cluster_is_discovered_from_one_node(
    make_cluster: Callable[..., LocalCluster], server: tuple[str, str]
) -> None:
    local = make_cluster("source", server)
    for url in local.urls:
        info = cluster.cluster_info(redis.Redis(port=_port(url)))
        assert (info["cluster_state"], info["cluster_slots_assigned"], info["cluster_known_nodes"]) == (
            "ok",
            "16384",
            "3",
        )
    nodes = cluster.topology(local.urls[2])
    assert [n.url for n in nodes] == local.urls  # specs are in slot order, and so is the topology
    assert [n.role for n in nodes] == ["master"] * 3
    assert [n.slots for n in nodes] == [[[a, b]] for a, b in cluster.slot_ranges(3)]
    assert len({n.node_id for n in nodes}) == 3 and all(n.master_id is None for n in nodes)
    assert nodes[0].to_dict()["slots"] == [[0, 5460]]
    # A cluster client routes to every shard.
    client = RedisCluster(host="127.0.0.1", port=_port(local.urls[0]))
    for i in range(300):
        client.set(f"key:{i}", i)
    assert all(redis.Redis(port=_port(url)).dbsize() > 0 for url in local.urls)
    assert client.get("key:7") == b"7"
    client.close()


def test_source_and_target_of_the_same_size_get_the_same_layout(
    make_cluster: Callable[..., LocalCluster],
) -> None:
    source = make_cluster("source", REDIS_70)
    target = make_cluster("target", VALKEY_80)
    assert _masters_layout(source.urls[0]) == _masters_layout(target.urls[1])
    assert {s.workdir.name for s in source.specs} == {"source-0", "source-1", "source-2"}
    assert all(s.nodes_conf.exists() for s in target.specs)


def test_stop_leaves_nothing_running(make_cluster: Callable[..., LocalCluster]) -> None:
    local = make_cluster("target", VALKEY_80, masters=2)
    assert local.stop() == [True, True]
    assert not any(processes.port_in_use(spec.port) for spec in local.specs)
    assert local.stop() == [False, False]  # already gone: nothing (and nobody else) is signalled


def test_replicas_and_slots_in_migration_are_parsed(make_cluster: Callable[..., LocalCluster]) -> None:
    local = make_cluster("source", REDIS_70, masters=2)
    first, second = cluster.topology(local.urls[0])
    a, b = redis.Redis(port=_port(first.url)), redis.Redis(port=_port(second.url))
    a.execute_command("CLUSTER SETSLOT", 100, "MIGRATING", second.node_id)
    b.execute_command("CLUSTER SETSLOT", 100, "IMPORTING", first.node_id)
    moving = {n.node_id: n for n in cluster.topology(first.url)}
    assert moving[first.node_id].migrating == {100: second.node_id}
    importing = {n.node_id: n for n in cluster.topology(second.url)}
    assert importing[second.node_id].importing == {100: first.node_id}
    text = (
        "07c3 127.0.0.1:30004@31004 slave 67ed 0 1426238317239 4 connected\n"
        "67ed 127.0.0.1:30001@31001,host-a myself,master - 0 0 1 connected 0-10 12 [11->-e7d1]\n"
        "e7d1 :30002@31002 master - 0 1426238316232 2 connected 13-16383\n"
        "f00d 127.0.0.1:30009@31009 handshake - 0 0 0 connected\n"
    )
    nodes = cluster.parse_cluster_nodes(text)
    assert [(n.url, n.role, n.slots, n.master_id) for n in nodes] == [
        ("redis://127.0.0.1:30001", "master", [[0, 10], [12, 12]], None),
        ("redis://127.0.0.1:30002", "master", [[13, 16383]], None),
        ("redis://127.0.0.1:30004", "replica", [], "67ed"),
    ]
    assert nodes[0].migrating == {11: "e7d1"} and nodes[0].slot_count == 12


def test_topology_of_a_standalone_server_is_a_clear_error(tmp_path: Path) -> None:
    spec = ServerSpec(
        "target", matrix_binary(*VALKEY_80), processes.free_port(), tmp_path, tmp_path / "v.log"
    )
    pid = processes.start(spec)
    try:
        with pytest.raises(MigratorError) as caught:
            cluster.topology(spec.url)
        assert caught.value.code == "NotACluster"
    finally:
        processes.stop(pid, spec)


def test_a_cluster_needs_two_masters_and_a_failed_start_leaves_nothing_running(tmp_path: Path) -> None:
    with pytest.raises(MigratorError) as caught:
        cluster.start_cluster("source", matrix_binary(*REDIS_70), 1, tmp_path, tmp_path)
    assert caught.value.code == "InvalidShardCount"
    specs = cluster.node_specs("source", matrix_binary(*REDIS_70), 3, tmp_path / "n", tmp_path / "logs")
    broken = [*specs[:2], dataclasses.replace(specs[2], settings={"no-such-directive": "1"})]
    with pytest.raises(MigratorError) as caught:
        cluster.start_nodes(broken)
    assert caught.value.code == "ServerStartFailed"
    assert not any(processes.port_in_use(spec.port) for spec in broken)


def test_a_cluster_node_cannot_follow_a_master_of_another_cluster(
    make_cluster: Callable[..., LocalCluster],
) -> None:
    source = make_cluster("source", REDIS_70, masters=2)
    target = make_cluster("target", VALKEY_80, masters=2)
    node = redis.Redis(port=_port(target.urls[0]))
    with pytest.raises(redis.ResponseError, match="REPLICAOF not allowed in cluster mode"):
        node.replicaof("127.0.0.1", _port(source.urls[0]))
    source_id = cluster.topology(source.urls[0])[0].node_id
    with pytest.raises(redis.ResponseError, match=f"Unknown node {source_id}"):
        node.execute_command("CLUSTER REPLICATE", source_id)


def _replicate_standalone(spec: ServerSpec, master_url: str) -> ServerSpec:
    """Restart a formed cluster node standalone (its nodes.conf stays on disk), replicating `master_url`."""
    standalone = dataclasses.replace(spec, cluster_port=None)
    processes.stop(processes.read_pidfile(spec), spec)
    processes.start(standalone)
    redis.Redis(port=spec.port).replicaof("127.0.0.1", _port(master_url))
    _wait_caught_up(standalone, master_url)
    return standalone


def _wait_caught_up(replica: ServerSpec, master_url: str, timeout: float = 15.0) -> None:
    client, master = redis.Redis(port=replica.port), redis.Redis(port=_port(master_url))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = client.info("replication")
        if (
            info.get("master_link_status") == "up"
            and not info.get("master_sync_in_progress")
            and info["slave_repl_offset"] >= master.info("replication")["master_repl_offset"]
        ):
            return
        time.sleep(0.05)
    raise AssertionError(f"{replica.url} did not catch up with {master_url} in {timeout}s")


def _promote_and_restart_clustered(standalone: ServerSpec, spec: ServerSpec) -> None:
    client = redis.Redis(port=standalone.port)
    client.replicaof("NO", "ONE")
    client.save()  # the target role keeps no snapshots: this is the data the cluster node loads
    processes.stop(processes.read_pidfile(standalone), standalone)
    processes.start(spec)


@pytest.mark.slow
def test_standalone_replicas_restarted_into_their_cluster_keep_data_and_layout(
    make_cluster: Callable[..., LocalCluster],
) -> None:
    # Measured mechanism: each target node, restarted without cluster mode, replicates the source master of
    # its slots, then comes back as the same cluster node (same nodes.conf) with the data.
    source = make_cluster("source", REDIS_70)
    target = make_cluster("target", VALKEY_80)
    writer = RedisCluster(host="127.0.0.1", port=_port(source.urls[0]))
    for i in range(2000):
        writer.set(f"k:{i}", i, px=600_000 + i)
    standalone = [
        _replicate_standalone(spec, url) for spec, url in zip(target.specs, source.urls, strict=True)
    ]
    with pytest.raises(redis.ReadOnlyError):
        redis.Redis(port=standalone[0].port).set("client-write", 1)
    writer.set("k:late", "written while replicating")
    for spec, master in zip(standalone, source.urls, strict=True):
        _wait_caught_up(spec, master)
    for plain, clustered in zip(standalone, target.specs, strict=True):
        _promote_and_restart_clustered(plain, clustered)
    cluster.wait_ok(target.urls)
    assert _masters_layout(target.urls[0]) == _masters_layout(source.urls[0])
    reader = RedisCluster(host="127.0.0.1", port=_port(target.urls[1]))
    assert reader.get("k:late") == b"written while replicating"
    assert all(reader.get(f"k:{i}") == str(i).encode() for i in range(0, 2000, 7))
    assert all(reader.pexpiretime(f"k:{i}") == writer.pexpiretime(f"k:{i}") for i in range(0, 2000, 97))
    reader.set("k:after", 1)  # a working cluster: it takes writes on every shard
    assert sum(redis.Redis(port=_port(u)).dbsize() for u in source.urls) == 2001  # the source kept its data


@pytest.mark.slow
def test_valkey_8_0_deletes_keys_of_slots_its_nodes_conf_gives_to_another_node(
    make_cluster: Callable[..., LocalCluster],
) -> None:
    # The hazard planted: node 0 of the target is fed shard 1's data, which its nodes.conf assigns elsewhere.
    source = make_cluster("source", REDIS_70, masters=2)
    target = make_cluster("target", VALKEY_80, masters=2)
    writer = RedisCluster(host="127.0.0.1", port=_port(source.urls[0]))
    for i in range(200):
        writer.set(f"k:{i}", i)
    wrong_master = cluster.topology(source.urls[0])[1]
    standalone = _replicate_standalone(target.specs[0], wrong_master.url)
    assert redis.Redis(port=standalone.port).dbsize() > 0
    _promote_and_restart_clustered(standalone, target.specs[0])
    assert redis.Redis(port=target.specs[0].port).dbsize() == 0
    deleted = [
        log_message(line)
        for line in target.specs[0].logfile.read_text().splitlines()
        if "but the slot is assigned to another node" in line
    ]
    assert deleted and deleted[0].endswith("Deleting keys in the slot.")
