"""`migrator tunnel`: SSH local forwards over the EC2 Instance Connect Endpoint to Redis and Valkey.

The endpoint only tunnels TCP 22, so a laptop reaches 6379 on the Redis host, and the Valkey primary
through that host, with `ssh -L` whose ProxyCommand is `aws ec2-instance-connect open-tunnel`.
`aws ec2-instance-connect ssh --local-forwarding` would do, but takes a single forward; we need several.
The login key is a throwaway key pushed with SendSSHPublicKey (valid 60 s, enough to log in), so no key
pair is ever stored in AWS.

AWS documents the endpoint's limits: a connection lasts at most one hour, an endpoint carries at most 20 at
once, and high-volume transfers are throttled. So ssh runs under a keeper process (`tunnel_keeper`) that
leads its own process group and reconnects when the endpoint drops the connection; commands that go
through the tunnel tell a dropped tunnel (recorded, but nothing listens) from an unreachable server.
The forwards are a list of named ports built from the outputs (`forwards_from_outputs`), recorded as such.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from migrator.aws.outputs import source_port
from migrator.errors import Code, MigratorError
from migrator.state import State, TunnelForward, TunnelRecord, Workspace

DEFAULT_LOCAL_PORT = 16379  # source on this port, target on the next; 6379 is often taken by a local Redis
OS_USER = "ec2-user"  # Amazon Linux 2023's login user
READY_SECONDS = 30.0
MIN_AWS_CLI = (2, 12)  # `aws ec2-instance-connect open-tunnel` arrived in AWS CLI 2.12.0
# Reconnects: the delay doubles from FIRST to MAX; ATTEMPTS consecutive failures end the keeper. A
# connection that lasted STABLE seconds starts the count again (the endpoint's hourly cut is routine).
RECONNECT_FIRST_DELAY = 1.0
RECONNECT_MAX_DELAY = 30.0
RECONNECT_ATTEMPTS = 8
RECONNECT_STABLE_SECONDS = 60.0
CLOSE_SECONDS = 5.0
# A command that needs the tunnel while its keeper reconnects (the hourly cut) waits this long for it.
RECONNECT_WAIT_SECONDS = 15.0
AWS_CLI_HINT = (
    "install AWS CLI v2 >= 2.12 (https://docs.aws.amazon.com/cli/latest/userguide/"
    "getting-started-install.html); it provides `aws ec2-instance-connect open-tunnel`"
)
SSH_HINT = (
    "install the OpenSSH client (apt-get install openssh-client, brew install openssh, or Windows' OpenSSH)"
)


def forwards_from_outputs(
    outputs: dict[str, Any], local_port: int, target_nodes: list[tuple[str, str, int]] | None = None
) -> list[TunnelForward]:
    """One forward per server this machine talks to: the source, the target's primary, the bridge if any.

    A cluster adds one per source node (`source-<port>`) and one per target node (`target-<member id>`,
    `target_nodes` as (member id, address, port)): each shard's pair is watched, paused and fenced on its own.
    Local ports are consecutive from `local_port`, in this order; remote addresses are as the host sees them.
    """
    forwards = [
        TunnelForward("source", local_port, "127.0.0.1", source_port(outputs)),
        TunnelForward(
            "target",
            local_port + 1,
            str(outputs["valkey_primary_endpoint"]),
            int(outputs.get("valkey_port") or 6379),
        ),
    ]
    if outputs.get("bridge_port"):
        forwards.append(TunnelForward("bridge", local_port + 2, "127.0.0.1", int(outputs["bridge_port"])))
    if outputs.get("redis_cluster_enabled") or outputs.get("valkey_cluster_mode_enabled"):
        nodes = [(f"source-{port}", "127.0.0.1", int(port)) for port in outputs.get("redis_node_ports") or []]
        nodes += [(f"target-{member}", address, port) for member, address, port in target_nodes or []]
        after = forwards[-1].local_port
        forwards += [
            TunnelForward(name, after + 1 + i, host, port) for i, (name, host, port) in enumerate(nodes)
        ]
    return forwards


def local_url(forward: TunnelForward) -> str:
    return f"redis://127.0.0.1:{forward.local_port}"


@dataclass
class TunnelSpec:
    argv: list[str]
    instance_id: str
    endpoint_id: str
    region: str
    key_file: str
    forwards: list[TunnelForward] = field(default_factory=list)

    def forward(self, name: str) -> TunnelForward | None:
        return next((f for f in self.forwards if f.name == name), None)

    @property
    def local_ports(self) -> list[int]:
        return [f.local_port for f in self.forwards]

    def url(self, name: str) -> str | None:
        forward = self.forward(name)
        return local_url(forward) if forward else None

    @property
    def source_url(self) -> str:
        return self.url("source") or ""

    @property
    def target_url(self) -> str:
        return self.url("target") or ""


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
    fields = stat.rsplit(")", 1)[-1].split()
    # A zombie (exited, not yet reaped by its parent) holds its pid but is no tunnel.
    return None if fields[0] == "Z" else fields[19]


def _is_tunnel(record: TunnelRecord) -> bool:
    """The recorded pid is alive and is still the process we started, not the pid reused by another one."""
    if not _alive(record.pid):
        return False
    now = _start_time(record.pid)
    if now is None and Path(f"/proc/{record.pid}").exists():
        return False  # a zombie
    return record.started is None or now in (record.started, None)


def recorded_forwards(record: TunnelRecord) -> list[TunnelForward]:
    """The record's forwards; records written before forwards were listed name only their ports."""
    if record.forwards:
        return list(record.forwards)
    legacy = [
        TunnelForward("source", record.source_port, "", 0),
        TunnelForward("target", record.target_port, "", 0),
    ]
    return legacy + ([TunnelForward("bridge", record.bridge_port, "", 0)] if record.bridge_port else [])


