"""Preflight's cluster rows on real clusters: each fault is planted on a 3-shard pair and must fail its own
row (and refuse `migrate start`, changing nothing); undone, the row is ok again."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from migrator.errors import Code
from migrator.local import cluster
from tests.helpers.cli import CliResult
from tests.helpers.cluster_rehearsal import ClusterRehearsal
from tests.helpers.servers import ServerProcess, matrix_binary


@pytest.fixture
def env(cli: Callable[..., CliResult], tmp_path: Path) -> Iterator[ClusterRehearsal]:
    rehearsal = ClusterRehearsal(cli, tmp_path)
    rehearsal.up()
    try:
        yield rehearsal
    finally:
        cli("down")


def _rows(env: ClusterRehearsal, *args: str, expect: int) -> dict[str, dict[str, Any]]:
    report = env.json("migrate", "preflight", *args, expect=expect)
    return {row["name"]: row for row in report["checks"]}


def _node_id(env: ClusterRehearsal, name: str) -> str:
    return next(n.node_id for n in cluster.topology(env.url_of(name)) if n.url == env.url_of(name))


def _refused_and_unchanged(env: ClusterRehearsal) -> None:
    assert env.error_code("migrate", "start", "--wait") == Code.PREFLIGHT_FAILED
    assert env.status()["state"] == "available"
    assert all(env.replicating_from(name) is None for name in env.names("target"))


@pytest.mark.slow
def test_source_faults_fail_their_rows_and_refuse_the_start(
    env: ClusterRehearsal, tmp_path: Path, server_factory: Callable[..., ServerProcess]
) -> None:
    assert all(row["status"] == "ok" for row in _rows(env, expect=0).values())
    source0, source1 = env.node("source-0"), env.node("source-1")
    id0, id1 = _node_id(env, "source-0"), _node_id(env, "source-1")

    # A slot in migration: keys of slot 100 would change hands during the sync.
    source0.execute_command("CLUSTER SETSLOT", 100, "MIGRATING", id1)
    source1.execute_command("CLUSTER SETSLOT", 100, "IMPORTING", id0)
    rows = _rows(env, expect=1)
    assert rows["source_slots_moving"]["status"] == "fail"
    assert "slot 100" in rows["source_slots_moving"]["detail"]
    _refused_and_unchanged(env)
    for node in (source0, source1):
        node.execute_command("CLUSTER SETSLOT", 100, "STABLE")
    assert _rows(env, expect=0)["source_slots_moving"]["status"] == "ok"

    # A slot no master serves: its keys could not be migrated.
    for name in env.names("source"):
        env.node(name).execute_command("CLUSTER DELSLOTS", 200)
    rows = _rows(env, expect=1)
    assert rows["source_cluster_state"]["status"] == "fail"
    assert "16383 of 16384 slots assigned" in rows["source_cluster_state"]["detail"]
    _refused_and_unchanged(env)
    source0.execute_command("CLUSTER ADDSLOTS", 200)
    cluster.wait_ok([env.url_of(name) for name in env.names("source")])

    # A layout that differs from the target's: an (empty) slot moved to another master.
    for name in env.names("source"):
        env.node(name).execute_command("CLUSTER SETSLOT", 0, "NODE", id1)
    rows = _rows(env, expect=1)
    assert rows["slot_layout"]["status"] == "fail" and rows["shard_count"]["status"] == "ok"
    _refused_and_unchanged(env)

    # A URL naming another database: a cluster has database 0 only.
    rows = _rows(env, "--source", env.url_of("source-0") + "/1", expect=1)
    assert rows["source_database"]["status"] == "fail"

    # Another shard count, and a standalone source against the cluster target.
    two = cluster.start_cluster(
        "source", matrix_binary("redis", "7.0"), 2, tmp_path / "two", tmp_path / "two-logs",
        taken={env.port(name) for name in env.state()["servers"]},
    )  # fmt: skip
    try:
        rows = _rows(env, "--source", two.urls[0], expect=1)
        assert rows["shard_count"]["status"] == "fail"
        assert "source has 2 shards, target 3" in rows["shard_count"]["detail"]
        assert "valkey_num_node_groups = 2" in rows["shard_count"]["fix"]
    finally:
        two.stop()
    standalone = server_factory("redis-server", extra=["--protected-mode", "no"])
    rows = _rows(env, "--source", standalone.url, expect=1)
    assert rows["cluster_mode"]["status"] == "fail"
    assert (
        "source: cluster mode disabled (1 shard); target: cluster mode enabled (3 shards)"
        in (rows["cluster_mode"]["detail"])
    )


@pytest.mark.slow
def test_a_source_resharded_under_the_migration_is_not_cut_over(env: ClusterRehearsal) -> None:
    env.json("load", "--keys", "1000")
    env.json("migrate", "start", "--wait")
    empty = next(
        slot for slot in range(cluster.SLOTS) if not env.node("source-0").cluster("countkeysinslot", slot)
    )
    for name in env.names("source"):
        env.node(name).execute_command("CLUSTER SETSLOT", empty, "NODE", _node_id(env, "source-1"))
    assert env.error_code("migrate", "complete", "--pause-writes") == Code.SLOT_LAYOUT_CHANGED
    assert env.status()["state"] == "migrating"


# ---- the rules on facts alone (no servers): what each backend's facts lead to ---------------------------
def _facts(engine: str, version: str, layout: list[list[list[int]]] | None, **extra: Any) -> Any:
    from migrator.preflight import ClusterFacts, ServerFacts
    from migrator.topology import ClusterNode

    nodes = [ClusterNode(f"redis://10.0.0.{i}:6379", "master", slots, f"id{i}", None)
             for i, slots in enumerate(layout or [])]  # fmt: skip
    return ServerFacts(
        url="redis://10.0.0.1:6379", engine=engine, version=version, rdb_version=None, used_memory=0,
        maxmemory=0, databases=16, cluster_enabled=layout is not None, role="master", protected_mode="no",
        cluster=ClusterFacts(nodes, "ok", cluster.SLOTS) if layout is not None else None, **extra,
    )  # fmt: skip


EVEN = [[list(r)] for r in cluster.slot_ranges(3)]


@pytest.mark.parametrize(
    ("source_layout", "target_layout", "failing"),
    [
        (EVEN, EVEN, None),
        (EVEN, [[list(r)] for r in cluster.slot_ranges(2)], "shard_count"),
        (EVEN, [[[0, 5459]], [[5460, 10922]], [[10923, 16383]]], "slot_layout"),
        (EVEN, None, "cluster_mode"),
        (None, EVEN, "cluster_mode"),
    ],
    ids=["same", "fewer-shards", "other-layout", "standalone-target", "standalone-source"],
)
def test_the_topology_rows(source_layout: Any, target_layout: Any, failing: str | None) -> None:
    from migrator.preflight import pair_checks

    rows = pair_checks(_facts("redis", "7.0.15", source_layout), _facts("valkey", "8.0.1", target_layout))
    assert [row.name for row in rows if row.status == "fail"] == ([failing] if failing else [])


def test_a_cluster_needs_every_key_in_database_0_and_gets_no_bridge_fix() -> None:
    from migrator.preflight import pair_checks

    source = _facts("redis", "7.4.1", EVEN, databases_with_keys=(0, 3))
    rows = {row.name: row for row in pair_checks(source, _facts("valkey", "8.0.1", EVEN))}
    assert rows["databases"].status == "fail" and "database(s) 3" in rows["databases"].detail
    assert rows["rdb_format"].status == "fail" and "--bridge" not in rows["rdb_format"].fix
    assert "Redis <= 7.2" in rows["rdb_format"].fix


@pytest.mark.slow
def test_masters_of_different_versions_are_named_and_the_newest_rdb_is_judged(tmp_path: Path) -> None:
    """A rolling upgrade half done: node 0 runs Redis 7.0 (RDB 10), node 2 Redis 7.4 (RDB 12), which the
    Valkey 8.0 target shard of its slots cannot load. Asking node 0 alone would call the pair fine."""
    from migrator import preflight

    redis70, redis74 = matrix_binary("redis", "7.0"), matrix_binary("redis", "7.4")
    specs = cluster.node_specs("source", redis70, 3, tmp_path / "src", tmp_path / "logs")
    specs[2] = dataclasses.replace(specs[2], binary=redis74)
    source = cluster.LocalCluster(specs, cluster.start_nodes(specs))
    target = None
    try:
        cluster.form(specs)
        target = cluster.start_cluster(
            "target", matrix_binary("valkey", "8.0"), 3, tmp_path / "tgt", tmp_path / "logs"
        )
        source_rows, source_facts = preflight.source_checks(source.urls[0])
        _, target_facts = preflight.inspect(target.urls[0], "target")
        assert source_facts is not None and target_facts is not None
        rows = {row.name: row for row in [*source_rows, *preflight.pair_checks(source_facts, target_facts)]}
        masters, rdb = rows["source_masters"], rows["rdb_format"]
        assert masters.status == "warn" and "redis 7.0.15 on 2; redis 7.4.1 on 1" in masters.detail
        assert rdb.status == "fail" and "redis 7.4.1 sends RDB 12" in rdb.detail
    finally:
        source.stop()
        if target is not None:
            target.stop()
