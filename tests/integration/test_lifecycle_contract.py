"""One set of scenarios, run against both backends: the same commands give the same results and codes.

`local` is the rehearsal (`migrator up`: real redis-server and valkey-server). `aws` is the ElastiCache
backend over the simulated service (botocore's real model) with a tunnel to the same kind of real servers;
the simulated service issues REPLICAOF on the stand-in primary as ElastiCache's node does. Every scenario
asserts one expectation for both, so a rule that drifts between the targets fails here.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from migrator.aws import migration as aws_migration
from migrator.errors import Code
from tests.helpers.aws_sim import LoopbackReplication, SimulatedElastiCache, install, tunnelled_workspace
from tests.helpers.cli import CliResult
from tests.helpers.servers import ServerProcess
from tests.helpers.tcp_proxy import TcpProxy


@dataclass
class Environment:
    kind: str
    cli: Callable[..., CliResult]
    source_port: int
    target_port: int
    break_promotion: Callable[[], None]

    def client(self, role: str) -> redis.Redis:
        port = self.source_port if role == "source" else self.target_port
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)

    def run(self, *args: str, expect: int) -> CliResult:
        result = self.cli(*args, "-o", "json")
        assert result.exit_code == expect, result
        return result

    def error_code(self, *args: str) -> str:
        return self.run(*args, expect=2).json["error"]["code"]  # type: ignore[index]

    def state(self) -> str:
        return self.run("migrate", "status", expect=0).json["state"]  # type: ignore[index]

    def replicate_through(self, proxy: TcpProxy) -> None:
        """Route the target's replication through `proxy`, then wait until it is in sync again."""
        self.client("target").replicaof("127.0.0.1", proxy.port)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            info = self.client("target").info("replication")
            if info.get("master_link_status") == "up" and not info.get("master_sync_in_progress"):
                return
            time.sleep(0.05)
        raise AssertionError("the target did not resync through the proxy")


