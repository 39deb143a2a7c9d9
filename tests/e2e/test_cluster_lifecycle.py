"""The cluster life cycle as a user runs it, on real clusters of 3 shards each side (Redis 7.0 → Valkey 8.0):
`up --shards 3`, `load`, `migrate start --wait`, live writes with a ledger, `migrate status`, `migrate
complete --pause-writes`, `down`. Each claim is asserted where it can fail: which master each target node
follows, that target nodes refuse writes, every shard's link, the fence on every source master, the cut-over
window, the layout, zero acknowledged writes lost, nothing left running."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from migrator.errors import Code
from migrator.local import cluster
from tests.helpers.cli import CliResult
from tests.helpers.cluster_rehearsal import (
    ClusterRehearsal,
    assert_a_working_cluster,
    events,
    key_in_each_range,
)
from tests.helpers.golden import assert_golden
from tests.helpers.isolation import our_processes
from tests.helpers.rehearsal import assert_acked_writes_on, live_writes, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def rehearsal(cli: Callable[..., CliResult], tmp_path: Path) -> Iterator[ClusterRehearsal]:
    env = ClusterRehearsal(cli, tmp_path)
    try:
        yield env
    finally:
        cli("down")
    assert our_processes(tmp_path) == [], "`down` left processes running"


def _verified(env: ClusterRehearsal) -> dict[str, Any]:
    """`migrate verify` on the workspace: every shard compared, clean, each shard's keys counted."""
    report = env.json("migrate", "verify")
    assert report["ok"] and len(report["shards"]) == 3, report
    assert sum(shard["keys_checked"] for shard in report["shards"]) == report["keys_checked"] > 0
    return report


def test_life_cycle_under_live_writes_loses_no_acknowledged_write(rehearsal: ClusterRehearsal) -> None:
    env = rehearsal
    up = env.up()
    assert up["cluster"] is True and up["started"]
    status = env.json("status")
    ranges = [[list(r)] for r in cluster.slot_ranges(3)]
    for role in ("source", "target"):
        nodes = status[role]["nodes"]
        assert [n["slots"] for n in nodes] == ranges and {n["role"] for n in nodes} == {"master"}
        assert status[role]["url"] == nodes[0]["url"] == f"redis://127.0.0.1:{env.port(role + '-0')}"
    env.json("load", "--keys", "6000")
    assert all(keys > 1500 for keys in env.keys("source"))  # routed by slot, spread over every master

    preflight = env.json("migrate", "preflight")
    assert_golden("preflight", preflight)  # a cluster's documents keep the 1-shard pair's shapes
    rows = {row["name"]: row["status"] for row in preflight["checks"]}
    for name in ("cluster_mode", "shard_count", "slot_layout", "source_cluster_state", "source_slots_moving",
                 "source_masters", "databases"):  # fmt: skip
        assert rows[name] == "ok", preflight

    with live_writes(env.url_of("source-0"), rate=300) as writer:
        wait_for(lambda: writer.ledger.acked > 50, 10, "live writes before the start")
        started = env.json("migrate", "start", "--wait")
        assert_golden("start", started)
        assert (started["state"], started["waited"], started["link"]["master_link_status"]) == (
            "migrating",
            True,
            "up",
        )
        # Each target node replicates the source master serving its slots, and refuses client writes.
        for source, target in zip(env.names("source"), env.names("target"), strict=True):
            assert env.replicating_from(target) == env.port(source)
        with pytest.raises(redis.ReadOnlyError):
            env.node("target-1").set("client-write", "1")
        status = env.wait_shards_up()
        assert_golden("migrate-status", status)
        assert [s["name"] for s in status["shards"]] == ["0001", "0002", "0003"]
        assert [s["slots"] for s in status["shards"]] == ranges
        assert all(s["link"]["target_offset"] is not None for s in status["shards"])
        assert env.json("status")["target"]["nodes"][0]["role"] == "replica"
        wait_for(lambda: writer.ledger.acked > 600, 20, "live writes during the migration")
        assert_golden("verify", _verified(env))  # target shards found on the data plane while they replicate
        done = env.json("migrate", "complete", "--pause-writes")
        after_cut_over = writer.ledger.acked
        wait_for(lambda: writer._failed > 5, 10, "writes refused by the fenced source")
    assert (done["state"], done["caught_up"], done["source_fenced"]) == ("available", True, True)
    assert_golden("complete", done)
    assert done["verify"]["ok"] is True and len(done["verify"]["shards"]) == 3  # the post-cut-over verify
    # The pause covers the whole window; no side took writes from the pause until the target served.
    assert 0 < done["writes_blocked_ms"] <= done["pause_ms"]
    assert any(e.startswith("Target nodes back in cluster mode in") for e in events(env.workspace))
    assert_acked_writes_on(writer.ledger, env.url_of("target-0"))
    assert writer.ledger.acked == after_cut_over  # the fenced source acknowledged nothing after it

    # The old source keeps its data and refuses writes on every master.
    for name, key in zip(env.names("source"), key_in_each_range(cluster.slot_ranges(3)), strict=True):
        with pytest.raises(redis.ResponseError, match="NOREPLICAS"):
            env.node(name).set(key, "1")
    assert env.layout("target") == env.layout("source") == ranges
    assert_a_working_cluster([env.url_of(name) for name in env.names("target")])
    assert env.run("migrate", "complete", "-o", "json", expect=2).json["error"]["code"] == Code.NOT_MIGRATING


