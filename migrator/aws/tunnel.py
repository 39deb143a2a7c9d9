"""`migrator tunnel`: SSH local forwards over the EC2 Instance Connect Endpoint to Redis and Valkey.

The endpoint only tunnels TCP 22, so a laptop reaches 6379 on the Redis host, and the Valkey primary
through that host, with `ssh -L` whose ProxyCommand is `aws ec2-instance-connect open-tunnel`.
`aws ec2-instance-connect ssh --local-forwarding` would do, but takes a single forward; we need two.
The login key is a throwaway key pushed with SendSSHPublicKey (valid 60 s, enough to log in), so no key
pair is ever stored in AWS.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from migrator.aws.outputs import source_port
from migrator.errors import Code, MigratorError
from migrator.state import State, TunnelRecord, Workspace

DEFAULT_LOCAL_PORT = 16379  # source on this port, target on the next; 6379 is often taken by a local Redis
OS_USER = "ec2-user"  # Amazon Linux 2023's login user
READY_SECONDS = 30.0
AWS_CLI_HINT = (
    "install AWS CLI v2 (https://docs.aws.amazon.com/cli/latest/userguide/"
    "getting-started-install.html); it provides `aws ec2-instance-connect open-tunnel`"
)
SSH_HINT = (
    "install the OpenSSH client (apt-get install openssh-client, brew install openssh, or Windows' OpenSSH)"
)


@dataclass
class TunnelSpec:
    argv: list[str]
    instance_id: str
    endpoint_id: str
    region: str
    key_file: str
    source_port: int
    target_port: int
    target_host: str
    bridge_port: int | None = None  # local port forwarded to the host's bridge, when the module runs one

    @property
    def local_ports(self) -> list[int]:
        return [self.source_port, self.target_port] + ([self.bridge_port] if self.bridge_port else [])

    @property
    def source_url(self) -> str:
        return f"redis://127.0.0.1:{self.source_port}"

    @property
    def target_url(self) -> str:
        return f"redis://127.0.0.1:{self.target_port}"

    def describe(self) -> dict[str, Any]:
        return {**asdict(self), "source_url": self.source_url, "target_url": self.target_url}


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _start_time(pid: int) -> str | None:
    """The process's start time (clock ticks since boot, /proc/<pid>/stat field 22); None without procfs."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def _is_tunnel(record: TunnelRecord) -> bool:
    """The recorded pid is alive and is still the process we started, not the pid reused by another one."""
    if not _alive(record.pid):
        return False
    return record.started is None or _start_time(record.pid) in (record.started, None)


def tunnel_urls(state: State) -> tuple[str, str] | None:
    """(source, target) URLs through an open tunnel, or None when no tunnel process is alive."""
    record = state.aws.tunnel
    if record is None or not _is_tunnel(record):
        return None
    return (f"redis://127.0.0.1:{record.source_port}", f"redis://127.0.0.1:{record.target_port}")


def tunnel_bridge_url(state: State) -> str | None:
    """The bridge on the Redis host through the tunnel, when the tunnel forwards it."""
    record = state.aws.tunnel
    if record is None or record.bridge_port is None or not _is_tunnel(record):
        return None
    return f"redis://127.0.0.1:{record.bridge_port}"


def require_tools() -> tuple[str, str]:
    """(ssh, aws) paths; AWS CLI v1 has no open-tunnel, so its version is checked too."""
    ssh = shutil.which("ssh")
    if ssh is None:
        raise MigratorError("ssh (OpenSSH client) not found on PATH", SSH_HINT, Code.SSH_NOT_FOUND)
    aws = shutil.which("aws")
    if aws is None:
        raise MigratorError("the AWS CLI (`aws`) is not on PATH", AWS_CLI_HINT, Code.AWS_CLI_NOT_FOUND)
    try:
        done = subprocess.run([aws, "--version"], capture_output=True, text=True, timeout=60, check=False)
    except OSError as exc:
        raise MigratorError(
            f"cannot run {aws} ({exc.strerror})", AWS_CLI_HINT, Code.AWS_CLI_NOT_FOUND
        ) from None
    version = (done.stdout or done.stderr).strip().split(" ")[0]
    if not version.startswith("aws-cli/2."):
        raise MigratorError(
            f"{aws} is {version or 'an unknown version'}; EC2 Instance Connect Endpoint "
            "tunnels need AWS CLI v2",
            AWS_CLI_HINT,
            Code.AWS_CLI_TOO_OLD,
        )
    return ssh, aws


def ensure_key(directory: Path) -> Path:
    """A throwaway ed25519 key for this workspace (private to the user)."""
    key = directory / "id_ed25519"
    if key.exists():
        return key
    keygen = shutil.which("ssh-keygen")
    if keygen is None:
        raise MigratorError("ssh-keygen not found on PATH", SSH_HINT, Code.SSH_NOT_FOUND)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    subprocess.run(
        [keygen, "-q", "-t", "ed25519", "-N", "", "-C", "migrator-tunnel", "-f", str(key)],
        check=True,
        capture_output=True,
    )
    return key


def _region(state: State) -> str:
    """The environment's region: recorded by `up`, else the module's output, else boto3's default."""
    from migrator.aws.clients import default_region

    region = state.aws.region or state.aws.outputs.get("region") or default_region()
    if not region:
        raise MigratorError(
            "no AWS region is known for this environment",
            "set AWS_REGION (or re-run `migrator up`)",
            Code.NO_REGION,
        )
    return region