@dataclass
class TunnelHealth:
    state: str  # "open" | "dropped" | "closed" (none recorded)
    detail: str = ""
    forwards: list[TunnelForward] = field(default_factory=list)
    reconnecting: bool = False  # the keeper lives and is connecting again
    log: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "detail": self.detail,
            "forwards": [{**asdict(f), "local_url": local_url(f)} for f in self.forwards],
        }

    def error(self) -> MigratorError:
        """The one line for a command that needed the tunnel and found it dropped."""
        where = f" (log: {self.log})" if self.log else ""
        hint = (
            "it reconnects by itself: retry in a few seconds, or `migrator tunnel --close` and open it again"
            if self.reconnecting
            else "open it again with `migrator tunnel`"
        )
        return MigratorError(f"the tunnel dropped: {self.detail}", hint + where, Code.TUNNEL_DROPPED)


def keeper_status(log: str | None) -> dict[str, Any]:
    """What the keeper last said it was doing (keeper.json beside its log)."""
    if not log:
        return {}
    try:
        found = json.loads(Path(log).with_name("keeper.json").read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def health(state: State, wait: float = 0.0) -> TunnelHealth:
    """Is the recorded tunnel there? Open only when its process lives and its forwards listen.

    With `wait`, a keeper that is reconnecting gets that many seconds to bring the forwards back.
    """
    record = state.aws.tunnel
    if record is None:
        return TunnelHealth("closed")
    forwards = recorded_forwards(record)
    deadline = time.monotonic() + wait
    while True:
        if not _is_tunnel(record):
            said = keeper_status(record.log).get("message")
            detail = f"its process {record.pid} has ended" + (f" ({said})" if said else "")
            return TunnelHealth("dropped", detail, forwards, log=record.log)
        if any(_listening(f.local_port) for f in forwards):
            return TunnelHealth("open", "", forwards, log=record.log)
        if not record.process_group or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    said = keeper_status(record.log).get("message")
    ports = ", ".join(str(f.local_port) for f in forwards)
    detail = f"nothing listens on 127.0.0.1:{ports}" + (f" ({said})" if said else "")
    return TunnelHealth("dropped", detail, forwards, reconnecting=record.process_group, log=record.log)


def tunnel_url(state: State, name: str) -> str | None:
    """The named forward's local URL through an open tunnel; None without one; TunnelDropped if dropped.

    A reconnecting tunnel (the endpoint's hourly cut) is waited for, so `migrate status --watch` and a
    `complete` started at that moment carry on once it is back.
    """
    found = health(state, wait=RECONNECT_WAIT_SECONDS)
    if found.state == "dropped":
        raise found.error()
    forward = next((f for f in found.forwards if f.name == name), None)
    return local_url(forward) if found.state == "open" and forward else None


def tunnel_forwards(state: State) -> dict[str, str]:
    """Every forward's local URL by name, through an open tunnel ({} without one; TunnelDropped if
    dropped)."""
    found = health(state, wait=RECONNECT_WAIT_SECONDS)
    if found.state == "dropped":
        raise found.error()
    return {f.name: local_url(f) for f in found.forwards} if found.state == "open" else {}


def tunnel_urls(state: State) -> tuple[str, str] | None:
    """(source, target) URLs through an open tunnel, or None without one; a dropped one is TunnelDropped."""
    source = tunnel_url(state, "source")
    target = tunnel_url(state, "target")
    return (source, target) if source and target else None


def tunnel_bridge_url(state: State) -> str | None:
    """The bridge on the Redis host through the tunnel, when the tunnel forwards it."""
    return tunnel_url(state, "bridge")


def aws_cli_version(text: str) -> tuple[int, ...] | None:
    """`aws --version` output ("aws-cli/2.17.0 Python/3.12.6 …") → (2, 17, 0); None when unrecognised."""
    found = re.match(r"aws-cli/(\d+)\.(\d+)(?:\.(\d+))?", text.strip())
    return tuple(int(part) for part in found.groups() if part is not None) if found else None


def require_tools() -> tuple[str, str]:
    """(ssh, aws) paths; the AWS CLI must be >= 2.12, the first with `ec2-instance-connect open-tunnel`."""
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
    printed = (done.stdout or done.stderr).strip()
    version = aws_cli_version(printed)
    if version is None or version < MIN_AWS_CLI:
        wanted = ".".join(map(str, MIN_AWS_CLI))
        raise MigratorError(
            f"{aws} is {printed.split(' ')[0] or 'an unknown version'}; `aws ec2-instance-connect "
            f"open-tunnel` (EC2 Instance Connect Endpoint tunnels) needs AWS CLI >= {wanted}",
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
    target_nodes: list[tuple[str, str, int]] | None = None,
) -> TunnelSpec:
    """The ssh argv: one local forward per server, through the EIC endpoint, to the Redis host."""
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
    forwards = forwards_from_outputs(outputs, local_port, target_nodes)
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
    ]
    for forward in forwards:
        argv += ["-L", f"127.0.0.1:{forward.local_port}:{forward.remote_host}:{forward.remote_port}"]
    argv.append(f"{OS_USER}@{instance}")
    return TunnelSpec(argv, instance, endpoint, region, str(key_file), forwards)


