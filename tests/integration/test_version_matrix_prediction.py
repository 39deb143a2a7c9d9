"""Preflight's prediction is what `migrate start --wait` then does, for every source x target of the matrix.

Through the CLI, as a user runs it: `up --source-version S --target-version T`, `migrate preflight`, then
`migrate start --wait`. A pair predicted to sync syncs; a pair predicted to fail is refused before anything
changes (exit 2, PreflightFailed naming --bridge) — and a REPLICAOF issued by hand afterwards fails exactly as
predicted, so the refusal is not a guess. Bridged (`--bridge`), every pair is predicted to sync and does.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from migrator.local import matrix
from migrator.local.matrix import MatrixServer
from tests.helpers.cli import CliResult
from tests.helpers.isolation import our_processes
from tests.helpers.rehearsal import Rehearsal, wait_for

PAIRS = [(source, target) for source in matrix.sources() for target in matrix.targets()]
IDS = [f"redis-{s.minor}-valkey-{t.minor}" for s, t in PAIRS]
KEYS = 300


def _up(
    cli: Callable[..., CliResult], tmp_path: Path, source: MatrixServer, target: MatrixServer
) -> Rehearsal:
    r = Rehearsal(cli, tmp_path)
    r.run("up", "--source-version", source.minor, "--target-version", target.minor)
    r.run("load", "--keys", str(KEYS))
    return r


def _rows(document: dict) -> dict[str, dict]:
    return {row["name"]: row for row in document["checks"]}


def _synced_copy(r: Rehearsal) -> None:
    """The target holds the source's keys once the link is up: the start did what preflight said."""
    status = r.status()
    assert status["state"] == "migrating" and status["link"]["master_link_status"] == "up"
    assert r.client("target").dbsize() == r.client("source").dbsize() == KEYS


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=IDS)
def test_direct_start_does_what_preflight_predicts(
    cli: Callable[..., CliResult], tmp_path: Path, source: MatrixServer, target: MatrixServer
) -> None:
    r = _up(cli, tmp_path, source, target)
    try:
        preflight = r.json("migrate", "preflight", expect=None)
        rdb = _rows(preflight)["rdb_format"]
        predicted = rdb["status"] == "ok"
        # The CLI's prediction is the measured matrix's (tests/test_server_matrix.py keeps that one true).
        assert predicted == matrix.direct_sync(
            (source.engine, source.version), (target.engine, target.version)
        )
        assert preflight["ok"] is predicted, preflight
        if predicted:
            started = r.json("migrate", "start", "--wait", "--timeout", "60")
            assert started["waited"] and started["link"]["master_link_status"] == "up"
            assert started["bridge"] is None
            _synced_copy(r)
            return
        assert rdb["status"] == "fail" and "--bridge" in rdb["fix"]
        refused = r.run("migrate", "start", "--wait", "--timeout", "60", expect=2)
        line = refused.stderr.strip()
        assert len(line.splitlines()) == 1, refused
        assert "rdb_format" in line and "RDB format version 12" in line and "--bridge" in line
        error = r.json("migrate", "start", "--wait", expect=2)["error"]
        assert error["code"] == "PreflightFailed"
        # Nothing changed on either server, and the state stays available.
        assert r.status()["state"] == "available"
        assert r.client("target").info("replication")["role"] == "master"
        assert r.client("target").dbsize() == 0
        assert r.client("source").info("replication")["connected_slaves"] == 0
        assert "bridge" not in r.state()["servers"]
        # The refusal was right: the sync the start would have begun fails on the RDB format.
        r.client("target").replicaof("127.0.0.1", r.state()["servers"]["source"]["port"])
        log = r.workspace / "logs" / "target.log"
        wait_for(lambda: "Can't handle RDB format version 12" in log.read_text(), 20, "the sync fails")
        assert r.client("target").info("replication")["master_link_status"] == "down"
        r.client("target").replicaof("NO", "ONE")  # or the source's shutdown waits for its would-be replica
    finally:
        r.run("down", expect=None)
    assert our_processes(tmp_path) == []


@pytest.mark.slow
@pytest.mark.parametrize(("source", "target"), PAIRS, ids=IDS)
def test_bridged_start_does_what_preflight_predicts(
    cli: Callable[..., CliResult], tmp_path: Path, source: MatrixServer, target: MatrixServer
) -> None:
    r = _up(cli, tmp_path, source, target)
    try:
        rows = _rows(r.json("migrate", "preflight", "--bridge"))
        assert "rdb_format" not in rows  # the bridge's hops replace the direct pair's row
        for name in ("bridge_loads_source", "target_loads_bridge", "bridge_carries"):
            assert rows[name]["status"] == "ok", rows[name]
        started = r.json("migrate", "start", "--bridge", "--wait", "--timeout", "60")
        assert (
            started["bridge"]["master_link_status"] == "up" and started["link"]["master_link_status"] == "up"
        )
        _synced_copy(r)
        status = r.status()
        # Offsets are shared end to end: the target's is comparable with the source's.
        assert status["link"]["lag_bytes"] == 0 and status["bridge"]["lag_bytes"] == 0
    finally:
        r.run("down", expect=None)
    assert our_processes(tmp_path) == []


def test_a_relaxed_valkey_9_target_is_predicted_to_load_rdb_12_unless_a_foreign_type_is_there(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    r = _up(cli, tmp_path, matrix.lookup("redis", "7.4"), matrix.lookup("valkey", "9.1"))
    try:
        assert _rows(r.json("migrate", "preflight", expect=1))["rdb_format"]["status"] == "fail"
        r.client("target").config_set("rdb-version-check", "relaxed")
        source = r.client("source")
        source.hset("h", mapping={"a": "1"})
        source.execute_command("HEXPIRE", "h", 600, "FIELDS", 1, "a")
        rdb = _rows(r.json("migrate", "preflight", expect=1))["rdb_format"]
        assert rdb["status"] == "fail" and "1 key(s) hold hash-field TTLs" in rdb["detail"], rdb
        source.delete("h")
        rdb = _rows(r.json("migrate", "preflight"))["rdb_format"]
        assert rdb["status"] == "ok" and "relaxed" in rdb["detail"], rdb
        r.json("migrate", "start", "--wait", "--timeout", "60")
        wait_for(lambda: r.client("target").dbsize() == KEYS, 10, "the keys arrive")
        _synced_copy(r)
    finally:
        r.run("down", expect=None)