def _local(
    cli: Callable[..., CliResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Environment]:
    from migrator.local.migration import LocalBackend

    up = cli("up", "-o", "json")
    assert up.exit_code == 0, up
    document: Any = up.json
    target_pid = document["target"]["pid"]

    def break_promotion() -> None:
        real = LocalBackend.promote

        def promote(self: LocalBackend, force: bool) -> None:
            os.kill(target_pid, signal.SIGKILL)  # the target dies as it is promoted
            time.sleep(0.2)
            real(self, force)

        monkeypatch.setattr(LocalBackend, "promote", promote)

    yield Environment("local", cli, document["source"]["port"], document["target"]["port"], break_promotion)
    cli("down")


def _aws(
    cli: Callable[..., CliResult],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    server_factory: Callable[..., ServerProcess],
) -> Iterator[Environment]:
    # The module's Redis host runs with protected-mode no and persistence; the tests' servers need the first.
    source = server_factory("redis-server", extra=["--protected-mode", "no"])
    target = server_factory("valkey-server")
    monkeypatch.setattr(aws_migration, "POLL_SECONDS", 0.01)
    tunnelled_workspace(tmp_path / ".migrator", source.port, target.port)
    service = install(
        monkeypatch,
        SimulatedElastiCache(data_plane=LoopbackReplication(target.port, {("10.0.2.15", 6379): source.port})),
    )

    def break_promotion() -> None:
        service.complete_failure = "the replica could not be promoted"

    yield Environment("aws", cli, source.port, target.port, break_promotion)


@pytest.fixture(params=["local", "aws"])
def env(
    request: pytest.FixtureRequest,
    cli: Callable[..., CliResult],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    server_factory: Callable[..., ServerProcess],
) -> Iterator[Environment]:
    if request.param == "local":
        yield from _local(cli, tmp_path, monkeypatch)
    else:
        yield from _aws(cli, tmp_path, monkeypatch, server_factory)


def _fill(env: Environment, keys: int = 2000) -> None:
    env.client("source").mset({f"key:{i}": f"value-{i}" for i in range(keys)})


def test_start_while_migrating_is_already_under_migration(env: Environment) -> None:
    _fill(env)
    started = env.run("migrate", "start", "--wait", expect=0).json
    assert started["state"] == "migrating" and started["waited"] is True  # type: ignore[index]
    assert env.error_code("migrate", "start") == Code.ALREADY_MIGRATING
    preflight = env.run("migrate", "preflight", expect=1).json
    rows = {row["name"]: row["status"] for row in preflight["checks"]}  # type: ignore[index]
    assert rows["target_state"] == "fail"


def _replicates_from(env: Environment) -> str:
    status: Any = env.run("migrate", "status", "-o", "json", expect=0).json
    return str(status["details"]["source_endpoint"])


def test_complete_when_not_migrating_before_and_after_a_cut_over(env: Environment) -> None:
    _fill(env)
    assert env.error_code("migrate", "complete") == Code.NOT_MIGRATING
    assert _replicates_from(env) == ""  # not migrating: the target replicates from nowhere
    env.run("migrate", "start", "--wait", expect=0)
    assert _replicates_from(env) != ""  # the source (locally its port; on AWS the address StartMigration got)
    done: Any = env.run("migrate", "complete", expect=0).json
    assert (done["state"], done["caught_up"], done["forced"]) == ("available", True, False)
    assert done["verify"]["ran"] is True and done["verify"]["ok"] is True
    assert done["verify"]["keys_checked"] == 2000
    assert env.error_code("migrate", "complete") == Code.NOT_MIGRATING
    assert _replicates_from(env) == ""
    assert env.client("target").info("replication")["role"] == "master"


def test_test_first_records_what_it_found(env: Environment) -> None:
    started: Any = env.run("migrate", "start", "--test-first", "--wait", expect=0).json
    assert started["test_result"] and started["state"] == "migrating"
    events = json.loads((Path(os.environ["MIGRATOR_WORKSPACE"]) / "state.json").read_text())["events"]
    assert any(e["message"] == f"Test migration succeeded: {started['test_result']}" for e in events)


def test_failed_preflight_refuses_the_start_and_changes_nothing(env: Environment) -> None:
    _fill(env, 20_000)
    env.client("target").config_set("maxmemory", "1mb")
    assert env.error_code("migrate", "start", "--wait") == Code.PREFLIGHT_FAILED
    assert env.state() == "available"
    assert env.client("target").info("replication")["role"] == "master"


def test_complete_with_the_link_down_is_refused(env: Environment) -> None:
    _fill(env)
    env.run("migrate", "start", "--wait", expect=0)
    with TcpProxy(env.source_port) as proxy:
        env.replicate_through(proxy)
        proxy.cut()
        deadline = time.monotonic() + 20
        while env.client("target").info("replication").get("master_link_status") == "up":
            assert time.monotonic() < deadline, "the link never went down"
            time.sleep(0.05)
        assert env.error_code("migrate", "complete", "--pause-writes") == Code.LINK_DOWN
        assert env.state() == "migrating"
        forced: Any = env.run("migrate", "complete", "--force", expect=0).json
    assert (forced["state"], forced["forced"], forced["caught_up"]) == ("available", True, False)
    assert "without ensuring the data is in sync" in forced["warnings"][0]


def test_complete_that_cannot_catch_up_in_time_is_refused(env: Environment) -> None:
    _fill(env)
    env.run("migrate", "start", "--wait", expect=0)
    with TcpProxy(env.source_port) as proxy:
        env.replicate_through(proxy)
        proxy.hold()  # the link stays up while the target falls behind
        env.client("source").mset({f"late:{i}": "x" * 200 for i in range(2000)})
        assert env.error_code("migrate", "complete", "--timeout", "0.5") == Code.CATCH_UP_TIMEOUT
        proxy.release()
    assert env.state() == "migrating"


def test_paused_cut_over_fences_the_old_source(env: Environment) -> None:
    _fill(env)
    env.run("migrate", "start", "--wait", expect=0)
    done: Any = env.run("migrate", "complete", "--pause-writes", expect=0).json
    assert done["source_fenced"] is True and done["pause_ms"] > 0 and done["caught_up"] is True
    with pytest.raises(redis.ResponseError, match="NOREPLICAS"):
        env.client("source").set("late", "1")


def test_a_failed_promotion_leaves_the_migration_running(env: Environment) -> None:
    _fill(env)
    env.run("migrate", "start", "--wait", expect=0)
    env.break_promotion()
    assert env.error_code("migrate", "complete") == Code.COMPLETE_FAILED
    assert json.loads((Path(os.environ["MIGRATOR_WORKSPACE"]) / "state.json").read_text())[
        "migration_state"
    ] == ("migrating")


# ---- what only AWS can be: no data-plane path from here -----------------------------------------------
def test_aws_without_a_tunnel_completes_and_says_the_verify_was_skipped(
    cli: Callable[..., CliResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aws_migration, "POLL_SECONDS", 0.0)
    workspace = tunnelled_workspace(tmp_path / ".migrator", 1, 2)
    workspace.update(lambda state: setattr(state.aws, "tunnel", None))
    install(monkeypatch, SimulatedElastiCache(status="migrating"))
    done = cli("migrate", "complete", "--wait", "-o", "json")
    assert done.exit_code == 0, done
    document: Any = done.json
    assert document["state"] == "available" and document["ok"] is True
    assert document["verify"] == {
        "ran": False,
        "reason": "no data-plane path from here to the servers (no tunnel)",
    }
    assert "warning: verify skipped: no data-plane path" in done.stderr
    again = cli("migrate", "complete", "-o", "json")
    assert again.exit_code == 2 and again.json["error"]["code"] == Code.NOT_MIGRATING  # type: ignore[index]
