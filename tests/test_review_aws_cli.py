"""Review findings in migrator/aws, infra, cli, state: each test reproduces one defect that was fixed."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from migrator import render
from migrator import terraform_adapter as infra
from migrator.aws import tunnel
from migrator.cli import app
from migrator.errors import Code, MigratorError
from migrator.state import AwsRecord, State, TunnelRecord, Workspace
from tests.fake_terraform.fixtures import moto_server

__all__ = ["moto_server"]


# ---- infra: a chatty terraform (TF_LOG, many warnings) must not deadlock apply/destroy -------------------
def test_stream_drains_stderr_while_reading_stdout(tmp_path: Path) -> None:
    """300 kB on stderr before stdout closes filled the pipe: terraform blocked, and so did we."""
    script = tmp_path / "terraform"
    # With a stalled stderr reader, `timeout` kills the writer after 10 s and the script exits 3.
    script.write_text(
        "#!/bin/sh\n"
        "head -c 300000 /dev/zero | tr '\\0' x | timeout 10 sh -c 'cat >&2' || exit 3\n"
        'echo \'{"type":"apply_complete"}\'\n'
    )
    script.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    tf = infra.Terraform(infra.TerraformBinary(str(script), "1.9.8", "terraform"), work)
    seen: list[int] = []
    tf.apply(work / "tfplan", progress=lambda by, total: seen.append(by), total=1)
    assert seen == [1]


# ---- tunnel: a recorded pid that now belongs to another process is not our tunnel ------------------------
def test_recycled_tunnel_pid_is_neither_trusted_nor_killed(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / ".migrator")
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        # What `open_tunnel` recorded for an ssh that has since exited, its pid now reused by `stranger`.
        record = TunnelRecord(pid=stranger.pid, started="1", source_port=16379, target_port=16380)
        state = State(target_kind="aws", aws=AwsRecord(tunnel=record))
        ws.save(state)
        # Not our tunnel: reported as dropped (its process ended), never used.
        assert tunnel.health(state).state == "dropped"
        with pytest.raises(MigratorError) as err:
            tunnel.tunnel_urls(state)
        assert err.value.code == Code.TUNNEL_DROPPED
        assert tunnel.close(ws, state) is False
        assert stranger.poll() is None, "close() sent SIGTERM to a process that is not the tunnel"
    finally:
        stranger.kill()
        stranger.wait()


def test_the_tunnel_process_itself_is_recognised(tmp_path: Path) -> None:
    import socket

    ssh = subprocess.Popen(["sleep", "60"])
    forwards = [socket.create_server(("127.0.0.1", 0)) for _ in range(2)]  # what its -L forwards listen on
    try:
        ports = [sock.getsockname()[1] for sock in forwards]
        record = TunnelRecord(
            pid=ssh.pid, started=tunnel._start_time(ssh.pid), source_port=ports[0], target_port=ports[1]
        )
        state = State(target_kind="aws", aws=AwsRecord(tunnel=record))
        assert tunnel.tunnel_urls(state) == (f"redis://127.0.0.1:{ports[0]}", f"redis://127.0.0.1:{ports[1]}")
        assert tunnel.close(Workspace(tmp_path / ".migrator"), state) is True
        assert ssh.wait(timeout=10) == -15
    finally:
        ssh.kill()
        for sock in forwards:
            sock.close()


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


# ---- cli: a usage error is still one line, and one JSON document with --output json ----------------------
@pytest.mark.parametrize(
    "args",
    [
        ["migrate", "verify", "--rounds", "abc", "-o", "json"],
        ["migrate", "status", "--bogus", "--output", "json"],  # fails before --output's callback runs
        ["cost", "--output=json", "--nodes", "x"],
        ["migrate", "verify", "-ojson", "--rounds", "x"],
        ["migrate", "nosuchcommand", "-o", "json"],
    ],
)
def test_usage_error_is_one_line_and_json_with_output_json(args: list[str]) -> None:
    render.set_format("text")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["error"]["code"] == "UsageError"
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "-h`" in result.stderr and "Traceback" not in result.stderr


def test_usage_error_in_text_mode_is_one_line_and_help_still_shows() -> None:
    render.set_format("text")
    result = CliRunner().invoke(app, ["migrate", "verify", "--rounds", "abc"])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "'--rounds'" in result.stderr
    assert " migrate verify -h`" in result.stderr
    bare = CliRunner().invoke(app, ["migrate"])  # no arguments: the help, as before
    assert "Commands" in bare.output and "preflight" in bare.output


# ---- tunnel: Ctrl-C while waiting for the forwards must not leave an unrecorded ssh holding the ports -----
SILENT_SSH = """#!/usr/bin/python3
import os, sys, time
open(sys.argv[0] + ".pid", "w").write(str(os.getpid()))
time.sleep(600)
"""


def test_interrupted_tunnel_start_stops_its_ssh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moto_server: str
) -> None:
    from tests.fake_terraform.fixtures import OUTPUT_VALUES

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "aws").write_text("#!/bin/sh\necho 'aws-cli/2.17.0 Python/3.12.6'\n")
    (bin_dir / "ssh").write_text(SILENT_SSH)
    for name in ("aws", "ssh"):
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    ws = Workspace(tmp_path / ".migrator")
    state = State(target_kind="aws", aws=AwsRecord(region="us-east-1", outputs=dict(OUTPUT_VALUES)))
    ws.save(state)

    def interrupt(_: float) -> None:
        if (bin_dir / "ssh.pid").exists() and (bin_dir / "ssh.pid").read_text():
            raise KeyboardInterrupt

    monkeypatch.setattr(tunnel.time, "sleep", interrupt)
    with pytest.raises(KeyboardInterrupt):
        tunnel.open_tunnel(ws, state, local_port=1, background=True)
    monkeypatch.undo()
    pid = int((bin_dir / "ssh.pid").read_text())
    try:
        for _ in range(100):  # the keeper's child: gone (or a zombie) once its group was ended
            try:
                if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z":
                    break
            except OSError:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the interrupted tunnel left its ssh running")
    finally:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