def _target_nodes(state: State, region: str) -> list[tuple[str, str, int]] | None:
    """A cluster-mode target's nodes (member id, address, port), from ElastiCache; None for one shard."""
    outputs = state.aws.outputs
    if not outputs.get("valkey_cluster_mode_enabled"):
        return None
    from migrator.aws.elasticache import ReplicationGroup

    group = ReplicationGroup(str(outputs.get("replication_group_id", "")), region)
    return [(member, *group.node_endpoint(member)) for member in group.describe().get("MemberClusters") or []]


def _listening(port: int) -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _keeper_plan(spec: TunnelSpec, directory: Path) -> Path:
    """The keeper's instructions (spec + limits), as a file its command line names."""
    plan = {
        "argv": spec.argv,
        "instance_id": spec.instance_id,
        "region": spec.region,
        "public_key": str(Path(spec.key_file).with_suffix(".pub")),
        "forwards": [asdict(f) for f in spec.forwards],
        "ssh_log": str(directory / "ssh.log"),
        "status": str(directory / "keeper.json"),
        "ready_seconds": READY_SECONDS,
        "first_delay": RECONNECT_FIRST_DELAY,
        "max_delay": RECONNECT_MAX_DELAY,
        "attempts": RECONNECT_ATTEMPTS,
        "stable_seconds": RECONNECT_STABLE_SECONDS,
    }
    path = directory / "keeper-plan.json"
    path.write_text(json.dumps(plan, indent=2))
    with contextlib.suppress(FileNotFoundError):
        (directory / "keeper.json").unlink()
    return path


def _keeper_failure(status: dict[str, Any], code: int | None) -> MigratorError:
    error = status.get("error") or {}
    if error.get("code"):
        return MigratorError(error.get("message", ""), error.get("hint", ""), error["code"])
    return MigratorError(
        f"the tunnel keeper exited with {code}: {status.get('message') or 'no message'}",
        "see the tunnel's logs in the workspace's tunnel/ folder",
        Code.TUNNEL_FAILED,
    )


def _wait_connected(keeper: subprocess.Popen[bytes], directory: Path) -> None:
    """Until the keeper says its first connection is up; its failure is this command's error."""
    limit = READY_SECONDS + 30  # the keeper gives ssh READY_SECONDS; the rest is the key push and start-up
    deadline = time.monotonic() + limit
    log = str(directory / "tunnel.log")
    while True:
        # `reconnecting` is only ever said after a first connection: that one was up, so was the tunnel.
        if keeper_status(log).get("state") in ("open", "reconnecting"):
            return
        code = keeper.poll()
        if code is not None:
            raise _keeper_failure(keeper_status(log), code)
        if time.monotonic() >= deadline:
            raise MigratorError(
                f"the tunnel did not open within {limit:.0f}s",
                f"see {directory / 'ssh.log'}",
                Code.TUNNEL_FAILED,
            )
        time.sleep(0.1)


