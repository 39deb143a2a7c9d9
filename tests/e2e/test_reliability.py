"""Fault injection on the local rehearsal: each test runs live writes with an acknowledged-write ledger,
breaks something, finishes the migration through the CLI, and asserts that every acknowledged write is on the
target — or that the tool refuses, or reports what is missing and exits non-zero. Never a silent success.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from migrator.workload import LiveWriter, check_ledger, load
from tests.helpers.isolation import our_processes
from tests.helpers.rehearsal import Rehearsal, StampedLedger, assert_acked_writes_on, live_writes, wait_for
from tests.helpers.tcp_proxy import TcpProxy

RATE = 300.0  # acknowledged writes per second during each fault
KEYS = 20_000
# µs per key the source's RDB child sleeps (a debug config): stretches the initial sync to seconds.
SLOW_SYNC_US = "150"


@pytest.fixture
def rehearsal(cli, tmp_path: Path) -> Iterator[Rehearsal]:
    r = Rehearsal(cli, tmp_path)
    r.run("up")
    r.run("load", "--keys", str(KEYS))
    yield r
    r.run("down", expect=None)
    assert our_processes(tmp_path) == []


def cut_over(r: Rehearsal, writer: LiveWriter) -> dict[str, Any]:
    """Stop the application's writes (it moves to the target), then `complete --pause-writes` + verify."""
    writer.stop()
    return r.json("migrate", "complete", "--pause-writes")


def link_down(status: dict[str, Any]) -> bool:
    return status["link"]["master_link_status"] == "down"


def source_proxy(r: Rehearsal) -> TcpProxy:
    return TcpProxy(r.state()["servers"]["source"]["port"])


def redirect_through(r: Rehearsal, proxy: TcpProxy) -> None:
    """Put the proxy between target and source (same source behind it, so this is a partial resync)."""
    r.client("target").replicaof("127.0.0.1", proxy.port)
    wait_for(lambda: proxy.connections_made, 10, "target connects through the proxy")
    r.wait_in_sync(20)


def test_source_restarted_during_the_initial_full_sync(rehearsal: Rehearsal) -> None:
    r = rehearsal
    source = r.client("source")
    source.config_set("rdb-key-save-delay", SLOW_SYNC_US)
    with live_writes(r.url("source"), RATE) as writer:
        r.run("migrate", "start")
        syncing = r.wait_status(lambda s: s["link"]["sync_in_progress"], 20, "full sync in progress")
        assert syncing["link"]["master_link_status"] == "down"
        # The RDB child keeps its delay; the parent's shutdown save should not.
        source.config_set("rdb-key-save-delay", "0")
        r.kill("source", signal.SIGTERM)
        down = r.wait_status(lambda s: not s["details"]["source_reachable"], 10, "status shows source down")
        assert link_down(down) and down["state"] == "migrating"
        assert r.json("up")["started"] == ["source"]  # restarted from its AOF, replication re-requested
        synced = r.wait_in_sync(60)
        assert synced["details"]["resyncs"]["full"] >= 1  # a fresh source: the target synced in full
        time.sleep(1)  # live writes flow over the new link before the cut-over
        document = cut_over(r, writer)
    assert writer.report.reconnects >= 1  # the writer really saw the source go away
    assert document["caught_up"] and document["verify"]["ok"], document
    assert_acked_writes_on(writer.ledger, r.url("target"))


def test_source_killed_during_live_replication_then_restarted(rehearsal: Rehearsal) -> None:
    r = rehearsal
    r.run("migrate", "start", "--wait")
    with live_writes(r.url("source"), RATE) as writer:
        time.sleep(1)
        r.kill("source", signal.SIGKILL)
        down = r.wait_status(lambda s: link_down(s), 10, "status shows the link down")
        assert down["details"]["source_reachable"] is False
        assert down["link"]["link_down_since_seconds"] is not None and down["details"]["link_down_since"]
        r.run("up")
        r.wait_in_sync(60)
        time.sleep(1)
        document = cut_over(r, writer)
    # SIGKILL loses nothing here: with appendfsync everysec a write is in the kernel before its reply.
    assert writer.report.reconnects >= 1
    assert document["verify"]["ok"], document
    assert_acked_writes_on(writer.ledger, r.url("target"))