def build(
    outputs: dict[str, Any],
    region: str,
    *,
    ssh: str,
    aws: str,
    key_file: Path,
    known_hosts: Path,
    local_port: int = DEFAULT_LOCAL_PORT,
) -> TunnelSpec:
    """The ssh argv: two local forwards, through the EIC endpoint, to the Redis host."""
    missing = [
        k for k in ("redis_instance_id", "eic_endpoint_id", "valkey_primary_endpoint") if not outputs.get(k)
    ]
    if missing:
        raise MigratorError(
            f"terraform outputs lack {', '.join(missing)}",
            "run `migrator outputs` (or `migrator up --target aws`) first",
            Code.NO_ENVIRONMENT,
        )
    instance, endpoint = outputs["redis_instance_id"], outputs["eic_endpoint_id"]
    target_host, target_remote_port = (
        outputs["valkey_primary_endpoint"],
        int(outputs.get("valkey_port") or 6379),
    )
    proxy = shlex.join(
        [
            aws,
            "ec2-instance-connect",
            "open-tunnel",
            "--instance-id",
            instance,
            "--instance-connect-endpoint-id",
            endpoint,
            "--region",
            region,
        ]
    )
    argv = [
        ssh,
        "-N",
        "-i",
        str(key_file),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        f"ProxyCommand={proxy}",
        # The host key is new on every fresh environment: accept it once, in a file of this workspace only.
        "-o",
        "StrictHostKeyChecking=accept-new",
        "-o",
        f"UserKnownHostsFile={known_hosts}",
        "-o",
        "ExitOnForwardFailure=yes",
        "-o",
        "ServerAliveInterval=30",
        "-o",
        "ServerAliveCountMax=3",
        "-L",
        f"127.0.0.1:{local_port}:127.0.0.1:{source_port(outputs)}",
        "-L",
        f"127.0.0.1:{local_port + 1}:{target_host}:{target_remote_port}",
    ]
    bridge_port = None
    if outputs.get("bridge_port"):
        bridge_port = local_port + 2
        argv += ["-L", f"127.0.0.1:{bridge_port}:127.0.0.1:{int(outputs['bridge_port'])}"]
    argv.append(f"{OS_USER}@{instance}")
    return TunnelSpec(
        argv, instance, endpoint, region, str(key_file), local_port, local_port + 1, target_host, bridge_port
    )


def push_key(region: str, instance_id: str, public_key: str) -> None:
    """SendSSHPublicKey: the instance accepts this key for the next 60 seconds."""
    from migrator.aws.clients import aws_errors, make_client

    with aws_errors("ec2-instance-connect:SendSSHPublicKey", region):
        make_client("ec2-instance-connect", region).send_ssh_public_key(
            InstanceId=instance_id, InstanceOSUser=OS_USER, SSHPublicKey=public_key
        )


def _listening(port: int) -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_ready(proc: subprocess.Popen[bytes], spec: TunnelSpec, log: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while not all(_listening(port) for port in spec.local_ports):
        if proc.poll() is not None:
            last = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
            raise MigratorError(
                f"ssh tunnel exited with {proc.returncode}: {' '.join(last) or 'no message'}",
                f"check IAM (ec2-instance-connect:*), the endpoint, and {log}",
                Code.TUNNEL_FAILED,
            )
        if time.monotonic() >= deadline:
            proc.terminate()
            raise MigratorError(
                f"tunnel ports {spec.source_port}/{spec.target_port} not open after {READY_SECONDS:.0f}s",
                f"see {log}",
                Code.TUNNEL_FAILED,
            )
        time.sleep(0.2)


def open_tunnel(
    workspace: Workspace,
    state: State,
    *,
    local_port: int = DEFAULT_LOCAL_PORT,
    background: bool = False,
    on_ready: Callable[[TunnelSpec], None] | None = None,
) -> TunnelSpec:
    """Open the tunnel; in the foreground it lasts until interrupted, in the background until `--close`."""
    if tunnel_urls(state):
        raise MigratorError(
            "a tunnel is already open for this workspace",
            "close it with `migrator tunnel --close`",
            Code.TUNNEL_OPEN,
        )
    ssh, aws = require_tools()
    region = _region(state)
    directory = workspace.path / "tunnel"
    key = ensure_key(directory)
    spec = build(
        state.aws.outputs,
        region,
        ssh=ssh,
        aws=aws,
        key_file=key,
        known_hosts=directory / "known_hosts",
        local_port=local_port,
    )
    for port in spec.local_ports:
        if _listening(port):
            raise MigratorError(
                f"local port {port} is already in use", "pass --local-port with a free pair", Code.PORT_IN_USE
            )
    push_key(region, spec.instance_id, key.with_suffix(".pub").read_text().strip())
    log = directory / "ssh.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            spec.argv, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink, start_new_session=background
        )
    try:
        _wait_ready(proc, spec, log)
    except BaseException:
        # Ctrl-C (or a failure) before the tunnel is recorded: stop ssh, or it holds the ports unrecorded.
        proc.terminate()
        raise
    record = TunnelRecord(
        proc.pid, spec.source_port, spec.target_port, _start_time(proc.pid), background, spec.bridge_port
    )

    def remember(current: State) -> None:
        current.aws.tunnel = record

    state.aws.tunnel = record
    workspace.update(remember)
    if on_ready is not None:
        on_ready(spec)
    if background:
        return spec
    try:
        proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait(timeout=10)
    finally:
        # Other commands may have saved the state meanwhile: forget the tunnel in the current one.
        if workspace.exists():
            workspace.update(_forget_tunnel)
    return spec


def _forget_tunnel(state: State) -> None:
    state.aws.tunnel = None


def close(workspace: Workspace, state: State) -> bool:
    """Stop this workspace's tunnel process (only the pid we recorded); True when one was running."""
    record, state.aws.tunnel = state.aws.tunnel, None
    if record is None:
        return False
    running = _is_tunnel(record)
    if running:
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, signal.SIGTERM)
    if workspace.exists():
        workspace.update(_forget_tunnel)
    return running
