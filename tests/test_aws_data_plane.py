"""The AWS backend's data-plane half, through a "tunnel" to real servers on loopback.

A real tunnel forwards local ports to the Redis host and the Valkey primary; here the recorded tunnel points
at a local redis-server (the source) and valkey-server (standing in for the ElastiCache primary), so the
shared preflight rules, INFO-based link status and catch-up before CompleteMigration run for real. The
ElastiCache API calls are stubbed with botocore's model.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from migrator.aws import migration
from migrator.aws.migration import AwsMigration
from migrator.errors import MigratorError
from migrator.lifecycle import FAIL, OK, WARN
from migrator.state import State, Workspace
from tests.fake_terraform.fixtures import OUTPUT_VALUES, stubbed
from tests.servers import ServerProcess, replicate
from tests.test_aws_migration import GROUP, describe, events, group

__all__ = ["stubbed"]


@pytest.fixture
def ws(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: ServerProcess, target: ServerProcess
) -> Workspace:
    monkeypatch.setattr(migration, "POLL_SECONDS", 0.0)
    source.client().config_set("protected-mode", "no")  # as on the module's Redis host
    workspace = Workspace(tmp_path / ".migrator")
    # Our own pid keeps the "tunnel process" alive for tunnel_urls().
    tunnel = {"pid": os.getpid(), "source_port": source.port, "target_port": target.port}
    workspace.save(
        State(
            target_kind="aws", aws={"region": "us-east-1", "outputs": dict(OUTPUT_VALUES), "tunnel": tunnel}
        )
    )
    return workspace


def cluster_response(stub: Any, version: str = "8.2", parameter_group: str = "default.valkey8") -> None:
    stub.add_response(
        "describe_cache_clusters",
        {
            "CacheClusters": [
                {
                    "CacheClusterId": "migrator-001",
                    "EngineVersion": version,
                    "CacheParameterGroup": {"CacheParameterGroupName": parameter_group},
                }
            ]
        },
        {"CacheClusterId": "migrator-001"},
    )


def test_preflight_runs_the_shared_source_checks_through_the_tunnel(
    ws: Workspace, stubbed: Callable[[str], Any], source: ServerProcess
) -> None:
    ec = stubbed("elasticache")
    describe(ec)
    cluster_response(ec)
    report = AwsMigration(ws, ws.require()).preflight()
    rows = {c.name: c for c in report.checks}
    assert report.ok, [c for c in report.checks if c.status == FAIL]
    assert report.source == source.url
    for name in (
        "source_reachable",
        "source_commands",
        "source_protected_mode",
        "databases",
        "target_memory",
        "rdb_format",
        "multi_az",
        "encryption_at_rest",
    ):
        assert rows[name].status == OK, rows[name]
    assert rows["databases"].detail == "16 databases on both"


def test_preflight_flags_rdb_12_and_a_custom_databases_count(
    ws: Workspace, stubbed: Callable[[str], Any]
) -> None:
    ec = stubbed("elasticache")
    describe(ec)
    cluster_response(ec, version="8.0", parameter_group="migrator-valkey8")
    ec.add_response(
        "describe_cache_parameters",
        {"Parameters": [{"ParameterName": "databases", "ParameterValue": "32"}]},
        {"CacheParameterGroupName": "migrator-valkey8"},
    )
    rows = {c.name: c for c in AwsMigration(ws, ws.require()).preflight().checks}
    assert rows["databases"].status == FAIL and "target 32" in rows["databases"].detail
    # The local source is Redis 7.0 (RDB 10): fine for Valkey 8.0; a 7.4 source would warn (shared rule).
    assert rows["rdb_format"].status == OK


def test_preflight_reports_an_unreachable_source(
    ws: Workspace, stubbed: Callable[[str], Any], source: ServerProcess
) -> None:
    ec = stubbed("elasticache")
    describe(ec)
    cluster_response(ec)
    source.stop()
    report = AwsMigration(ws, ws.require()).preflight()
    assert not report.ok
    assert report.failed()[0].name == "source_reachable"


def test_status_reads_the_link_through_the_tunnel(
    ws: Workspace, stubbed: Callable[[str], Any], source: ServerProcess, target: ServerProcess
) -> None:
    source.client().set("k", "v")
    replicate(target, source)
    ec, cw = stubbed("elasticache"), stubbed("cloudwatch")
    describe(ec, "migrating")
    cw.add_response("get_metric_data", {"MetricDataResults": []}, None)
    ec.add_response("describe_events", {"Events": []}, None)
    status = AwsMigration(ws, ws.require()).status()
    assert status.link is not None and status.link.master_link_status == "up"
    assert status.link.keys_synced == 1 and status.details["link_from"] == "tunnel"


@pytest.mark.parametrize("pause_writes", [False, True])
def test_complete_waits_for_catch_up_then_calls_complete_migration(
    ws: Workspace,
    stubbed: Callable[[str], Any],
    source: ServerProcess,
    target: ServerProcess,
    pause_writes: bool,
) -> None:
    replicate(target, source)
    source.client().set("k", "v")
    ec = stubbed("elasticache")
    ec.add_response(
        "complete_migration",
        {"ReplicationGroup": group("modifying")},
        {"ReplicationGroupId": GROUP, "Force": False},
    )
    describe(ec, "available")
    events(ec, "Complete Migration successful for migrator")
    result = AwsMigration(ws, ws.require()).complete(pause_writes=pause_writes, timeout=10)
    assert result.caught_up and result.state == "available" and result.lag_bytes == 0
    assert (result.pause_ms is not None) is pause_writes
    assert source.client().set("after", "1")  # writes un-paused


def test_complete_refuses_when_the_target_lags(
    ws: Workspace,
    stubbed: Callable[[str], Any],
    source: ServerProcess,
    target: ServerProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from migrator import replication

    replicate(target, source)
    stubbed("elasticache")  # no CompleteMigration may be sent: the stub has no response queued
    # A lag cannot be planted reliably on loopback (replication is too fast): fake the catch-up's verdict.
    monkeypatch.setattr(
        replication,
        "wait_for_catch_up",
        lambda *args, **kwargs: replication.CatchUp(False, source_offset=1000, target_offset=400),
    )
    with pytest.raises(MigratorError) as err:
        AwsMigration(ws, ws.require()).complete(timeout=1)
    assert err.value.code == "NotCaughtUp"
    assert "within 1s (lag 600 bytes); nothing was changed" in err.value.message


def test_endpoints_go_through_the_tunnel(ws: Workspace, source: ServerProcess, target: ServerProcess) -> None:
    assert AwsMigration(ws, ws.require()).endpoints() == (source.url, target.url)


def test_without_a_tunnel_endpoints_are_the_vpc_addresses(ws: Workspace) -> None:
    state = ws.require()
    state.aws.pop("tunnel")
    assert AwsMigration(ws, state).endpoints() == (
        "redis://10.0.2.15:6379",
        "redis://migrator.abc123.ng.0001.use1.cache.amazonaws.com:6379",
    )


def test_warn_rows_do_not_fail_the_report(ws: Workspace, stubbed: Callable[[str], Any]) -> None:
    ec = stubbed("elasticache")
    describe(ec)
    cluster_response(ec, version="")  # a node being replaced reports no version yet
    report = AwsMigration(ws, ws.require()).preflight()
    rows = {c.name: c for c in report.checks}
    assert rows["rdb_format"].status == WARN and report.ok