def test_target_killed_and_restarted_replication_is_re_established(rehearsal: Rehearsal) -> None:
    r = rehearsal
    r.run("migrate", "start", "--wait")
    with live_writes(r.url("source"), RATE) as writer:
        time.sleep(1)
        r.kill("target", signal.SIGKILL)
        gone = r.status()  # exits 0 with the target unreachable: status reports, it does not fail
        assert gone["details"]["target_reachable"] is False and link_down(gone)
        refused = r.run("migrate", "complete", "--no-verify", expect=2)
        assert "target" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
        assert r.json("up")["started"] == ["target"]
        assert r.client("target").info("replication")["role"] == "slave"  # `up` re-issued REPLICAOF
        r.wait_in_sync(60)
        time.sleep(1)
        document = cut_over(r, writer)
    assert document["verify"]["ok"], document
    assert any("Re-established replication" in e["message"] for e in r.state()["events"])
    assert_acked_writes_on(writer.ledger, r.url("target"))


def test_link_cut_and_restored_repeatedly_resyncs_partially(rehearsal: Rehearsal) -> None:
    r = rehearsal
    r.run("migrate", "start", "--wait")
    with source_proxy(r) as proxy, live_writes(r.url("source"), RATE) as writer:
        redirect_through(r, proxy)
        before = r.status()["details"]["resyncs"]
        for cut in range(3):
            proxy.cut()
            down = r.wait_status(link_down, 10, f"cut {cut}: link down in status")
            assert down["details"]["source_reachable"] is True
            assert down["details"]["link_down_since"] is not None
            time.sleep(0.5)  # writes pile up on the source while the link is down
            proxy.restore()
            r.wait_in_sync(20)
        after = r.status()["details"]["resyncs"]
        document = cut_over(r, writer)
    # Each restore continued from the source's backlog: partial resyncs, no new full sync.
    assert after["partial_ok"] >= before["partial_ok"] + 3, (before, after)
    assert after["full"] == before["full"]
    assert document["verify"]["ok"], document
    assert_acked_writes_on(writer.ledger, r.url("target"))


