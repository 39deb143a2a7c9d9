"""Local redis-server / valkey-server processes: configure, start (daemonized), verify ownership, stop."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from migrator.errors import MigratorError

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0

INSTALL_HINTS = {
    "redis-server": "install it (Debian: `apt-get install redis-server`, or `make demo` does it), "
    "or pass --redis-server PATH / MIGRATOR_REDIS_SERVER",
    "valkey-server": "install it (Debian 12: `apt-get install -t bookworm-backports valkey-server`, "
    "or `make demo` does it), or pass --valkey-server PATH / MIGRATOR_VALKEY_SERVER",
}


def resolve_binary(name: str, explicit: str | None) -> str:
    """The server binary: an explicit path/option, else PATH. Missing → one line saying how to install."""
    candidate = explicit or shutil.which(name)
    if candidate and (path := shutil.which(candidate)):
        return os.path.abspath(path)
    shown = explicit or name
    raise MigratorError(f"{shown} not found", INSTALL_HINTS[name], "ServerBinaryMissing")


def binary_version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
    for token in out.split():
        if token.startswith("v="):
            return token[2:]
    return ""


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


@dataclass
class ServerSpec:
    """Everything needed to (re)start one local server the same way."""

    role: str
    binary: str
    port: int
    workdir: Path
    logfile: Path

    @property
    def pidfile(self) -> Path:
        return self.workdir / "server.pid"

    @property
    def conf(self) -> Path:
        return self.workdir / "server.conf"

    def config_text(self) -> str:
        lines = [
            f"# written by migrator for the local {self.role}; regenerated on every start",
            # The seed binds 0.0.0.0 on EC2; the rehearsal never leaves loopback.
            f"bind {LOOPBACK}",
            "protected-mode no",
            f"port {self.port}",
            "daemonize yes",
            f"pidfile {self.pidfile}",
            f"logfile {self.logfile}",
            f"dir {self.workdir}",
            # One replica: waiting for others before a full sync would only slow the rehearsal down.
            "repl-diskless-sync-delay 0",
        ]
        if self.role == "source":
            lines += ["appendonly yes", "appendfsync everysec", "save 3600 1 300 100 60 10000"]
        else:
            # ElastiCache keeps its own snapshots; the rehearsal target is rebuilt by the sync.
            lines += ['save ""', "appendonly no"]
        return "\n".join(lines) + "\n"


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


def start(spec: ServerSpec) -> int:
    """Start a daemonized server and wait for PING; raise with the log's last lines when it cannot."""
    import redis

    if port_in_use(spec.port):
        raise MigratorError(
            f"port {spec.port} ({spec.role}) is already in use",
            f"stop what listens there, or pass another --{spec.role}-port",
            "PortInUse",
        )
    spec.workdir.mkdir(parents=True, exist_ok=True)
    spec.logfile.parent.mkdir(parents=True, exist_ok=True)
    spec.conf.write_text(spec.config_text())
    with contextlib.suppress(FileNotFoundError):
        spec.pidfile.unlink()
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
    client = redis.Redis(host=LOOPBACK, port=spec.port, socket_timeout=2, socket_connect_timeout=1)
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while time.monotonic() < deadline:
            pid = read_pidfile(spec)
            with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):
                if pid and client.ping() and is_ours(pid, spec):
                    return pid
            if result.returncode != 0:
                break
            time.sleep(0.05)
    finally:
        client.close()
    tail = _log_tail(spec.logfile) or result.stderr.strip() or result.stdout.strip()
    stop(read_pidfile(spec), spec)
    raise MigratorError(
        f"{spec.role} ({Path(spec.binary).name}) did not start on port {spec.port}: {tail}",
        f"see {spec.logfile}",
        "ServerStartFailed",
    )


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