def _stop_group(pid: int, group: bool) -> None:
    """SIGTERM to the keeper's process group (ssh and its ProxyCommand with it), SIGKILL if it lingers."""
    send = os.killpg if group else os.kill
    with contextlib.suppress(ProcessLookupError, PermissionError):
        send(pid, signal.SIGTERM)
    deadline = time.monotonic() + CLOSE_SECONDS
    while time.monotonic() < deadline:
        if not _group_alive(pid, group):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        send(pid, signal.SIGKILL)


def _group_alive(pid: int, group: bool) -> bool:
    try:
        (os.killpg if group else os.kill)(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if not Path("/proc/self/stat").exists():
        return True  # no procfs: whatever answers a signal counts as alive
    if not group:
        return _in_group(pid, None)
    return any(_in_group(int(p.name), pid) for p in Path("/proc").iterdir() if p.name.isdigit())


def _in_group(pid: int, group: int | None) -> bool:
    """A live (not zombie) process, in `group` when one is given; a zombie waits for its parent to reap it."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    except OSError:
        return False
    return fields[0] != "Z" and (group is None or int(fields[2]) == group)


def open_tunnel(
    workspace: Workspace,
    state: State,
    *,
    local_port: int = DEFAULT_LOCAL_PORT,
    background: bool = False,
    on_ready: Callable[[TunnelSpec], None] | None = None,
) -> TunnelSpec:
    """Open the tunnel; in the foreground it lasts until interrupted, in the background until `--close`."""
    found = health(state)
    if found.state == "open" or found.reconnecting:
        raise MigratorError(
            "a tunnel is already open for this workspace" + (" (reconnecting)" if found.reconnecting else ""),
            "close it with `migrator tunnel --close`",
            Code.TUNNEL_OPEN,
        )
    if found.state == "dropped":
        close(workspace, state)  # a dropped tunnel's keeper (if any) and record give way to the new one
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
        target_nodes=_target_nodes(state, region),
    )
    for port in spec.local_ports:
        if _listening(port):
            raise MigratorError(
                f"local port {port} is already in use", "pass --local-port with free ports", Code.PORT_IN_USE
            )
    plan = _keeper_plan(spec, directory)
    log = directory / "tunnel.log"
    with log.open("ab") as sink:
        # Its own session and process group: Ctrl-C here does not reach ssh, and --close ends all of it.
        keeper = subprocess.Popen(
            [sys.executable, "-m", "migrator.aws.tunnel_keeper", str(plan)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=sink if background else None,
            start_new_session=True,
        )
    try:
        _wait_connected(keeper, directory)
    except BaseException:
        _stop_group(keeper.pid, group=True)
        raise
    record = TunnelRecord(
        keeper.pid,
        spec.local_ports[0],
        spec.local_ports[1],
        _start_time(keeper.pid),
        background,
        bridge.local_port if (bridge := spec.forward("bridge")) else None,
        forwards=list(spec.forwards),
        process_group=True,
        log=str(log),
    )

    def remember(current: State) -> None:
        current.aws.tunnel = record

    state.aws.tunnel = record
    workspace.update(remember)
    if on_ready is not None:
        on_ready(spec)
    if background:
        return spec
    _follow(workspace, keeper)
    return spec


def _follow(workspace: Workspace, keeper: subprocess.Popen[bytes]) -> None:
    """The foreground tunnel: wait for the keeper until Ctrl-C (or a hang-up), then end its group."""

    def hang_up(*_: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGHUP, hang_up)
    try:
        code = keeper.wait()
    except KeyboardInterrupt:
        _stop_group(keeper.pid, group=True)
        code = 0
    finally:
        signal.signal(signal.SIGHUP, previous)
        # Other commands may have saved the state meanwhile: forget the tunnel in the current one.
        if workspace.exists():
            workspace.update(_forget_tunnel)
    if code != 0:
        status = keeper_status(str(workspace.path / "tunnel" / "tunnel.log"))
        raise MigratorError(
            f"the tunnel dropped and could not reconnect: {status.get('message') or f'exit {code}'}",
            f"open it again with `migrator tunnel` (ssh's log: {workspace.path / 'tunnel' / 'ssh.log'})",
            Code.TUNNEL_DROPPED,
        )


def _forget_tunnel(state: State) -> None:
    state.aws.tunnel = None


def close(workspace: Workspace, state: State) -> bool:
    """End this workspace's tunnel (the recorded keeper's whole process group); True when one was running."""
    record, state.aws.tunnel = state.aws.tunnel, None
    if record is None:
        return False
    running = _is_tunnel(record)
    if running:
        _stop_group(record.pid, record.process_group)
    if workspace.exists():
        workspace.update(_forget_tunnel)
    return running