def test_cut_over_under_live_writes_fences_the_source_so_no_acknowledged_write_is_lost(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    r.run("migrate", "start", "--wait")
    with live_writes(r.url("source"), RATE) as writer:
        time.sleep(1)
        document = r.json("migrate", "complete", "--pause-writes", "--no-verify")
        time.sleep(0.5)  # the application has not moved yet: its writes now fail on the fenced source
    assert document["caught_up"] and document["source_fenced"] is True
    assert writer.report.failed > 0  # the late writes were refused, not silently taken
    assert_acked_writes_on(writer.ledger, r.url("target"))
    assert r.json("migrate", "verify")["ok"] is True
    with pytest.raises(redis.ResponseError, match="NOREPLICAS"):
        r.client("source").set("late", 1)


def test_cut_over_without_fence_keeps_every_write_acknowledged_before_it(rehearsal: Rehearsal) -> None:
    r = rehearsal
    r.run("migrate", "start", "--wait")
    with live_writes(r.url("source"), RATE) as writer:
        time.sleep(1)
        begun = time.monotonic()
        document = r.json("migrate", "complete", "--pause-writes", "--no-fence", "--no-verify")
        time.sleep(0.5)  # the application has not moved yet: these writes land on the old source
    assert document["caught_up"] and document["pause_ms"] is not None
    assert document["source_fenced"] is None
    ledger: StampedLedger = writer.ledger  # type: ignore[assignment]
    assert_acked_writes_on(ledger.settled_before(begun), r.url("target"))
    # What the old source took after the cut-over is not on the target, and verify names exactly that.
    late = {rec.key for rec, t in zip(ledger.records, ledger.times, strict=True) if t >= begun}
    report = r.json("migrate", "verify", expect=1)
    assert report["mismatches"] and {m["key"] for m in report["mismatches"]} <= late


def test_target_maxmemory_too_small_preflight_warns_and_start_fails_naming_maxmemory(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    used = r.source_info("memory")["used_memory"]
    target = r.client("target")
    keys_before = target.dbsize()

    target.config_set("maxmemory", str(used // 4))
    rows = {c["name"]: c for c in r.json("migrate", "preflight", expect=1)["checks"]}
    assert rows["target_memory"]["status"] == "fail" and "maxmemory" in rows["target_memory"]["detail"]
    refused = r.run("migrate", "start", "--wait", expect=2)
    assert "maxmemory" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1

    # Room for today's data but not for what is written during the sync.
    target.config_set("maxmemory", str(int(used * 1.1)))
    rows = {c["name"]: c for c in r.json("migrate", "preflight")["checks"]}
    assert rows["target_memory"]["status"] == "warn" and "maxmemory" in rows["target_memory"]["detail"]
    r.client("source").config_set("rdb-key-save-delay", SLOW_SYNC_US)
    grow = threading.Thread(target=_grow_during_sync, args=(r,), daemon=True)
    grow.start()
    failed = r.run("migrate", "start", "--wait", "--timeout", "60", expect=2)
    grow.join(30)
    r.client("source").config_set("rdb-key-save-delay", "0")  # or its shutdown save crawls too
    assert "maxmemory" in failed.stderr and len(failed.stderr.strip().splitlines()) == 1
    assert r.status()["state"] == "available"  # as ElastiCache: a failed start returns to available
    assert target.info("replication")["role"] == "master"
    assert target.dbsize() > keys_before  # it did sync: the check is real, not a guess


def _grow_during_sync(r: Rehearsal) -> None:
    """Double the dataset once the target is receiving the initial sync."""
    target = r.client("target")
    wait_for(lambda: target.info("replication").get("master_sync_in_progress"), 20, "sync starts")
    load(r.url("source"), keys=KEYS, seed=2, prefix="grow:")


def test_complete_while_the_link_is_down_refuses_then_force_reports_what_is_missing(
    rehearsal: Rehearsal,
) -> None:
    r = rehearsal
    r.run("migrate", "start", "--wait")
    # 20 writes/s for the ~2 s the link is down: fewer differences than verify's report holds (100), so
    # every key the ledger misses must be named, with no truncation to hide behind.
    with source_proxy(r) as proxy, live_writes(r.url("source"), 20) as writer:
        redirect_through(r, proxy)
        proxy.cut()
        r.wait_status(link_down, 10, "link down in status")
        time.sleep(1)  # acknowledged writes the target will never see
        writer.stop()  # the application stops, so verify and the ledger see the same final source
        refused = r.run("migrate", "complete", "--pause-writes", expect=2)
        assert "link is down" in refused.stderr and "--force" in refused.stderr
        assert r.status()["state"] == "migrating"  # nothing changed
        assert r.client("target").info("replication")["role"] == "slave"
        forced = r.run("migrate", "complete", "--force", "-o", "json", expect=1)
    document = forced.json
    assert document["forced"] and document["state"] == "available"
    assert f"data after offset {document['target_offset']} may be missing" in " ".join(forced.stderr.split())
    report = document["verify"]
    assert not report["ok"] and report["missing_on_target"] + report["value_mismatch"] > 0
    # Everything the ledger misses on the target, verify named; and the source has all of it.
    missing = check_ledger(writer.ledger, r.url("target"))
    assert not missing.ok
    assert report["mismatches_truncated"] is False, f"{len(missing.problems)} writes missed: too many to list"
    assert {p.key for p in missing.problems} <= {m["key"] for m in report["mismatches"]}
    assert check_ledger(writer.ledger, r.url("source")).ok


def test_force_with_the_source_dead_promotes_and_says_verify_could_not_run(rehearsal: Rehearsal) -> None:
    r = rehearsal
    r.run("migrate", "start", "--wait")
    r.kill("source", signal.SIGKILL)
    refused = r.run("migrate", "complete", expect=2)
    assert "cannot cut over safely" in refused.stderr
    # The cut-over stands: the verify that cannot reach the source is a warning, not a failure.
    forced = r.run("migrate", "complete", "--force", "-o", "json", expect=0)
    assert forced.json["state"] == "available" and forced.json["caught_up"] is False
    assert forced.json["verify"]["ran"] is False and "source" in forced.json["verify"]["reason"]
    stderr = " ".join(forced.stderr.split())
    assert "may be missing (link down, source unreachable)" in stderr
    assert "verify skipped:" in stderr
    assert r.client("target").info("replication")["role"] == "master"
    r.run("up")  # bring the source back so `down` stops it
