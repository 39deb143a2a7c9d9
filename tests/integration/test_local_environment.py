"""The local target end to end with real redis-server and valkey-server: life cycle, data, errors."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
import redis

from tests.helpers.dataset import fill, snapshot
from tests.helpers.isolation import our_processes


def _state(tmp_path: Path) -> dict:
    return json.loads((tmp_path / ".migrator" / "state.json").read_text())


def _client(url: str, db: int = 0) -> redis.Redis:
    return redis.Redis.from_url(url, db=db, socket_timeout=10)


@pytest.fixture
def env(cli, tmp_path: Path):
    """A running local environment; torn down (and checked for orphans) afterwards."""
    result = cli("up", "-o", "json")
    assert result.exit_code == 0, result
    yield result.json
    cli("down")
    assert our_processes(tmp_path) == []


def test_up_starts_real_servers_configured_as_the_seed(env, tmp_path: Path) -> None:
    assert env["target_kind"] == "local"
    assert env["source"]["version"].startswith("7.") and env["target"]["version"].startswith("8.")
    assert env["source"]["role"] == env["target"]["role"] == "master"
    assert env["migration"]["state"] == "available"
    source = _client(env["source"]["url"])
    config = source.config_get("*")
    assert config["protected-mode"] == "no"
    assert config["daemonize"] == "yes"
    assert config["appendonly"] == "yes" and config["appendfsync"] == "everysec"
    assert config["save"]  # RDB snapshots on, as in the seed
    assert config["pidfile"].startswith(str(tmp_path)) and config["logfile"].startswith(str(tmp_path))
    assert Path(config["logfile"]).exists()


def test_up_twice_is_a_no_op_reporting_the_running_environment(cli, env) -> None:
    again = cli("up", "-o", "json")
    assert again.exit_code == 0
    assert again.json["started"] == [] and sorted(again.json["already_running"]) == ["source", "target"]
    assert again.json["source"]["url"] == env["source"]["url"]
    assert again.json["source"]["pid"] == env["source"]["pid"]


def test_full_life_cycle_with_every_type_and_live_writes(cli, env) -> None:
    source_url, target_url = env["source"]["url"], env["target"]["url"]
    fill(lambda db: _client(source_url, db))
    assert cli("migrate", "preflight").exit_code == 0

    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        c = _client(source_url)
        i = 0
        while not stop.is_set() and i < 100_000:
            c.set(f"live:{i}", i)
            written.append(i)
            i += 1
            time.sleep(0.001)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        started = cli("migrate", "start", "--wait", "-o", "json")
        assert started.exit_code == 0, started
        assert started.json["state"] == "migrating" and started.json["waited"] is True

        # During migration the target is read-only, like ElastiCache.
        with pytest.raises(redis.ReadOnlyError):
            _client(target_url).set("x", 1)
        again = cli("migrate", "start", "-o", "json")
        assert again.exit_code == 2
        assert again.json["error"]["code"] == "ReplicationGroupAlreadyUnderMigrationFault"

        status = cli("migrate", "status", "-o", "json")
        assert status.exit_code == 0
        link = status.json["link"]
        assert link["master_link_status"] == "up" and link["sync_in_progress"] is False
        assert isinstance(link["lag_bytes"], int) and isinstance(link["last_io_seconds_ago"], int)
        assert link["keys_synced"] > 0
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join()

    done = cli("migrate", "complete", "--no-verify", "-o", "json")
    assert done.exit_code == 0, done
    assert done.json["state"] == "available" and done.json["caught_up"] is True
    assert "lost" in done.stderr  # without --pause-writes the user is told what can be lost

    assert snapshot(lambda db: _client(source_url, db)) == snapshot(lambda db: _client(target_url, db))
    target = _client(target_url)
    assert all(target.get(f"live:{i}") == str(i).encode() for i in written)
    target.set("writable", 1)  # promoted

    not_migrating = cli("migrate", "complete", "-o", "json")
    assert not_migrating.exit_code == 2
    assert not_migrating.json["error"]["code"] == "ReplicationGroupNotUnderMigrationFault"
    assert cli("status", "-o", "json").json["migration"]["state"] == "available"


def test_complete_with_pause_writes_reports_the_pause_window_and_fences_the_source(cli, env) -> None:
    fill(lambda db: _client(env["source"]["url"], db))
    assert cli("migrate", "start", "--wait").exit_code == 0
    done = cli("migrate", "complete", "--pause-writes", "--no-verify", "-o", "json")
    assert done.exit_code == 0, done
    assert 0 <= done.json["pause_ms"] < 5000
    assert done.json["source_fenced"] is True
    # Un-paused (answers at once) but fenced: a late write fails loudly instead of being lost.
    begun = time.monotonic()
    with pytest.raises(redis.ResponseError, match="NOREPLICAS"):
        _client(env["source"]["url"]).set("after", 1)
    assert time.monotonic() - begun < 1


def test_complete_force_promotes_without_the_check_and_says_so(cli, env) -> None:
    assert cli("migrate", "start", "--wait").exit_code == 0
    done = cli("migrate", "complete", "--force", "--no-verify", "-o", "json")
    assert done.exit_code == 0
    assert done.json["forced"] is True
    assert "may be missing" in done.stderr


def test_killed_servers_are_restarted_by_up_with_their_data_and_replication(cli, env, tmp_path: Path) -> None:
    source_url = env["source"]["url"]
    _client(source_url).set("kept", "yes")
    assert cli("migrate", "start", "--wait").exit_code == 0
    time.sleep(1.5)  # appendfsync everysec: the AOF holds the write after at most a second
    for role in ("source", "target"):
        os.kill(env[role]["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and cli("status", "-o", "json").json["source"]["running"]:
        time.sleep(0.05)
    down_view = cli("status", "-o", "json").json
    assert down_view["source"]["running"] is False and down_view["target"]["running"] is False

    again = cli("up", "-o", "json")
    assert again.exit_code == 0, again
    assert sorted(again.json["started"]) == ["source", "target"]
    assert again.json["source"]["url"] == source_url  # same port
    assert _client(source_url).get("kept") == b"yes"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if _client(env["target"]["url"]).get("kept") == b"yes":
            break
        time.sleep(0.1)
    assert _client(env["target"]["url"]).get("kept") == b"yes"  # replication re-established
    assert cli("migrate", "status", "-o", "json").json["state"] == "migrating"


def test_missing_binary_says_how_to_install_and_starts_nothing(cli, tmp_path: Path) -> None:
    result = cli("up", "--valkey-server", str(tmp_path / "no-such-valkey"))
    assert result.exit_code == 2
    assert "not found" in result.stderr and "apt-get install" in result.stderr
    assert result.stderr.count("\n") == 1
    assert our_processes(tmp_path) == []
    assert not (tmp_path / ".migrator" / "state.json").exists()


def test_binary_missing_from_path(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    result = cli("up")
    assert result.exit_code == 2 and "redis-server not found" in result.stderr


def test_port_in_use_is_a_clear_error_and_leaves_no_orphan(cli, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = cli("up", "--target-port", str(port))
    assert result.exit_code == 2
    assert f"port {port} (target) is already in use" in result.stderr
    assert our_processes(tmp_path) == []  # the source started first was stopped again


def test_corrupt_state_file_is_reported_not_crashed_on(cli, env, tmp_path: Path) -> None:
    state_file = tmp_path / ".migrator" / "state.json"
    good = state_file.read_text()
    state_file.write_text("{ not json")
    result = cli("migrate", "status")
    assert result.exit_code == 2 and "is corrupt" in result.stderr and "Traceback" not in result.stderr
    state_file.write_text(good.replace('"local"', '"mars"'))
    assert "target_kind must be one of" in cli("status").stderr
    state_file.write_text(good)


def test_stale_pid_of_a_gone_process_is_handled(cli, env, tmp_path: Path) -> None:
    state = _state(tmp_path)
    os.kill(env["target"]["pid"], signal.SIGKILL)
    time.sleep(0.3)
    # A pid that now belongs to someone else must never be signalled: point it at this test process.
    state["servers"]["target"]["pid"] = os.getpid()
    (tmp_path / ".migrator" / "state.json").write_text(json.dumps(state))
    view = cli("status", "-o", "json").json
    assert view["target"]["running"] is False
    down = cli("down", "-o", "json")
    assert down.exit_code == 0 and down.json["already_gone"] == ["target"]


def test_complete_without_start_and_start_before_up(cli) -> None:
    result = cli("migrate", "start")
    assert result.exit_code == 2 and "run `migrator up` first" in result.stderr


def test_down_keeps_logs_and_purge_removes_them(cli, tmp_path: Path) -> None:
    assert cli("up").exit_code == 0
    assert cli("down").exit_code == 0
    assert (tmp_path / ".migrator" / "logs" / "source.log").exists()
    assert not (tmp_path / ".migrator" / "state.json").exists()
    assert cli("down", "--purge", "--auto-approve").exit_code == 0
    assert not (tmp_path / ".migrator").exists()
    assert our_processes(tmp_path) == []


def test_purge_without_a_terminal_needs_auto_approve(cli, env, tmp_path: Path) -> None:
    result = cli("down", "--purge")
    assert result.exit_code == 2 and "--auto-approve" in result.stderr
    assert cli("status", "-o", "json").json["source"]["running"] is True  # nothing was changed


def test_status_watch_streams_one_json_object_per_line(cli, env) -> None:
    assert cli("migrate", "start").exit_code == 0
    result = cli("migrate", "status", "--watch", "--count", "3", "--interval", "0.05", "-o", "json")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert all(json.loads(line)["state"] == "migrating" for line in lines)


def test_link_down_is_reported_by_status_and_blocks_a_safe_complete(cli, env) -> None:
    assert cli("migrate", "start", "--wait").exit_code == 0
    os.kill(env["source"]["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 20
    link = {}
    while time.monotonic() < deadline:
        link = cli("migrate", "status", "-o", "json").json["link"]
        if link["master_link_status"] == "down":
            break
        time.sleep(0.1)
    assert link["master_link_status"] == "down"
    refused = cli("migrate", "complete", "--no-verify")
    assert refused.exit_code == 2 and "--force" in refused.stderr
    forced = cli("migrate", "complete", "--force", "--no-verify", "-o", "json")
    assert forced.exit_code == 0 and forced.json["forced"] is True
