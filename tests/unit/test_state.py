"""The workspace state: typed records round-trip, and read-modify-writes under the lock lose nothing."""

from __future__ import annotations

import json
import multiprocessing
import threading
from pathlib import Path

import pytest

from migrator.errors import Code, MigratorError
from migrator.state import AwsRecord, HostRecord, State, TunnelForward, TunnelRecord, Workspace


def _add_events(path: str, prefix: str, count: int) -> None:
    workspace = Workspace(path)
    for i in range(count):
        workspace.update(lambda state, i=i: state.add_event(f"{prefix}{i}"))


def test_two_writers_at_once_lose_nothing(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / ".migrator")
    workspace.save(State())
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_add_events, args=(str(workspace.path), p, 20)) for p in "ab"]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(30)
        assert writer.exitcode == 0
    messages = [event["message"] for event in workspace.require().events]
    assert sorted(messages) == sorted([f"a{i}" for i in range(20)] + [f"b{i}" for i in range(20)])


def test_an_update_keeps_what_another_command_saved_meanwhile(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / ".migrator")
    workspace.save(State(target_kind="aws"))
    stale = workspace.require()  # one command loaded the state...
    workspace.update(lambda s: setattr(s.aws, "tunnel", TunnelRecord(1, 16379, 16380)))  # ...another saved
    workspace.update(lambda s: s.add_event("from the first command"))
    fresh = workspace.require()
    assert fresh.aws.tunnel == TunnelRecord(1, 16379, 16380) and stale.aws.tunnel is None
    assert fresh.events[-1]["message"] == "from the first command"


def test_typed_records_round_trip_through_state_json(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / ".migrator")
    record = AwsRecord(
        region="eu-west-1", var_files=["a.tfvars"], outputs={"x": 1}, tunnel=TunnelRecord(5, 1, 2)
    )
    workspace.save(State(target_kind="aws", aws=record))
    assert workspace.require().aws == record
    raw = json.loads(workspace.state_file.read_text())
    assert raw["aws"]["tunnel"] == {
        "pid": 5,
        "source_port": 1,
        "target_port": 2,
        "started": None,
        "bridge_port": None,
        "background": False,
        "forwards": [],
        "process_group": False,
        "log": None,
    }


def test_tunnel_forwards_and_the_host_verdict_round_trip(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / ".migrator")
    forwards = [TunnelForward("source", 1, "127.0.0.1", 6379), TunnelForward("target", 2, "t.cache", 6379)]
    record = AwsRecord(
        tunnel=TunnelRecord(5, 1, 2, forwards=forwards, process_group=True, log="/w/tunnel/tunnel.log"),
        host=HostRecord("i-0", "failed", "user-data: FATAL: x", None, "console output"),
    )
    workspace.save(State(target_kind="aws", aws=record))
    assert workspace.require().aws == record


@pytest.mark.parametrize(
    "aws",
    [{"unknown_key": 1}, {"outputs": []}, {"tunnel": {"pid": 1}}, "not an object"],
)
def test_a_hand_edited_aws_record_is_corrupt_state(tmp_path: Path, aws: object) -> None:
    workspace = Workspace(tmp_path / ".migrator")
    workspace.save(State(target_kind="aws"))
    raw = json.loads(workspace.state_file.read_text())
    raw["aws"] = aws
    workspace.state_file.write_text(json.dumps(raw))
    with pytest.raises(MigratorError) as err:
        workspace.load()
    assert err.value.code == Code.CORRUPT_STATE


# ---- state: concurrent commands saving the workspace must not collide on one temp file ------------------
def test_concurrent_saves_never_fail_or_corrupt(tmp_path: Path) -> None:
    """`migrate status --watch` and another command both saving: one shared state.json.tmp made
    os.replace fail (FileNotFoundError) or publish a half-written file."""
    ws = Workspace(tmp_path / ".migrator")
    errors: list[BaseException] = []

    def hammer(n: int) -> None:
        try:
            for i in range(150):
                state = State(target_kind="local")
                state.add_event(f"writer {n} save {i}")
                ws.save(state)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert ws.load() is not None
    assert not list(ws.path.glob("*.tmp")), "temporary state files were left behind"


def test_save_leaves_another_writers_temp_file_alone(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / ".migrator")
    ws.path.mkdir()
    other = ws.state_file.with_suffix(".json.tmp")
    other.write_text("half of another process's state")
    ws.save(State(target_kind="local"))
    assert other.read_text() == "half of another process's state"
    assert ws.load() is not None
