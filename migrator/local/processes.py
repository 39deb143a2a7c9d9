"""Local redis-server / valkey-server processes: configure, start, verify ownership, stop.

One launcher for the product and the tests: `ServerSpec.config_text()` is the only place a server's
configuration is written; `start` runs it daemonized (the CLI's servers outlive the command),
`start_foreground` as a child process (tests own theirs and may kill it).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from migrator.errors import MigratorError

# Re-exported from their old home (explicit `as` re-exports).
from migrator.local.binaries import INSTALL_HINTS as INSTALL_HINTS
from migrator.local.binaries import binary_identity as binary_identity
from migrator.local.binaries import binary_version as binary_version
from migrator.local.binaries import resolve_binary as resolve_binary

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0

# Below Linux's default ephemeral range (32768-60999): no outgoing connection can grab a port in the moment
# between picking it and the server binding it.
FREE_PORT_RANGE = (20000, 32000)


def free_port(count: int = 1, taken: Collection[int] = ()) -> int:
    """A loopback port (the first of `count` consecutive ones) that is free now."""
    for _ in range(500):
        first = random.randrange(FREE_PORT_RANGE[0], FREE_PORT_RANGE[1] - count)
        ports = range(first, first + count)
        if any(port in taken for port in ports):
            continue
        if all(_bindable(port) for port in ports):
            return first
    raise MigratorError(
        f"no free port in {FREE_PORT_RANGE[0]}-{FREE_PORT_RANGE[1]}",
        "pass --source-port and --target-port",
        "NoFreePort",
    )


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((LOOPBACK, port)) == 0


NO_PERSISTENCE = ('save ""', "appendonly no")
ROLE_SETTINGS: dict[str, tuple[str, ...]] = {
    # As the seed's host: AOF plus RDB snapshots.
    "source": ("appendonly yes", "appendfsync everysec", "save 3600 1 300 100 60 10000"),
    # ElastiCache keeps its own snapshots; the rehearsal target is rebuilt by the sync.
    "target": NO_PERSISTENCE,
    # Valkey >= 9 between a Redis 7.4+ source and a Valkey 8 target: the relaxed check loads the source's
    # RDB 12, and it serves its Valkey 8 replica RDB 11 (matrix.rdb_served). It only relays: nothing on
    # disk, no client writes.
    "bridge": (*NO_PERSISTENCE, "rdb-version-check relaxed", "replica-read-only yes"),
    # A test's throwaway server: state lives as long as the process.
    "test": NO_PERSISTENCE,
}
# Short enough that a stopped node is noticed within a test, long enough that a busy 2-core machine
# (a fork, an RDB load) does not get a healthy master marked failed.
CLUSTER_NODE_TIMEOUT_MS = 3000


@dataclass
class ServerSpec:
    """Everything needed to (re)start one local server the same way.

    `cluster_port` set makes it a cluster node (cluster bus on that port, nodes.conf in its workdir);
    `settings` are extra config directives (name -> value, or a tuple of its arguments: `replicaof`),
    written last so they win.
    """

    role: str
    binary: str
    port: int
    workdir: Path
    logfile: Path
    cluster_port: int | None = None
    settings: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)

    @property
    def pidfile(self) -> Path:
        return self.workdir / "server.pid"

    @property
    def conf(self) -> Path:
        return self.workdir / "server.conf"

    @property
    def nodes_conf(self) -> Path:
        return self.workdir / "nodes.conf"

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}"

    def config_text(self, *, daemonize: bool = True) -> str:
        lines = [
            f"# written by migrator for the local {self.role}; regenerated on every start",
            # The seed binds 0.0.0.0 on EC2; the rehearsal never leaves loopback.
            f"bind {LOOPBACK}",
            "protected-mode no",
            f"port {self.port}",
            f"daemonize {'yes' if daemonize else 'no'}",
            f"pidfile {self.pidfile}",
            f"logfile {self.logfile}",
            f"dir {self.workdir}",
            # One replica: waiting for others before a full sync would only slow the rehearsal down.
            "repl-diskless-sync-delay 0",
            *ROLE_SETTINGS[self.role],
        ]
        if self.cluster_port is not None:
            # An explicit bus port: the default (port + 10000) would land in the ephemeral range.
            lines += [
                "cluster-enabled yes",
                f"cluster-config-file {self.nodes_conf}",
                f"cluster-port {self.cluster_port}",
                f"cluster-node-timeout {CLUSTER_NODE_TIMEOUT_MS}",
            ]
        lines += [
            f"{name} {' '.join(map(_quoted, value)) if isinstance(value, tuple) else _quoted(value)}"
            for name, value in self.settings.items()
        ]
        return "\n".join(lines) + "\n"


def _quoted(value: str) -> str:
    if value and not any(ch.isspace() or ch in "\"'\\" for ch in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def is_ours(pid: int | None, spec: ServerSpec) -> bool:
    """True when `pid` is a live server of this binary listening on this spec's port (not a reused pid)."""
    if not pid:
        return False
    try:
        exe = os.path.realpath(f"/proc/{pid}/exe")
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return exe == os.path.realpath(spec.binary) and f":{spec.port}" in cmdline


