"""The seed's pair, Redis 7.4 → Valkey 8.1, migrated through the bridge (a Valkey 9 replica of the source).

Through the CLI with real servers: live writes with a ledger and a paused cut-over, a bridge killed
mid-migration, and what a bridge cannot carry (Redis 7.4's hash-field TTLs) refused before, during and at the
end of the migration. Every fault is planted and its specific error asserted.
"""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from migrator.local import matrix
from tests.helpers.cli import CliResult
from tests.helpers.isolation import our_processes
from tests.helpers.rehearsal import Rehearsal, assert_acked_writes_on, live_writes, wait_for
from tests.helpers.servers import ServerProcess, matrix_binary, sync_outcome

RATE = 300.0
KEYS = 5000
SEED = ("7.4", "8.1")  # the architecture's Redis 7.4.6 → ElastiCache for Valkey 8.2 (Valkey 8.1 inside)


def _rehearsal(cli: Callable[..., CliResult], tmp_path: Path, target: str = SEED[1]) -> Iterator[Rehearsal]:
    r = Rehearsal(cli, tmp_path)
    r.run("up", "--source-version", SEED[0], "--target-version", target)
    yield r
    r.run("down", expect=None)
    assert our_processes(tmp_path) == []


@pytest.fixture
def seed(cli: Callable[..., CliResult], tmp_path: Path) -> Iterator[Rehearsal]:
    yield from _rehearsal(cli, tmp_path)


def hexpire(r: Rehearsal, key: str, seconds: int = 600, fields: int = 2) -> None:
    source = r.client("source")
    source.hset(key, mapping={f"f{i}": f"v{i}" for i in range(fields)})
    assert source.execute_command("HEXPIRE", key, seconds, "FIELDS", 1, "f0") == [1]


def bridged_start(r: Rehearsal) -> dict:
    started = r.json("migrate", "start", "--bridge", "--wait", "--timeout", "60")
    assert started["bridge"]["master_link_status"] == "up", started
    return started


def bridge_pid(r: Rehearsal) -> int | None:
    """The bridge's recorded pid: None once stopped, or when none was ever started."""
    record = r.state()["servers"].get("bridge")
    return record["pid"] if record else None


def both_hops_synced(status: dict) -> bool:
    return all(
        hop is not None and hop["master_link_status"] == "up" and not hop["sync_in_progress"]
        for hop in (status["link"], status["bridge"])
    )


@pytest.mark.slow
def test_seed_pair_through_the_bridge_under_live_writes_loses_nothing(seed: Rehearsal) -> None:
    r = seed
    r.run("load", "--keys", str(KEYS), "--dbs", "0,1")
    # Directly, the pair cannot work: refused in one line naming the RDB format and the bridge.
    refused = r.run("migrate", "start", "--wait", expect=2)
    assert len(refused.stderr.strip().splitlines()) == 1 and "--bridge" in refused.stderr
    started = bridged_start(r)
    assert started["link"]["master_link_status"] == "up"
    conf = (r.workspace / "bridge" / "server.conf").read_text()
    assert f"replicaof 127.0.0.1 {r.state()['servers']['source']['port']}" in conf.splitlines()
    with live_writes(r.url("source"), RATE) as writer:
        time.sleep(1)
        status = r.status()
        assert both_hops_synced(status), status
        assert status["details"]["hash_field_ttls"] == 0 and status["bridge"]["target_offset"] is not None
        assert status["details"]["source_endpoint"] == f"127.0.0.1:{r.state()['servers']['bridge']['port']}"
        document = r.json("migrate", "complete", "--pause-writes")
        time.sleep(0.5)  # the application has not moved yet: its writes now fail on the fenced source
    assert document["caught_up"] and document["bridged"] and document["source_fenced"] is True, document
    assert document["verify"]["ok"], document["verify"]
    assert writer.report.failed > 0  # late writes were refused, not silently taken
    assert_acked_writes_on(writer.ledger, r.url("target"))
    source = r.client("source")
    with pytest.raises(redis.ResponseError, match="NOREPLICAS"):
        source.set("late", 1)
    assert source.info("replication")["connected_slaves"] == 0  # the bridge left before the fence
    assert bridge_pid(r) is None and r.status()["state"] == "available"
    assert r.json("migrate", "verify")["ok"] is True