def test_up_restarts_a_killed_node_in_the_mode_it_was_in(rehearsal: ClusterRehearsal) -> None:
    env = rehearsal
    env.up()
    env.json("load", "--keys", "2000")
    env.json("migrate", "start", "--wait")
    env.kill("target-2", signal.SIGKILL)
    env.kill("source-0", signal.SIGKILL)
    again: Any = env.json("up")
    assert sorted(again["started"]) == ["source-0", "target-2"]
    assert env.replicating_from("target-2") == env.port("source-2")  # re-attached, still standalone
    env.wait_shards_up()
    _verified(env)
    assert env.error_code("up", "--shards", "2") == Code.INVALID_SHARD_COUNT


def test_wrong_shard_options_are_refused_before_anything_starts(rehearsal: ClusterRehearsal) -> None:
    env = rehearsal
    assert env.error_code("up", "--shards", "17") == Code.INVALID_SHARD_COUNT
    assert env.error_code("up", "--shards", "3", "--source-port", "7000") == Code.INVALID_VALUE
    assert env.error_code("up", "--shards", "3", "--target", "aws", "--auto-approve") == Code.INVALID_VALUE
    assert not env.workspace.joinpath("state.json").exists()  # and the fixture finds no process left


def test_a_promotion_that_fails_halfway_puts_every_shard_back_to_replicating(
    rehearsal: ClusterRehearsal, monkeypatch: pytest.MonkeyPatch
) -> None:
    from migrator.errors import MigratorError
    from migrator.local import processes

    env = rehearsal
    env.up()
    env.json("load", "--keys", "2000")
    env.json("migrate", "start", "--wait")
    real_start, failed = processes.start, []

    def start(spec: processes.ServerSpec) -> int:
        # target-1 cannot come back into cluster mode, once: the others already have by then.
        if spec.cluster_port is not None and spec.workdir.name == "target-1" and not failed:
            failed.append(spec)
            raise MigratorError(
                "target (valkey-server) did not start", "see its log", Code.SERVER_START_FAILED
            )
        return real_start(spec)

    with live_writes(env.url_of("source-0"), rate=200) as writer:
        wait_for(lambda: writer.ledger.acked > 100, 10, "live writes")
        monkeypatch.setattr(processes, "start", start)
        refused = env.run("migrate", "complete", "--pause-writes", "-o", "json", expect=2).json
        assert refused["error"]["code"] == Code.COMPLETE_FAILED and failed
        assert "every target node replicates its source master again" in refused["error"]["message"]
        assert env.status()["state"] == "migrating"
        for source, target in zip(env.names("source"), env.names("target"), strict=True):
            assert env.replicating_from(target) == env.port(source)
        env.wait_shards_up()
        done = env.json("migrate", "complete", "--pause-writes")
    assert done["source_fenced"] is True and done["verify"]["ok"] is True
    assert_acked_writes_on(writer.ledger, env.url_of("target-0"))  # including what was written in between
