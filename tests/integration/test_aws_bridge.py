"""The bridge on AWS: StartMigration names the bridge port, the tunnel forwards it, complete detaches it.

The simulated ElastiCache (botocore's real model) replicates whatever CustomerNodeEndpointList names; here
the Redis host is a real Redis 7.4 (the seed's), its bridge a real Valkey 9.1 replicating it as the module's
systemd unit does, and ElastiCache's primary a real Valkey 8.1 (what "8.2" runs), all reached through the
recorded tunnel's ports. (The tunnel's argv forwarding the bridge port: tests/test_aws_tunnel.py.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from migrator.aws import migration
from migrator.local import matrix
from migrator.state import State, Workspace
from tests.helpers.aws import OUTPUT_VALUES
from tests.helpers.aws_sim import LoopbackReplication, SimulatedElastiCache, install, tunnelled_workspace
from tests.helpers.cli import CliResult
from tests.helpers.servers import ServerProcess, matrix_binary, replicate

HOST = "10.0.2.15"  # redis_private_ip in the fake module outputs
BRIDGE_PORT = int(OUTPUT_VALUES["bridge_port"])  # 6380: the module's bridge on the Redis host


def _server(tmp_path: Path, name: str, engine: str, version: str, role: str = "test") -> ServerProcess:
    return ServerProcess(matrix_binary(engine, version), tmp_path / name, role=role).start()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[dict[str, ServerProcess]]:
    started = {
        "source": _server(tmp_path, "redis", "redis", "7.4"),
        "bridge": _server(tmp_path, "bridge", *matrix.BRIDGE, role="bridge"),
        "target": _server(tmp_path, "valkey", "valkey", "8.1"),
    }
    try:
        started["source"].client().mset({f"k{i}": i for i in range(500)})
        replicate(started["bridge"], started["source"])  # as the systemd unit does at boot
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch, servers: dict[str, ServerProcess]) -> SimulatedElastiCache:
    plane = LoopbackReplication(
        servers["target"].port,
        {(HOST, 6379): servers["source"].port, (HOST, BRIDGE_PORT): servers["bridge"].port},
    )
    return install(monkeypatch, SimulatedElastiCache(engine_version="8.2", data_plane=plane))


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, servers: dict[str, ServerProcess]) -> Workspace:
    """As `up --target aws` + `migrator tunnel` leave it; the tunnel also forwards the bridge."""
    monkeypatch.setattr(migration, "POLL_SECONDS", 0.01)
    workspace = tunnelled_workspace(tmp_path / ".migrator", servers["source"].port, servers["target"].port)

    def forward_bridge(state: State) -> None:
        assert state.aws.tunnel is not None
        state.aws.tunnel.bridge_port = servers["bridge"].port
        # On the host the bridge reaches Redis at 127.0.0.1:<redis_port>; here that is the real source.
        state.aws.outputs["redis_port"] = servers["source"].port

    workspace.update(forward_bridge)
    return workspace


@dataclass
class Aws:
    """The AWS environment of one test: the CLI, its workspace, the simulated service, the real servers."""

    cli: Callable[..., CliResult]
    ws: Workspace
    service: SimulatedElastiCache
    servers: dict[str, ServerProcess]

    def run(self, *args: str, expect: int = 0) -> CliResult:
        result = self.cli(*args, "-o", "json")
        assert result.exit_code == expect, result
        return result

    def json(self, *args: str, expect: int = 0) -> Any:
        return self.run(*args, expect=expect).json

    def starts(self) -> list[dict[str, Any]]:
        return [params for name, params in self.service.calls if name == "StartMigration"]

    def role(self, server: str) -> str:
        return self.servers[server].client().info("replication")["role"]

    def forward_bridge(self, port: int | None) -> None:
        def change(state: State) -> None:
            assert state.aws.tunnel is not None
            state.aws.tunnel.bridge_port = port

        self.ws.update(change)


@pytest.fixture
def aws(
    cli: Callable[..., CliResult],
    ws: Workspace,
    service: SimulatedElastiCache,
    servers: dict[str, ServerProcess],
) -> Aws:
    return Aws(cli, ws, service, servers)


def test_direct_start_is_refused_and_bridged_start_names_the_bridge_port(aws: Aws) -> None:
    rdb = {c["name"]: c for c in aws.json("migrate", "preflight", expect=1)["checks"]}["rdb_format"]
    assert rdb["status"] == "fail" and "--bridge" in rdb["fix"], rdb
    assert aws.json("migrate", "start", "--wait", expect=2)["error"]["code"] == "PreflightFailed"
    assert aws.starts() == []

    aws.run("migrate", "preflight", "--bridge")
    started = aws.json("migrate", "start", "--bridge", "--wait", "--timeout", "30")
    endpoints = [{"Address": HOST, "Port": BRIDGE_PORT}]
    assert aws.starts() == [{"ReplicationGroupId": "migrator", "CustomerNodeEndpointList": endpoints}]
    assert started["bridge"]["master_link_status"] == "up"
    status = aws.json("migrate", "status")
    assert status["bridge"]["master_link_status"] == "up" and status["link"]["lag_bytes"] == 0
    assert status["details"]["source_endpoint"] == f"{HOST}:{BRIDGE_PORT}"
    assert aws.servers["target"].client().dbsize() == 500


def test_complete_detaches_the_bridge_through_the_tunnel_before_the_fence(aws: Aws) -> None:
    aws.run("migrate", "start", "--bridge", "--wait", "--timeout", "30")
    aws.servers["source"].client().set("late", "write")
    document = aws.json("migrate", "complete", "--pause-writes")
    assert document["caught_up"] and document["bridged"] and document["source_fenced"] is True, document
    assert document["verify"]["ok"] and "CompleteMigration" in aws.service.names()
    assert aws.role("bridge") == "master"  # detached …
    conf = aws.servers["bridge"].spec.conf.read_text()
    assert "replicaof" not in conf and "rdb-version-check relaxed" in conf  # … and so it stays
    assert aws.servers["source"].client().info("replication")["connected_slaves"] == 0
    assert aws.servers["target"].client().get("late") == b"write"


def test_a_bridge_left_detached_by_an_earlier_cut_over_is_attached_again(aws: Aws) -> None:
    bridge = aws.servers["bridge"].client()
    bridge.replicaof("NO", "ONE")
    bridge.set("stale", "from the last migration")
    aws.servers["source"].client().set("fresh", "1")
    aws.run("migrate", "start", "--bridge", "--wait", "--timeout", "30")
    assert aws.role("bridge") == "slave"
    target = aws.servers["target"].client()
    assert target.get("fresh") == b"1" and target.get("stale") is None


def test_without_the_bridge_forward_a_bridged_start_and_complete_are_refused(aws: Aws) -> None:
    forwarded = aws.servers["bridge"].port
    aws.forward_bridge(None)
    assert (
        aws.json("migrate", "start", "--bridge", "--wait", expect=2)["error"]["code"] == "DataPlaneRequired"
    )
    assert aws.starts() == [] and aws.ws.require().migration_state == "available"

    aws.forward_bridge(forwarded)
    aws.run("migrate", "start", "--bridge", "--wait", "--timeout", "30")
    aws.forward_bridge(None)  # a tunnel reopened without the bridge's forward
    refused = aws.json("migrate", "complete", "--pause-writes", expect=2)["error"]
    assert refused["code"] == "DataPlaneRequired" and "bridge" in refused["message"]
    assert "CompleteMigration" not in aws.service.names() and aws.role("bridge") == "slave"
