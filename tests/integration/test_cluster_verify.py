"""verify across real clusters (3-master Redis 7.0 source, 3-shard Valkey 8.0 target, the same layout): both
discovered from one URL each, every source master compared with the target node of the same slots, one
process per shard. A fault planted on any shard is found, with its kind, on that shard; a clean copy is ok."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from migrator.errors import Code, MigratorError
from migrator.local import cluster
from migrator.local.cluster import LocalCluster
from migrator.topology import SlotMap
from migrator.verify import EXTRA, MISSING, TTL, VALUE, verify
from migrator.workload import load
from tests.helpers.cluster_rehearsal import copy_shards, key_in_each_range
from tests.helpers.servers import ServerProcess, matrix_binary

SHARDS = cluster.slot_ranges(3)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCluster, LocalCluster]]:
    base = tmp_path_factory.mktemp("verify-clusters")
    source = cluster.start_cluster("source", matrix_binary("redis", "7.0"), 3, base, base / "logs")
    try:
        taken = {port for spec in source.specs for port in (spec.port, spec.cluster_port or 0)}
        target = cluster.start_cluster(
            "target", matrix_binary("valkey", "8.0"), 3, base, base / "logs", taken=taken
        )
        try:
            load(source.urls[0], keys=6000, ttl_fraction=0.2, seed=11)
            copy_shards(source.urls, target.urls)
            yield source, target
        finally:
            target.stop()
    finally:
        source.stop()


def _node(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=10)


def test_a_clean_copy_is_ok_shard_by_shard(pair: tuple[LocalCluster, LocalCluster]) -> None:
    source, target = pair
    report = verify(source.urls[2], target.urls[0], rounds=1)  # any node of each cluster will do
    assert report.ok and report.keys_checked == 6000
    assert [(s.name, s.slots, s.ok) for s in report.shards] == [
        (f"{i + 1:04d}", [list(span)], True) for i, span in enumerate(SHARDS)
    ]
    assert [s.source for s in report.shards] == source.urls and [
        s.target for s in report.shards
    ] == target.urls
    assert sum(s.keys_checked for s in report.shards) == 6000
    assert all(s.keys_checked > 1500 for s in report.shards)


def _hash_on(url: str) -> bytes:
    return next(_node(url).scan_iter(match=b"mig:hash:*", count=1000))


def _with_ttl_on(url: str) -> bytes:
    node = _node(url)
    return next(k for k in node.scan_iter(match=b"mig:string:*", count=1000) if node.pttl(k) > 0)


def _plant(kind: str, url: str, shard: int) -> Callable[[], None]:
    """Plant `kind` on the target node at `url` (serving shard `shard`); returns how to undo it."""
    node = _node(url)
    if kind == MISSING:
        key = next(node.scan_iter(match=b"mig:string:*", count=1000))
        payload, expiry = node.dump(key), node.pexpiretime(key)
        node.delete(key)
        return lambda: node.restore(key, max(expiry, 0), payload, absttl=expiry > 0)
    if kind == EXTRA:
        key = key_in_each_range(SHARDS, prefix="planted")[shard]
        node.set(key, "only on the target")
        return lambda: node.delete(key)
    if kind == VALUE:
        key = _hash_on(url)
        field, value = next(iter(node.hgetall(key).items()))
        node.hset(key, field, value + b"!")
        return lambda: node.hset(key, field, value)
    key = _with_ttl_on(url)
    expiry = node.pexpiretime(key)
    node.persist(key)
    return lambda: node.pexpireat(key, expiry)


@pytest.mark.parametrize("shard", [0, 1, 2])
@pytest.mark.parametrize("kind", [MISSING, EXTRA, VALUE, TTL])
def test_a_fault_on_any_shard_is_found_there_with_its_kind(
    pair: tuple[LocalCluster, LocalCluster], kind: str, shard: int
) -> None:
    source, target = pair
    undo = _plant(kind, target.urls[shard], shard)
    try:
        report = verify(source.urls[0], target.urls[0], rounds=1)
    finally:
        undo()
    assert not report.ok and getattr(report, kind) == 1
    assert [getattr(s, kind) for s in report.shards] == [int(i == shard) for i in range(3)]
    assert [m.kind for m in report.mismatches] == [kind]


def test_target_shards_given_as_a_slot_map_while_they_replicate(
    pair: tuple[LocalCluster, LocalCluster], server_factory: Callable[..., ServerProcess]
) -> None:
    # Standalone stand-ins for target shards out of cluster mode: CLUSTER NODES cannot say who is who.
    source, _ = pair
    stand_ins = [server_factory("valkey-server") for _ in SHARDS]
    for url, stand_in in zip(source.urls, stand_ins, strict=True):
        stand_in.client().replicaof("127.0.0.1", int(url.rsplit(":", 1)[1]))

    slot_map = SlotMap.of([(s.url, [span]) for s, span in zip(stand_ins, SHARDS, strict=True)])
    for stand_in, url in zip(stand_ins, source.urls, strict=True):
        _wait_synced(stand_in, url)
    report = verify(source.urls[0], stand_ins[1].url, target_map=slot_map, rounds=1)
    assert report.ok and [s.target for s in report.shards] == [s.url for s in stand_ins]
    with pytest.raises(MigratorError) as caught:
        verify(source.urls[0], stand_ins[0].url)  # without the map: a cluster against one server
    assert caught.value.code == Code.INVALID_COMBINATION


def _wait_synced(replica: ServerProcess, master_url: str) -> None:
    from tests.helpers.rehearsal import wait_for

    master = _node(master_url)

    def synced() -> bool:
        info = replica.client().info("replication")
        return (
            info.get("master_link_status") == "up"
            and not info.get("master_sync_in_progress")
            and info.get("slave_repl_offset", -1) >= master.info("replication")["master_repl_offset"]
        )

    wait_for(synced, 30, f"{replica.url} synced with {master_url}")


def test_clusters_sharded_differently_and_other_databases_are_refused(
    pair: tuple[LocalCluster, LocalCluster], tmp_path: Path
) -> None:
    source, target = pair
    taken = {spec.port for c in pair for spec in c.specs} | {
        spec.cluster_port or 0 for c in pair for spec in c.specs
    }
    two = cluster.start_cluster(
        "target", matrix_binary("valkey", "8.0"), 2, tmp_path, tmp_path / "logs", taken=taken
    )
    try:
        with pytest.raises(MigratorError) as caught:
            verify(source.urls[0], two.urls[0])
        assert caught.value.code == Code.INVALID_COMBINATION and "sharded differently" in caught.value.message
    finally:
        two.stop()
    with pytest.raises(MigratorError) as caught:
        verify(source.urls[0], target.urls[0], dbs=[0, 1])
    assert caught.value.code == Code.INVALID_VALUE