@pytest.mark.slow
def test_a_killed_bridge_comes_back_with_up_and_the_migration_completes(seed: Rehearsal) -> None:
    r = seed
    r.run("load", "--keys", str(KEYS))
    bridged_start(r)
    with live_writes(r.url("source"), RATE) as writer:
        time.sleep(0.5)
        r.kill("bridge", signal.SIGKILL)
        down = r.wait_status(lambda s: s["bridge"]["master_link_status"] == "down", 10, "the bridge hop down")
        assert down["state"] == "migrating" and down["link"]["master_link_status"] == "down"
        refused = r.run("migrate", "complete", "--pause-writes", "--no-verify", expect=2)
        assert "is down" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
        assert r.json("up")["started"] == ["bridge"]
        r.wait_status(both_hops_synced, 60, "both hops up again")
        time.sleep(1)  # live writes flow through the restarted bridge
        writer.stop()
        document = r.json("migrate", "complete", "--pause-writes")
    assert document["caught_up"] and document["verify"]["ok"], document
    assert_acked_writes_on(writer.ledger, r.url("target"))
    assert r.client("source").info("replication")["connected_slaves"] == 0


def test_preflight_refuses_hash_field_ttls_with_their_count(seed: Rehearsal) -> None:
    r = seed
    for key in ("h1", "h2", "h3"):
        hexpire(r, key)
    report = r.json("migrate", "preflight", "--bridge", expect=1)
    row = {c["name"]: c for c in report["checks"]}["bridge_carries"]
    assert row["status"] == "fail" and "3 key(s) hold hash-field TTLs" in row["detail"], row
    refused = r.run("migrate", "start", "--bridge", "--wait", expect=2)
    assert "bridge_carries" in refused.stderr and "3 key(s)" in refused.stderr
    assert r.status()["state"] == "available" and bridge_pid(r) is None  # no bridge was started


def test_a_hash_that_once_had_a_field_ttl_is_refused_too_and_really_breaks_the_bridge(
    seed: Rehearsal, tmp_path: Path
) -> None:
    r = seed
    source = r.client("source")
    source.hset("h", mapping={"a": "1", "b": "2"})
    source.execute_command("HPEXPIRE", "h", 50, "FIELDS", 1, "a")
    wait_for(lambda: source.hlen("h") == 1, 10, "the field expires")
    wait_for(lambda: source.info("keyspace")["db0"]["subexpiry"] == 0, 10, "INFO stops counting it")
    assert source.object("encoding", "h") == b"listpackex"
    row = {c["name"]: c for c in r.json("migrate", "preflight", "--bridge", expect=1)["checks"]}[
        "bridge_carries"
    ]
    assert row["status"] == "fail" and "1 small hash(es) keep the field-TTL encoding" in row["detail"], row
    # What preflight predicts is what a bridge does with it.
    bridge = ServerProcess(matrix_binary(*matrix.BRIDGE), tmp_path / "bridge-probe", role="bridge").start()
    try:
        bridge.client().replicaof("127.0.0.1", r.state()["servers"]["source"]["port"])
        assert sync_outcome(bridge) == (
            False,
            "Can't handle foreign type or opcode 25 in RDB with version 12",
        )
    finally:
        bridge.stop()
    # Rewritten without field TTLs, it crosses.
    with source.pipeline() as pipe:
        pipe.delete("h")
        pipe.hset("h", mapping={"b": "2"})
        pipe.execute()
    assert r.json("migrate", "preflight", "--bridge")["ok"] is True


