"""The workload on a real 3-master Redis Cluster: `load` and the live writer route each key to the master of
its slot (found from one node's URL), hash-tagged keys stay in one slot, and the ledger check reads each key
where it lives — as the cluster says, or as a given slot map says (target shards while they replicate)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from migrator.errors import Code, MigratorError
from migrator.local import cluster
from migrator.local.cluster import LocalCluster
from migrator.topology import SlotMap, key_slot
from migrator.workload import Ledger, LiveWriter, check_ledger, load
from migrator.workload.load import _writers
from tests.helpers.cluster_rehearsal import copy_shards
from tests.helpers.servers import matrix_binary


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    base = tmp_path_factory.mktemp("cluster")
    local = cluster.start_cluster("source", matrix_binary("redis", "7.0"), 3, base, base / "logs")
    try:
        yield local
    finally:
        local.stop()


def _node(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=10)


def test_load_spreads_keys_over_every_master_by_slot(source: LocalCluster) -> None:
    report = load(source.urls[1], keys=3000, seed=3, prefix="load:")
    assert report.keys == 3000
    slot_map = SlotMap.from_nodes(cluster.topology(source.urls[0]))
    for url in source.urls:
        keys = list(_node(url).scan_iter(match=b"load:*", count=1000))
        assert len(keys) > 700  # about a third each
        assert all(slot_map.url_for(key) == url for key in keys)  # each key on the master of its slot


def test_hash_tagged_keys_go_in_one_mset_and_other_databases_are_refused(source: LocalCluster) -> None:
    writers, writer_for = _writers(cluster_endpoint(source), [0])
    try:
        tagged = [f"{{user:7}}:field{i}".encode() for i in range(20)]
        assert len({key_slot(key) for key in tagged}) == 1
        writer = writer_for(0, tagged[0])
        for key in tagged:
            assert writer_for(0, key) is writer
            writer.add("string", key, b"v", None)
        writer.flush()  # one MSET for the slot: CROSSSLOT would fail it if the keys were split wrongly
        assert (
            _node(SlotMap.from_nodes(cluster.topology(source.urls[0])).url_for(tagged[0])).exists(*tagged)
            == 20
        )
    finally:
        for w in writers.values():
            w.client.close()
    with pytest.raises(MigratorError) as caught:
        load(source.urls[0], keys=10, dbs=[0, 1])
    assert caught.value.code == Code.INVALID_VALUE and "database 0 only" in caught.value.message


def cluster_endpoint(source: LocalCluster):  # type: ignore[no-untyped-def]
    from migrator.endpoints import parse_url

    return parse_url(source.urls[0])


@pytest.mark.parametrize("shard", [0, 1, 2])
def test_the_ledger_check_finds_a_write_lost_on_any_shard(source: LocalCluster, shard: int) -> None:
    writer = LiveWriter(source.urls[2], rate=2000, ledger=Ledger(), seed=shard)
    report = writer.run(duration=0.5)
    assert report.acked > 250 and report.failed == 0  # every write routed to the right master
    routes = SlotMap.from_nodes(cluster.topology(source.urls[0]))
    masters_written = {routes.url_for(r.key) for r in writer.ledger.records}
    assert masters_written == set(source.urls)
    assert check_ledger(writer.ledger, source.urls[0]).ok
    url = source.urls[shard]
    slot_map = SlotMap.from_nodes(cluster.topology(url))
    lost = next(r for r in writer.ledger.records if r.op == "set" and slot_map.url_for(r.key) == url
                and not any(o.key == r.key and o.op == "del" for o in writer.ledger.records))  # fmt: skip
    _node(url).delete(lost.key)
    found = check_ledger(writer.ledger, source.urls[(shard + 1) % 3])
    assert not found.ok and [(p.op, p.key) for p in found.problems] == [("set", lost.key)]


def test_the_ledger_check_follows_a_given_slot_map(source: LocalCluster, tmp_path: Path) -> None:
    # Standalone servers standing in for target shards that replicate: no CLUSTER NODES to ask.
    from tests.helpers.servers import ServerProcess

    writer = LiveWriter(source.urls[0], rate=2000, ledger=Ledger(), seed=9)
    writer.run(duration=0.5)
    stand_ins = [ServerProcess(matrix_binary("valkey", "8.0"), tmp_path / f"s{i}").start() for i in range(3)]
    try:
        topology = [n for n in cluster.topology(source.urls[0]) if n.role == "master"]
        copy_shards([node.url for node in topology], [stand_in.url for stand_in in stand_ins])
        slot_map = SlotMap.of([(s.url, n.slots) for n, s in zip(topology, stand_ins, strict=True)])
        assert check_ledger(writer.ledger, stand_ins[0].url, slot_map).ok
        missing = check_ledger(writer.ledger, stand_ins[0].url)  # read as one server: most keys are elsewhere
        assert not missing.ok
    finally:
        for stand_in in stand_ins:
            stand_in.stop()