def read_pidfile(spec: ServerSpec) -> int | None:
    try:
        return int(spec.pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def _prepare(spec: ServerSpec, *, daemonize: bool) -> None:
    """Checks that hold before any process exists, then the config file and directories."""
    if port_in_use(spec.port):
        raise MigratorError(
            f"port {spec.port} ({spec.role}) is already in use",
            f"stop what listens there, or pass another --{spec.role}-port",
            "PortInUse",
        )
    if spec.role == "bridge":
        _check_bridge_binary(spec.binary)
    spec.workdir.mkdir(parents=True, exist_ok=True)
    spec.logfile.parent.mkdir(parents=True, exist_ok=True)
    spec.conf.write_text(spec.config_text(daemonize=daemonize))
    with contextlib.suppress(FileNotFoundError):
        spec.pidfile.unlink()


def _check_bridge_binary(binary: str) -> None:
    from migrator.local import matrix

    engine, version = binary_identity(binary)
    if not matrix.bridge_capable(engine, version):
        raise MigratorError(
            f"the bridge needs Valkey >= 9 (rdb-version-check relaxed loads RDB 12); {binary} is "
            f"{engine} {version or 'of unknown version'}",
            f"{matrix.INSTALL_HINT}, or pass --bridge-server PATH to a valkey-server >= 9",
            "BridgeBinaryUnsuitable",
        )


def _wait_serving(
    spec: ServerSpec, running: Callable[[], int | None], exited: Callable[[], bool]
) -> int | None:
    """Poll until the server answers PING and `running()` names its pid; None once it exited or timed out.

    PING is refused while a restarted server loads its data (LOADING is a ConnectionError): keep waiting.
    """
    import redis

    from migrator.endpoints import Endpoint
    from migrator.endpoints import client as redis_client

    client = redis_client(Endpoint(LOOPBACK, spec.port), timeout=2, connect_timeout=1)
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):
                if (pid := running()) and client.ping():
                    return pid
            if exited():
                return None
            time.sleep(0.05)
    finally:
        client.close()
    return None


def _start_failed(spec: ServerSpec, fallback: str = "") -> MigratorError:
    tail = _log_tail(spec.logfile) or fallback
    return MigratorError(
        f"{spec.role} ({Path(spec.binary).name}) did not start on port {spec.port}: {tail}",
        f"see {spec.logfile}",
        "ServerStartFailed",
    )


def start(spec: ServerSpec) -> int:
    """Start a daemonized server and wait for PING; raise with the log's last lines when it cannot."""
    _prepare(spec, daemonize=True)
    try:
        result = subprocess.run([spec.binary, str(spec.conf)], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        # A daemonizing server returns at once; one that does not has hung: stop whatever it started.
        stop(read_pidfile(spec), spec)
        raise MigratorError(
            f"{spec.role} ({Path(spec.binary).name}) did not daemonize within 30s",
            f"see {spec.logfile}",
            "ServerStartFailed",
        ) from None

    def running() -> int | None:
        pid = read_pidfile(spec)
        return pid if pid and is_ours(pid, spec) else None

    pid = _wait_serving(spec, running, lambda: result.returncode != 0)
    if pid:
        return pid
    stop(read_pidfile(spec), spec)
    raise _start_failed(spec, result.stderr.strip() or result.stdout.strip())


def start_foreground(spec: ServerSpec, extra_argv: Collection[str] = ()) -> subprocess.Popen:
    """Start the server as a child process (not daemonized) and wait for PING; the caller stops it.

    `extra_argv` are `--name value` arguments after the config file (they win over it).
    """
    _prepare(spec, daemonize=False)
    # What a server prints before its log is open (a bad directive) goes to a file: no pipe to drain.
    stderr_file = spec.workdir / "stderr.txt"
    with stderr_file.open("wb") as stderr:
        proc = subprocess.Popen(
            [spec.binary, str(spec.conf), *extra_argv], stdout=subprocess.DEVNULL, stderr=stderr
        )

    def running() -> int | None:
        return proc.pid if proc.poll() is None else None

    if _wait_serving(spec, running, lambda: proc.poll() is not None):
        return proc
    stop_child(proc)
    printed = stderr_file.read_text(errors="replace").strip().splitlines()
    raise _start_failed(spec, printed[-1] if printed else "")


def stop_child(proc: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> None:
    """Stop a server started with `start_foreground`: SIGTERM, SIGKILL after `timeout`."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _log_tail(logfile: Path) -> str:
    try:
        lines = [ln for ln in logfile.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1].split(" * ")[-1].split(" # ")[-1] if lines else ""


def stop(pid: int | None, spec: ServerSpec) -> bool:
    """Stop the server if `pid` is ours: SIGTERM (it persists and exits), SIGKILL after a grace period."""
    if not is_ours(pid, spec):
        return False
    assert pid is not None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if not is_ours(pid, spec):
            return True
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return True
