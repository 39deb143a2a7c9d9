"""`migrator tunnel`: the ssh argv over the EC2 Instance Connect Endpoint, missing tools, open and close."""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from migrator.aws import tunnel
from migrator.cli import app
from migrator.errors import MigratorError
from migrator.local.processes import free_port
from migrator.state import AwsRecord, State, Workspace
from tests.fake_terraform.fixtures import OUTPUT_VALUES

FAKE_SSH = """#!/usr/bin/python3
# Listens on the local side of every -L forward, like ssh -N would, until killed.
import socket, sys, time
args = sys.argv[1:]
socks = []
for i, arg in enumerate(args):
    if arg == "-L":
        bind, port = args[i + 1].split(":")[:2]
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((bind, int(port))); s.listen(); socks.append(s)
open(sys.argv[0] + ".argv", "w").write("\\n".join(args))
time.sleep(600)
"""


def tools(directory: Path, aws_version: str = "aws-cli/2.17.0 Python/3.12.6 Linux/6.1 exe/x86_64") -> Path:
    directory.mkdir(exist_ok=True)
    (directory / "aws").write_text(f"#!/bin/sh\necho '{aws_version}'\n")
    (directory / "ssh").write_text(FAKE_SSH)
    for name in ("aws", "ssh"):
        (directory / name).chmod(0o755)
    return directory


def test_argv_forwards_both_servers_through_the_endpoint(tmp_path: Path) -> None:
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
    assert spec.bridge_port == 16381


def test_without_a_bridge_nothing_is_forwarded_to_it(tmp_path: Path) -> None:
    outputs = {k: v for k, v in OUTPUT_VALUES.items() if k != "bridge_port"}  # null outputs are omitted
    spec = tunnel.build(
        outputs, "us-east-1", ssh="ssh", aws="aws", key_file=tmp_path / "k", known_hosts=tmp_path / "h"
    )
    assert spec.bridge_port is None and not any(":6380" in arg for arg in spec.argv)


def test_argv_needs_the_outputs(tmp_path: Path) -> None:
    with pytest.raises(MigratorError, match="terraform outputs lack eic_endpoint_id"):
        tunnel.build(
            {**OUTPUT_VALUES, "eic_endpoint_id": None},
            "us-east-1",
            ssh="ssh",
            aws="aws",
            key_file=tmp_path / "k",
            known_hosts=tmp_path / "h",
        )


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
    assert err.value.code == "AwsCliNotFound" and "AWS CLI v2" in err.value.hint


def test_aws_cli_v1_has_no_open_tunnel(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(
        "PATH", str(tools(tmp_path / "bin", "aws-cli/1.45.11 Python/3.11.7 Linux/6.1 botocore/1.43"))
    )
    with pytest.raises(MigratorError) as err:
        tunnel.require_tools()
    assert err.value.code == "AwsCliTooOld" and "aws-cli/1.45.11" in err.value.message


@pytest.fixture
def aws_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    from moto import mock_aws

    monkeypatch.setenv("PATH", f"{tools(tmp_path / 'bin')}{os.pathsep}/usr/bin{os.pathsep}/bin")
    ws = Workspace(tmp_path / ".migrator")
    ws.save(State(target_kind="aws", aws=AwsRecord(region="us-east-1", outputs=dict(OUTPUT_VALUES))))
    with mock_aws():  # SendSSHPublicKey answered locally
        yield ws


def test_background_tunnel_opens_records_and_closes(aws_env: Workspace, tmp_path: Path) -> None:
    port = free_port(count=2)
    result = CliRunner().invoke(
        app, ["tunnel", "--background", "--local-port", str(port), "-o", "json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "ok": True,
        "source_url": f"redis://127.0.0.1:{port}",
        "target_url": f"redis://127.0.0.1:{port + 1}",
        "background": True,
    }
    state = aws_env.require()
    assert tunnel.tunnel_urls(state) == (f"redis://127.0.0.1:{port}", f"redis://127.0.0.1:{port + 1}")
    argv = (tmp_path / "bin" / "ssh.argv").read_text().splitlines()
    assert argv[-1] == "ec2-user@i-0123456789abcdef0"
    assert (aws_env.path / "tunnel" / "id_ed25519.pub").exists()

    again = CliRunner().invoke(app, ["tunnel", "--background", "--local-port", str(port)])
    assert again.exit_code == 2 and "already open" in again.stderr

    assert state.aws.tunnel is not None
    pid = state.aws.tunnel.pid
    closed = CliRunner().invoke(app, ["tunnel", "--close", "-o", "json"], catch_exceptions=False)
    assert json.loads(closed.stdout) == {"ok": True, "closed": True}
    os.waitpid(pid, 0)  # our child: reap it so the pid is really gone
    assert tunnel.tunnel_urls(aws_env.require()) is None


def test_tunnel_needs_an_aws_environment(tmp_path: Path) -> None:
    Workspace(tmp_path / ".migrator").save(State(target_kind="local"))
    result = CliRunner().invoke(app, ["tunnel"])
    assert result.exit_code == 2 and "is local, not aws" in result.stderr


def test_the_region_falls_back_to_the_module_output_then_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from migrator.aws.tunnel import _region

    assert _region(State(target_kind="aws", aws=AwsRecord(outputs={"region": "eu-west-1"}))) == "eu-west-1"
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    with pytest.raises(MigratorError, match="no AWS region"):
        _region(State(target_kind="aws"))