@pytest.mark.slow
def test_a_hash_field_ttl_written_during_the_migration_is_reported_and_refuses_complete(
    seed: Rehearsal,
) -> None:
    r = seed
    bridged_start(r)
    hexpire(r, "session:1")
    status = r.wait_status(lambda s: s["details"]["hash_field_ttls"] == 1, 10, "status reports it")
    assert status["details"]["hash_field_ttl_calls"] >= 1
    shown = r.run("migrate", "status").stdout
    assert "hash-field TTLs on the source" in shown and "HEXPIRE-family calls" in shown
    refused = r.json("migrate", "complete", "--pause-writes", expect=2)["error"]
    assert refused["code"] == "HashFieldTtls" and "1 key(s)" in refused["message"]
    assert r.status()["state"] == "migrating"  # nothing was promoted
    assert r.client("target").info("replication")["role"] == "slave"
    forced = r.run("migrate", "complete", "--force", "--no-verify", "-o", "json")
    warned = " ".join(forced.stderr.split())
    assert "1 key(s) hold hash-field TTLs on the source" in warned and "drops their TTLs" in warned
    assert forced.json["state"] == "available" and forced.json["forced"]
    # What the warning said is what happened: the field is there, its TTL is not.
    target = r.client("target")
    assert target.hgetall("session:1") == {b"f0": b"v0", b"f1": b"v1"}
    assert r.client("source").execute_command("HTTL", "session:1", "FIELDS", 1, "f0")[0] > 0
    with pytest.raises(redis.ResponseError, match="unknown command"):
        target.execute_command("HTTL", "session:1", "FIELDS", 1, "f0")


@pytest.fixture
def seed_to_valkey_9(cli: Callable[..., CliResult], tmp_path: Path) -> Iterator[Rehearsal]:
    yield from _rehearsal(cli, tmp_path, target="9.1")


@pytest.mark.slow
def test_a_valkey_9_target_keeps_hash_field_ttls_so_complete_goes_ahead(seed_to_valkey_9: Rehearsal) -> None:
    r = seed_to_valkey_9
    bridged_start(r)
    hexpire(r, "session:1")
    r.wait_status(lambda s: s["details"]["hash_field_ttls"] == 1, 10, "status reports it")
    document = r.json("migrate", "complete", "--pause-writes", "--no-verify")
    assert document["caught_up"] and document["state"] == "available", document
    field_ttl = ("HPEXPIRETIME", "session:1", "FIELDS", 1, "f0")
    assert r.client("target").execute_command(*field_ttl) == r.client("source").execute_command(*field_ttl)


def test_an_older_failure_in_the_logs_is_not_taken_for_this_start(seed: Rehearsal) -> None:
    r = seed
    r.run("load", "--keys", "200")
    logs = r.workspace / "logs"
    for role, line in (("bridge", "Can't handle foreign type or opcode 25 in RDB with version 12"),
                       ("target", "OOM command not allowed")):  # fmt: skip
        with (logs / f"{role}.log").open("a") as log:
            log.write(f"1:S 01 Jan 2026 00:00:00.000 # {line}\n")
    bridged_start(r)
    assert r.status()["state"] == "migrating"


def test_up_with_another_bridge_binary_while_the_bridge_runs_is_refused_and_forgets_nothing(
    seed: Rehearsal,
) -> None:
    r = seed
    bridged_start(r)
    pid = bridge_pid(r)
    same = matrix_binary(*matrix.BRIDGE)
    assert r.json("up", "--bridge-server", same)["started"] == []  # the same binary: nothing to do
    other = matrix_binary("valkey", "8.1")
    refused = r.json("up", "--bridge-server", other, expect=2)["error"]
    assert refused["code"] == "InvalidValue" and f"pid {pid}" in refused["message"]
    assert bridge_pid(r) == pid  # still known, so `down` (the fixture's) stops it


def test_a_bridge_port_taken_meanwhile_is_replaced_by_a_free_one(seed: Rehearsal) -> None:
    r = seed
    bridge = matrix_binary(*matrix.BRIDGE)
    r.run("up", "--bridge-server", bridge)
    port = r.state()["servers"]["bridge"]["port"]
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        started = bridged_start(r)
    assert r.state()["servers"]["bridge"]["port"] != port and started["link"]["master_link_status"] == "up"


def test_an_hexpire_just_before_the_pause_is_caught_with_writes_paused(
    seed: Rehearsal, monkeypatch: pytest.MonkeyPatch
) -> None:
    from migrator import replication

    r = seed
    bridged_start(r)
    real = replication.paused_cut_over

    def hexpire_then_pause(*args: object, **kwargs: object) -> object:
        hexpire(r, "just-in-time")  # after complete's first check, before the pause
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(replication, "paused_cut_over", hexpire_then_pause)
    refused = r.json("migrate", "complete", "--pause-writes", expect=2)["error"]
    assert refused["code"] == "HashFieldTtls"
    assert r.client("target").info("replication")["role"] == "slave"  # not promoted
    assert r.client("source").set("after", 1)  # and un-paused
