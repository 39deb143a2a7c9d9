"""The bad-input matrix: each input a user can get wrong, run through the command that meets it. Each
must give a one-line error with the fix, exit 2, change nothing (state, target role, target data) and leave
no process behind. Preflight's own contract differs in one way: a check that fails is a report (exit 1), so
where an input reaches preflight as a failing row, that row is asserted too.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.isolation import our_processes
from tests.helpers.rehearsal import Rehearsal
from tests.helpers.servers import ServerProcess, free_port, server_binary

MARKER = "pre-existing:target-key"


@dataclass
class World:
    """The running rehearsal plus any stand-in servers a row started (stopped at teardown)."""

    rehearsal: Rehearsal
    tmp_path: Path
    extra_servers: list[ServerProcess] = field(default_factory=list)

    def replace_source(self, *argv: str, **config_set: str) -> None:
        """Swap the workspace's source for a misconfigured server on the same port (a user's bad host):
        `argv` for what only a config file can set, `config_set` for the rest (applied once it runs)."""
        port = self.rehearsal.state()["servers"]["source"]["port"]
        self.rehearsal.kill("source", signal.SIGTERM)
        argv = ("--protected-mode", "no", *argv)  # as the seed's host; a row may override it
        server = ServerProcess(server_binary("redis-server"), self.tmp_path / "bad-source", port, list(argv))
        self.extra_servers.append(server)
        client = server.start().client()
        for name, value in config_set.items():
            client.config_set(name.replace("_", "-"), value)
        client.close()

    def url(self, role: str) -> str:
        return self.rehearsal.url(role)


@dataclass(frozen=True)
class BadInput:
    id: str
    argv: Callable[[World], list[str]]
    says: str  # a fragment of the one-line error
    setup: Callable[[World], None] = lambda world: None
    state: str = "available"  # the migration state that must survive the refusal


def _source_port(world: World) -> int:
    return world.rehearsal.state()["servers"]["source"]["port"]


def _preflight_source(url: Callable[[World], str]) -> Callable[[World], list[str]]:
    return lambda w: ["migrate", "preflight", "--source", url(w)]


def _verify_source(url: Callable[[World], str]) -> Callable[[World], list[str]]:
    return lambda w: ["migrate", "verify", "--source", url(w)]


def START(world: World) -> list[str]:
    return ["migrate", "start", "--wait", "--timeout", "20"]


UNUSED_PORT = free_port()

MATRIX = [
    BadInput("requirepass", START, "requires AUTH", lambda w: w.replace_source(requirepass="s3cret")),
    BadInput(
        "protected-mode-yes",
        START,
        "protected-mode is yes",
        lambda w: w.replace_source(protected_mode="yes"),
    ),
    BadInput(
        "renamed-sync-psync-config",
        START,
        "SYNC, PSYNC, CONFIG renamed or disabled",
        lambda w: w.replace_source(
            *("--rename-command", "SYNC", ""),
            *("--rename-command", "PSYNC", ""),
            "--rename-command",
            "CONFIG",
            "",
        ),
    ),
    BadInput(
        "databases-differ",
        START,
        "source has 32 databases, target 16",
        lambda w: w.replace_source("--databases", "32"),
    ),
    BadInput(
        "already-migrating",
        lambda w: ["migrate", "start"],
        "already migrating",
        lambda w: w.rehearsal.run("migrate", "start", "--wait"),
        state="migrating",
    ),
    BadInput(
        "source-equals-target", lambda w: ["migrate", "preflight", "--source", w.url("target")], "same server"
    ),
    BadInput(
        "wrong-scheme",
        _preflight_source(lambda w: f"http://127.0.0.1:{_source_port(w)}"),
        "has scheme 'http'",
    ),
    BadInput("port-out-of-range", _preflight_source(lambda w: "redis://127.0.0.1:99999"), "is not valid"),
    BadInput("no-host", _preflight_source(lambda w: "redis://:6379"), "has no host"),
    BadInput(
        "tls-url",
        _preflight_source(lambda w: f"rediss://127.0.0.1:{_source_port(w)}"),
        "uses TLS (rediss://)",
    ),
    BadInput(
        "credentials-in-url",
        _preflight_source(lambda w: f"redis://u:p@127.0.0.1:{_source_port(w)}"),
        "carries credentials",
    ),
    BadInput(
        "db-not-a-number",
        _preflight_source(lambda w: f"redis://127.0.0.1:{_source_port(w)}/x"),
        "is not a number",
    ),
    BadInput(
        "source-down",
        START,
        "cannot reach source",
        lambda w: w.rehearsal.kill("source", signal.SIGTERM),
    ),
    BadInput(
        "unreachable-port",
        _verify_source(lambda w: f"redis://127.0.0.1:{UNUSED_PORT}"),
        "cannot reach source",
    ),
    BadInput(
        "unknown-host", _verify_source(lambda w: "redis://no-such-host.invalid:6379"), "cannot reach source"
    ),
]


def _snapshot(r: Rehearsal) -> dict[str, Any]:
    target = r.client("target")
    try:
        info = target.info("replication")
        return {
            "state": r.state()["migration_state"],
            "target_role": info["role"],
            "target_master_port": info.get("master_port"),
            "target_keys": target.dbsize(),
            "marker": target.get(MARKER),
        }
    finally:
        target.close()


@pytest.fixture
def world(cli, tmp_path: Path) -> Iterator[World]:
    r = Rehearsal(cli, tmp_path)
    r.run("up")
    r.client("target").set(MARKER, "kept")  # data a refused command must not wipe
    r.run("load", "--keys", "200")
    w = World(r, tmp_path)
    yield w
    r.run("down", expect=None)
    for server in w.extra_servers:
        server.stop()
    assert our_processes(tmp_path) == []


@pytest.mark.parametrize("case", MATRIX, ids=[c.id for c in MATRIX])
def test_bad_input_is_refused_with_one_line_and_nothing_changes(world: World, case: BadInput) -> None:
    r = world.rehearsal
    case.setup(world)
    before = _snapshot(r)
    assert before["state"] == case.state
    result = r.run(*case.argv(world), expect=2)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result
    assert case.says in lines[0] and " — " in lines[0], lines[0]  # the problem, then the fix
    assert _snapshot(r) == before
    as_json = r.run(*case.argv(world), "-o", "json", expect=2).json
    assert as_json["ok"] is False and set(as_json["error"]) == {"code", "message", "hint"}
    assert as_json["error"]["hint"]


@pytest.mark.parametrize(
    ("url", "row", "says"),
    [
        (lambda w: f"redis://127.0.0.1:{UNUSED_PORT}", "source_reachable", "cannot reach source"),
        (lambda w: "redis://no-such-host.invalid:6379", "source_reachable", "cannot reach source"),
        (lambda w: f"redis://127.0.0.1:{_source_port(w)}/99", "source_database", "names database 99"),
    ],
    ids=["unreachable-port", "unknown-host", "db-index-out-of-range"],
)
def test_preflight_reports_an_unusable_source_as_a_failing_row(
    world: World, url, row: str, says: str
) -> None:
    r = world.rehearsal
    before = _snapshot(r)
    result = r.run("migrate", "preflight", "--source", url(world), "-o", "json", expect=1)
    failed = {c["name"]: c for c in result.json["checks"] if c["status"] == "fail"}
    assert row in failed and says in failed[row]["detail"] and failed[row]["fix"], failed
    assert result.stderr.strip() == f"preflight failed: {', '.join(failed)}"
    assert _snapshot(r) == before
