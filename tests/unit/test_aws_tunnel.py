"""`migrator tunnel`: the ssh argv over the EC2 Instance Connect Endpoint, missing tools, open and close,
reconnects when the endpoint drops the connection, and a dropped tunnel reported as one line.

The fake `ssh` runs its ProxyCommand through the shell like OpenSSH and lives as long as it does; the fake
`aws ec2-instance-connect open-tunnel` ends its first FAKE_EIC_DROPS connections after FAKE_EIC_LIFETIME
seconds, as the endpoint does at its one-hour limit. SendSSHPublicKey goes to a moto server on loopback
(the keeper is another process, so moto in-process would not see it).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from migrator.aws import tunnel
from migrator.aws.tunnel_keeper import Keeper
from migrator.errors import Code, MigratorError
from migrator.local.processes import free_port
from migrator.state import AwsRecord, HostRecord, State, TunnelForward, TunnelRecord, Workspace
from tests.helpers.aws import OUTPUT_VALUES
from tests.helpers.cli import invoke
from tests.helpers.rehearsal import wait_for

FAKE_SSH = """#!/usr/bin/python3
# Like `ssh -N -L ...`: runs the ProxyCommand through the shell, listens on every -L forward, and ends
# when the ProxyCommand (the endpoint's connection) ends.
import os, socket, subprocess, sys
args = sys.argv[1:]
open(sys.argv[0] + ".argv", "w").write("\\n".join(args))
proxy = next(a.split("=", 1)[1] for a in args if a.startswith("ProxyCommand="))
tunnel = subprocess.Popen(proxy, shell=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
socks = []
for i, arg in enumerate(args):
    if arg == "-L":
        bind, port = args[i + 1].split(":")[:2]
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((bind, int(port))); s.listen(); socks.append(s)
tunnel.wait()
sys.stderr.write("Connection closed by UNKNOWN port 65535\\n")
sys.exit(255)
"""

FAKE_AWS = """#!/usr/bin/python3
import os, pathlib, sys, time
here = pathlib.Path(sys.argv[0]).parent
if sys.argv[1:2] == ["--version"]:
    print(os.environ.get("FAKE_AWS_VERSION", "aws-cli/2.17.0 Python/3.12.6 Linux/6.1 exe/x86_64"))
    sys.exit(0)
if sys.argv[1:3] == ["ec2-instance-connect", "open-tunnel"]:
    count = here / "open-tunnel.count"
    n = int(count.read_text()) + 1 if count.exists() else 1
    count.write_text(str(n))
    (here / f"open-tunnel.{n}.pid").write_text(str(os.getpid()))
    if n <= int(os.environ.get("FAKE_EIC_DROPS", "0")):
        time.sleep(float(os.environ.get("FAKE_EIC_LIFETIME", "1.5")))
        sys.exit(0)  # the endpoint ended the connection
    time.sleep(600)
sys.exit(f"fake aws: unexpected {sys.argv[1:]}")
"""


def tools(directory: Path) -> Path:
    directory.mkdir(exist_ok=True)
    (directory / "aws").write_text(FAKE_AWS)
    (directory / "ssh").write_text(FAKE_SSH)
    for name in ("aws", "ssh"):
        (directory / name).chmod(0o755)
    return directory


def test_argv_forwards_every_server_through_the_endpoint(tmp_path: Path) -> None:
    spec = tunnel.build(
        OUTPUT_VALUES,
        "us-east-1",
        ssh="/usr/bin/ssh",
        aws="/opt/aws cli/aws",
        key_file=tmp_path / "id_ed25519",
        known_hosts=tmp_path / "known_hosts",
        local_port=16379,
    )
    proxy = (
        "'/opt/aws cli/aws' ec2-instance-connect open-tunnel --instance-id i-0123456789abcdef0 "
        "--instance-connect-endpoint-id eice-0123456789abcdef0 --region us-east-1"
    )
    assert spec.argv == [
        "/usr/bin/ssh",
        "-N",
        "-i",
        str(tmp_path / "id_ed25519"),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        f"ProxyCommand={proxy}",
        "-o",
        "StrictHostKeyChecking=accept-new",
        "-o",
        f"UserKnownHostsFile={tmp_path / 'known_hosts'}",
        "-o",
        "ExitOnForwardFailure=yes",
        "-o",
        "ServerAliveInterval=30",
        "-o",
        "ServerAliveCountMax=3",
        "-L",
        "127.0.0.1:16379:127.0.0.1:6379",
        "-L",
        "127.0.0.1:16380:migrator.abc123.ng.0001.use1.cache.amazonaws.com:6379",
        # The module runs the Valkey 9 bridge on the host (outputs bridge_port 6380): forwarded too.
        "-L",
        "127.0.0.1:16381:127.0.0.1:6380",
        "ec2-user@i-0123456789abcdef0",
    ]
    assert shlex.split(proxy)[0] == "/opt/aws cli/aws"  # the shell ssh runs ProxyCommand with sees one word
    assert (spec.source_url, spec.target_url) == ("redis://127.0.0.1:16379", "redis://127.0.0.1:16380")
    assert [(f.name, f.local_port) for f in spec.forwards] == [
        ("source", 16379),
        ("target", 16380),
        ("bridge", 16381),
    ]


def test_without_a_bridge_nothing_is_forwarded_to_it(tmp_path: Path) -> None:
    outputs = {k: v for k, v in OUTPUT_VALUES.items() if k != "bridge_port"}  # null outputs are omitted
    spec = tunnel.build(
        outputs, "us-east-1", ssh="ssh", aws="aws", key_file=tmp_path / "k", known_hosts=tmp_path / "h"
    )
    assert spec.forward("bridge") is None and not any(":6380" in arg for arg in spec.argv)


def test_argv_needs_the_outputs(tmp_path: Path) -> None:
    with pytest.raises(MigratorError, match="terraform outputs lack eic_endpoint_id") as err:
        tunnel.build(
            {**OUTPUT_VALUES, "eic_endpoint_id": None},
            "us-east-1",
            ssh="ssh",
            aws="aws",
            key_file=tmp_path / "k",
            known_hosts=tmp_path / "h",
        )
    assert err.value.code == Code.NO_ENVIRONMENT


def test_missing_ssh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MigratorError) as err:
        tunnel.require_tools()
    assert err.value.code == "SshNotFound" and "openssh" in err.value.hint.lower()


def test_missing_aws_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bin_dir = tools(tmp_path / "bin")
    (bin_dir / "aws").unlink()
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(MigratorError) as err:
        tunnel.require_tools()
    assert err.value.code == "AwsCliNotFound" and "AWS CLI v2 >= 2.12" in err.value.hint


@pytest.mark.parametrize(
    "printed",
    [
        "aws-cli/1.45.11 Python/3.11.7 Linux/6.1 botocore/1.43",
        "aws-cli/2.11.27 Python/3.11.4 Linux/6.1 exe/x86_64",  # v2, but before open-tunnel
        "aws: command not understood",
    ],
)
def test_an_aws_cli_without_open_tunnel_is_too_old(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, printed: str
) -> None:
    monkeypatch.setenv("FAKE_AWS_VERSION", printed)
    monkeypatch.setenv("PATH", f"{tools(tmp_path / 'bin')}{os.pathsep}/usr/bin")
    with pytest.raises(MigratorError) as err:
        tunnel.require_tools()
    assert err.value.code == "AwsCliTooOld" and printed.split(" ")[0] in err.value.message
    assert "needs AWS CLI >= 2.12" in err.value.message


def test_aws_cli_2_12_is_enough(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FAKE_AWS_VERSION", "aws-cli/2.12.0 Python/3.11.4 Linux/6.1 exe/x86_64")
    monkeypatch.setenv("PATH", f"{tools(tmp_path / 'bin')}{os.pathsep}/usr/bin")
    assert tunnel.require_tools()[1] == str(tmp_path / "bin" / "aws")
    assert tunnel.aws_cli_version("aws-cli/2.12.0 Python/3.11.4") == (2, 12, 0)


# ---- a real keeper process against fake ssh/aws ----------------------------------------------------------
@pytest.fixture
def aws_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moto_server: str) -> Iterator[Workspace]:
    """An aws workspace, the fake tools on PATH, SendSSHPublicKey answered by moto on loopback."""
    monkeypatch.setenv("PATH", f"{tools(tmp_path / 'bin')}{os.pathsep}/usr/bin{os.pathsep}/bin")
    monkeypatch.setattr(tunnel, "RECONNECT_FIRST_DELAY", 0.05)
    ws = Workspace(tmp_path / ".migrator")
    ws.save(State(target_kind="aws", aws=AwsRecord(region="us-east-1", outputs=dict(OUTPUT_VALUES))))
    yield ws
    record = (ws.load() or State()).aws.tunnel
    if record is not None:  # a failed test must not leave its keeper running
        tunnel.close(ws, ws.require())


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def test_background_tunnel_opens_records_and_closes_its_whole_group(
    aws_env: Workspace, tmp_path: Path
) -> None:
    port = free_port(count=3)
    result = invoke("tunnel", "--background", "--local-port", str(port), "-o", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "ok": True,
        "source_url": f"redis://127.0.0.1:{port}",
        "target_url": f"redis://127.0.0.1:{port + 1}",
        "forwards": {
            "source": f"redis://127.0.0.1:{port}",
            "target": f"redis://127.0.0.1:{port + 1}",
            "bridge": f"redis://127.0.0.1:{port + 2}",
        },
        "background": True,
    }
    state = aws_env.require()
    assert tunnel.tunnel_urls(state) == (f"redis://127.0.0.1:{port}", f"redis://127.0.0.1:{port + 1}")
    record = state.aws.tunnel
    assert record is not None and record.process_group
    assert [f.name for f in record.forwards] == ["source", "target", "bridge"]
    assert record.forwards[1] == TunnelForward(
        "target", port + 1, OUTPUT_VALUES["valkey_primary_endpoint"], 6379
    )
    argv = (tmp_path / "bin" / "ssh.argv").read_text().splitlines()
    assert argv[-1] == "ec2-user@i-0123456789abcdef0"
    assert (aws_env.path / "tunnel" / "id_ed25519.pub").exists()

    again = invoke("tunnel", "--background", "--local-port", str(port))
    assert again.exit_code == 2 and "already open" in again.stderr

    proxy_pid = int((tmp_path / "bin" / "open-tunnel.1.pid").read_text())
    assert _alive(proxy_pid)
    closed = invoke("tunnel", "--close", "-o", "json")
    assert json.loads(closed.stdout) == {"ok": True, "closed": True}
    # The keeper, ssh and ssh's ProxyCommand (`aws ec2-instance-connect open-tunnel`) all end.
    wait_for(lambda: not _alive(proxy_pid) and not _alive(record.pid), 10, "the proxy and ssh gone", 0.05)
    assert tunnel.tunnel_urls(aws_env.require()) is None


def test_the_tunnel_reconnects_when_the_endpoint_drops_it(
    aws_env: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("FAKE_EIC_DROPS", "1")
    port = free_port(count=3)
    with caplog.at_level("INFO", logger="werkzeug"):
        assert invoke("tunnel", "--background", "--local-port", str(port)).exit_code == 0
        log = aws_env.path / "tunnel" / "tunnel.log"
        wait_for(lambda: "tunnel: reconnected" in log.read_text(), 20, "the keeper reconnected", 0.05)
    assert tunnel.health(aws_env.require()).state == "open"
    # The moto server's request log: one SendSSHPublicKey per connection (a pushed key lasts 60 s).
    pushes = [r for r in caplog.records if '"POST / HTTP/1.1" 200' in r.getMessage()]
    assert len(pushes) == 2
    said = log.read_text()
    assert (
        "tunnel: connection dropped after 1s (ssh exit 255: Connection closed by UNKNOWN port 65535)" in said
    )
    assert "reconnecting in 0s (attempt 1 of 8)" in said and "tunnel: reconnected: source 127.0.0.1:" in said
    assert (aws_env.path / "tunnel" / "ssh.log").read_text().count("--- ssh started") == 2
    # The same record, the same keeper: commands keep using it.
    assert tunnel.tunnel_urls(aws_env.require()) == (
        f"redis://127.0.0.1:{port}",
        f"redis://127.0.0.1:{port + 1}",
    )


def test_the_foreground_tunnel_says_each_reconnect_on_stderr_and_ends_on_ctrl_c(
    aws_env: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_EIC_DROPS", "2")
    monkeypatch.setenv("FAKE_EIC_LIFETIME", "0.5")
    port = free_port(count=3)
    cli = subprocess.Popen(
        [sys.executable, "-m", "migrator", "tunnel", "--local-port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert cli.stderr is not None
    lines = []
    while len([ln for ln in lines if ln.startswith("tunnel: reconnected")]) < 2:
        line = cli.stderr.readline()
        assert line, f"the tunnel ended early: {lines}"
        lines.append(line.strip())
    assert len([ln for ln in lines if ln.startswith("tunnel: connection dropped")]) == 2
    record = aws_env.require().aws.tunnel
    assert record is not None
    proxy_pid = int((tmp_path / "bin" / "open-tunnel.3.pid").read_text())
    cli.send_signal(signal.SIGINT)
    assert cli.wait(timeout=20) == 0
    assert f"source redis://127.0.0.1:{port}" in (cli.stdout.read() if cli.stdout else "")
    wait_for(lambda: not _alive(proxy_pid) and not _alive(record.pid), 10, "the proxy and ssh gone", 0.05)
    assert aws_env.require().aws.tunnel is None


def test_a_keeper_that_gave_up_is_a_dropped_tunnel(
    aws_env: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tunnel, "RECONNECT_ATTEMPTS", 1)
    monkeypatch.setenv("FAKE_EIC_DROPS", "9")
    monkeypatch.setenv("FAKE_EIC_LIFETIME", "0.5")
    assert invoke("tunnel", "--background", "--local-port", str(free_port(count=3))).exit_code == 0
    record = aws_env.require().aws.tunnel
    assert record is not None
    wait_for(lambda: not _alive(record.pid), 20, "the ssh gone", 0.05)
    found = tunnel.health(aws_env.require())
    assert found.state == "dropped" and f"its process {record.pid} has ended" in found.detail
    assert "gave up after 1 reconnect attempts" in found.detail
    # A new `migrator tunnel` replaces the dropped one.
    monkeypatch.setenv("FAKE_EIC_DROPS", "0")
    assert invoke("tunnel", "--background", "--local-port", str(free_port(count=3))).exit_code == 0
    assert tunnel.health(aws_env.require()).state == "open"


def test_the_first_connection_failing_is_the_commands_error(
    aws_env: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "bin" / "ssh").write_text("#!/bin/sh\necho 'Permission denied (publickey).' >&2\nexit 255\n")
    result = invoke("tunnel", "--background", "--local-port", str(free_port(count=3)), "-o", "json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "TunnelFailed" and "Permission denied (publickey)." in error["message"]
    assert aws_env.require().aws.tunnel is None


# ---- the keeper's loop, in-process: a fresh key for every connection ---------------------------------------
def test_every_connection_pushes_a_fresh_key(
    stubbed: Callable[[str], Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", f"{tools(tmp_path / 'bin')}{os.pathsep}/usr/bin{os.pathsep}/bin")
    monkeypatch.setenv("FAKE_EIC_DROPS", "9")
    monkeypatch.setenv("FAKE_EIC_LIFETIME", "0.3")
    key = tmp_path / "id_ed25519.pub"
    key.write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + "A" * 43 + " migrator-tunnel")
    connect = stubbed("ec2-instance-connect")
    for _ in range(2):  # the first connection and its one reconnect, each with its own SendSSHPublicKey
        connect.add_response(
            "send_ssh_public_key",
            {"RequestId": "r", "Success": True},
            {
                "InstanceId": "i-0123456789abcdef0",
                "InstanceOSUser": "ec2-user",
                "SSHPublicKey": key.read_text(),
            },
        )
    port = free_port(count=3)
    spec = tunnel.build(
        OUTPUT_VALUES,
        "us-east-1",
        ssh="ssh",
        aws="aws",
        key_file=tmp_path / "id_ed25519",
        known_hosts=tmp_path / "kh",
        local_port=port,
    )  # fmt: skip  (ssh and aws are the fakes on PATH)
    monkeypatch.setattr(tunnel, "RECONNECT_ATTEMPTS", 1)
    monkeypatch.setattr(tunnel, "RECONNECT_FIRST_DELAY", 0.0)
    plan = json.loads(tunnel._keeper_plan(spec, tmp_path).read_text())
    assert Keeper(plan).run() == 1  # dropped, reconnected once, dropped again: gave up
    status = tunnel.keeper_status(str(tmp_path / "tunnel.log"))
    assert status["state"] == "failed" and "gave up after 1 reconnect attempts" in status["message"]


# ---- a dropped tunnel, as the commands that need it see it -------------------------------------------------
def _dropped_workspace(path: Path, pid: int | None = None) -> Workspace:
    """Recorded as open, but nothing listens on its ports (ssh gone), or its process `pid` is gone."""
    from tests.helpers.aws_sim import tunnelled_workspace

    ws: Workspace = tunnelled_workspace(path, free_port(), free_port())
    built = HostRecord("i-0123456789abcdef0", "done", "user-data: done", "7.4.6", "CloudWatch Logs")
    ws.update(lambda state: setattr(state.aws, "host", built))
    if pid is not None:
        ws.update(lambda state: setattr(state.aws.tunnel, "pid", pid))
    return ws


def _exited_pid() -> int:
    done = subprocess.Popen(["true"])
    done.wait()
    return done.pid


@pytest.mark.parametrize("how", ["not listening", "process gone"])
def test_status_verify_complete_report_a_dropped_tunnel_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    from migrator.aws import migration
    from tests.helpers.aws_sim import SimulatedElastiCache, install

    monkeypatch.setattr(migration, "POLL_SECONDS", 0.0)
    _dropped_workspace(tmp_path / ".migrator", _exited_pid() if how == "process gone" else None)
    service = install(monkeypatch, SimulatedElastiCache(status="migrating"))
    for command in (
        ["migrate", "status"],
        ["migrate", "verify"],
        ["migrate", "complete"],
        ["migrate", "preflight"],
    ):
        result = invoke(*command, "-o", "json")
        assert result.exit_code == 2, (command, result.output)
        error = json.loads(result.stdout)["error"]
        assert error["code"] == Code.TUNNEL_DROPPED, (command, error)
        assert error["message"].startswith("the tunnel dropped: ") and "migrator tunnel" in error["hint"]
        assert result.stderr.count("\n") == 1
    assert "CompleteMigration" not in service.names()  # nothing was promoted through a dead path
    status = invoke("status", "-o", "json")
    assert status.exit_code == 0
    assert json.loads(status.stdout)["migration"]["tunnel"]["state"] == "dropped"
    assert "tunnel: dropped" in invoke("status").stdout


def test_a_reconnecting_tunnel_is_waited_for_then_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The keeper lives but nothing listens (the endpoint's hourly cut): commands wait for the reconnect."""
    import socket

    keeper = subprocess.Popen(["sleep", "60"], start_new_session=True)  # leads its own group, as the keeper
    port = free_port(count=2)
    forwards = [
        TunnelForward("source", port, "127.0.0.1", 6379),
        TunnelForward("target", port + 1, "t", 6379),
    ]
    record = TunnelRecord(
        keeper.pid, port, port + 1, tunnel._start_time(keeper.pid), forwards=forwards, process_group=True
    )
    state = State(target_kind="aws", aws=AwsRecord(tunnel=record))
    back: list[socket.socket] = []
    threading.Timer(0.5, lambda: back.append(socket.create_server(("127.0.0.1", port)))).start()
    try:
        assert tunnel.health(state).state == "dropped"  # `migrator status` reports without waiting
        assert tunnel.tunnel_url(state, "source") == f"redis://127.0.0.1:{port}"
        back.pop().close()
        monkeypatch.setattr(tunnel, "RECONNECT_WAIT_SECONDS", 0.3)
        with pytest.raises(MigratorError) as err:
            tunnel.tunnel_url(state, "source")
        assert err.value.code == Code.TUNNEL_DROPPED and "reconnects by itself" in err.value.hint
    finally:
        keeper.kill()
        keeper.wait()


def test_a_tunnel_lost_after_the_cut_over_skips_the_verify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from migrator.lifecycle.registry import migration as migration_for
    from tests.helpers.aws_sim import SimulatedElastiCache, install

    install(monkeypatch, SimulatedElastiCache(status="available"))
    outcome = migration_for(_dropped_workspace(tmp_path / ".migrator")).verify_after_cut_over()
    assert outcome.ran is False and outcome.reason and outcome.reason.startswith("the tunnel dropped")


def test_an_older_record_without_forwards_still_works(tmp_path: Path) -> None:
    record = TunnelRecord(os.getpid(), 1, 2, bridge_port=3)
    assert [(f.name, f.local_port) for f in tunnel.recorded_forwards(record)] == [
        ("source", 1),
        ("target", 2),
        ("bridge", 3),
    ]


def test_tunnel_needs_an_aws_environment(tmp_path: Path) -> None:
    Workspace(tmp_path / ".migrator").save(State(target_kind="local"))
    result = invoke("tunnel")
    assert result.exit_code == 2 and "is local, not aws" in result.stderr


def test_the_region_falls_back_to_the_module_output_then_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from migrator.aws.tunnel import _region

    assert _region(State(target_kind="aws", aws=AwsRecord(outputs={"region": "eu-west-1"}))) == "eu-west-1"
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    with pytest.raises(MigratorError, match="no AWS region") as err:
        _region(State(target_kind="aws"))
    assert err.value.code == Code.NO_REGION


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


SILENT_SSH = """#!/usr/bin/python3
import os, sys, time
open(sys.argv[0] + ".pid", "w").write(str(os.getpid()))
time.sleep(600)
"""


def test_interrupted_tunnel_start_stops_its_ssh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moto_server: str
) -> None:
    from tests.helpers.aws import OUTPUT_VALUES

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
