"""The AWS target through a "tunnel" to real servers on loopback: the data-plane half of the engine's rules.

A real tunnel forwards local ports to the Redis host and the Valkey primary; here the recorded tunnel points
at a local redis-server (the source) and valkey-server (standing in for the ElastiCache primary), and the
simulated ElastiCache issues REPLICAOF on that server as the real service's node would. So preflight's
shared rows, INFO-based link status and the catch-up before CompleteMigration all run for real.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from migrator.aws import migration
from migrator.errors import Code, MigratorError
from migrator.lifecycle.registry import migration as migration_for
from migrator.lifecycle.results import FAIL, OK, WARN
from migrator.state import Workspace
from tests.helpers.aws import OUTPUT_VALUES
from tests.helpers.aws_sim import LoopbackReplication, SimulatedElastiCache, install, tunnelled_workspace
from tests.helpers.cli import Cli
from tests.helpers.servers import ServerProcess
from tests.helpers.tcp_proxy import TcpProxy


@pytest.fixture
def ws(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: ServerProcess, target: ServerProcess
) -> Workspace:
    monkeypatch.setattr(migration, "POLL_SECONDS", 0.01)
    source.client().config_set("protected-mode", "no")  # as on the module's Redis host
    return tunnelled_workspace(tmp_path / ".migrator", source.port, target.port)


@pytest.fixture
def service(
    monkeypatch: pytest.MonkeyPatch, source: ServerProcess, target: ServerProcess
) -> SimulatedElastiCache:
    plane = LoopbackReplication(target.port, {("10.0.2.15", 6379): source.port})
    return install(monkeypatch, SimulatedElastiCache(data_plane=plane))


def test_preflight_runs_the_shared_source_checks_through_the_tunnel(
    ws: Workspace, service: SimulatedElastiCache, source: ServerProcess
) -> None:
    report = migration_for(ws).preflight()
    rows = {c.name: c for c in report.checks}
    assert report.ok, [c for c in report.checks if c.status == FAIL]
    assert report.source == source.url
    for name in ("source_reachable", "source_commands", "source_protected_mode", "databases", "target_memory",
                 "rdb_format", "cluster_mode", "multi_az", "encryption_at_rest"):  # fmt: skip
        assert rows[name].status == OK, rows[name]
    assert rows["databases"].detail == "16 databases on both"
    # ElastiCache refuses CONFIG: the target's commands are never probed (that row would always fail).
    assert "target_commands" not in rows


def test_preflight_flags_a_custom_databases_count(ws: Workspace, service: SimulatedElastiCache) -> None:
    service.parameter_group, service.databases = "migrator-valkey8", 32
    rows = {c.name: c for c in migration_for(ws).preflight().checks}
    assert rows["databases"].status == FAIL and "target 32" in rows["databases"].detail


def test_preflight_reports_an_unreachable_source(
    ws: Workspace, service: SimulatedElastiCache, source: ServerProcess
) -> None:
    source.stop()
    report = migration_for(ws).preflight()
    assert not report.ok and report.failed()[0].name == "source_reachable"


def test_warn_rows_do_not_fail_the_report(ws: Workspace, service: SimulatedElastiCache) -> None:
    service.engine_version = ""  # a node being replaced reports no version yet
    report = migration_for(ws).preflight()
    assert {c.name: c for c in report.checks}["rdb_format"].status == WARN and report.ok


def test_start_wait_follows_the_sync_through_the_tunnel_and_reports_progress(
    ws: Workspace, service: SimulatedElastiCache, source: ServerProcess
) -> None:
    # Big enough (~40 MB) that the sync is still under way when the first poll sees it.
    source.client().mset({f"k{i}": "x" * 1000 for i in range(40_000)})
    advanced: list[int] = []
    result = migration_for(ws).start(wait=True, timeout=60, progress=lambda by, total: advanced.append(by))
    assert result.waited and result.link is not None and result.link.synced
    assert result.link.keys_synced == 40_000 and result.link.lag_bytes == 0
    assert result.message == "initial sync done; the link is up"
    assert sum(advanced) > 0, "the progress bar never moved"


def test_status_reads_the_link_through_the_tunnel(
    ws: Workspace, service: SimulatedElastiCache, source: ServerProcess, target: ServerProcess
) -> None:
    source.client().set("k", "v")
    migration_for(ws).start(wait=True, timeout=30)
    status = migration_for(ws).status()
    assert status.link is not None and status.link.master_link_status == "up"
    assert status.link.keys_synced == 1
    assert status.details is not None and status.details.link_from == "data-plane"
    assert status.details.resyncs is not None and status.details.resyncs.full >= 1


@pytest.mark.parametrize("pause_writes", [False, True])
def test_complete_waits_for_catch_up_then_calls_complete_migration(
    ws: Workspace, service: SimulatedElastiCache, source: ServerProcess, pause_writes: bool
) -> None:
    migration_for(ws).start(wait=True, timeout=30)
    source.client().set("k", "v")
    result = migration_for(ws).complete(pause_writes=pause_writes, timeout=10)
    assert result.caught_up and result.state == "available" and result.lag_bytes == 0
    assert (result.pause_ms is not None) is pause_writes
    assert result.source_fenced is (True if pause_writes else None)
    assert [p for n, p in service.calls if n == "CompleteMigration"] == [
        {"ReplicationGroupId": "migrator", "Force": False}
    ]


def test_complete_refuses_when_the_target_lags(
    ws: Workspace, service: SimulatedElastiCache, source: ServerProcess, target: ServerProcess
) -> None:
    with TcpProxy(source.port) as proxy:
        service.data_plane = LoopbackReplication(target.port, {("10.0.2.15", 6379): proxy.port})
        migration_for(ws).start(wait=True, timeout=30)
        proxy.hold()  # the link stays up, the target stops receiving: a real lag
        source.client().mset({f"late{i}": "x" * 100 for i in range(1000)})
        with pytest.raises(MigratorError) as err:
            migration_for(ws).complete(timeout=0.5)
        proxy.release()
    assert err.value.code == Code.CATCH_UP_TIMEOUT
    assert "did not catch up within 0s" in err.value.message and "not promoted" in err.value.message
    assert "CompleteMigration" not in service.names()


def test_endpoints_go_through_the_tunnel(ws: Workspace, source: ServerProcess, target: ServerProcess) -> None:
    assert migration_for(ws).endpoints() == (source.url, target.url)


def test_without_a_tunnel_endpoints_are_the_vpc_addresses(ws: Workspace) -> None:
    ws.update(lambda state: setattr(state.aws, "tunnel", None))
    assert migration_for(ws).endpoints() == (
        "redis://10.0.2.15:6379",
        "redis://migrator.abc123.ng.0001.use1.cache.amazonaws.com:6379",
    )


def test_status_shows_the_version_the_source_reports_through_the_tunnel(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: ServerProcess, target: ServerProcess
) -> None:
    tunnelled_workspace(tmp_path / ".migrator", source.port, target.port)
    install(monkeypatch, SimulatedElastiCache())
    document = cli("status", "-o", "json").json
    running = source.client().info("server")["redis_version"]
    assert running != OUTPUT_VALUES["redis_version"]  # the test servers are not the module's 7.4.6
    assert document["source"]["version"] == running
    assert document["source"]["version_from"] == "INFO through the tunnel"
    assert document["migration"]["tunnel"]["state"] == "open"
