"""Real redis-server / valkey-server processes for tests: free port, tmp dir, PING, log on failure.

The fixtures at the end (`server_factory`, `source`, `target`) are registered through `pytest_plugins`.

They start through the product's launcher (migrator.local.processes), as child processes a test may kill.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from migrator.errors import MigratorError
from migrator.local import matrix, processes
from migrator.local.processes import ServerSpec, free_port

INSTALL_HINT = "run `make test` (it installs them) or `bash scripts/install-servers.sh`"


def server_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} not found on PATH: {INSTALL_HINT}")
    return path


def matrix_binary(engine: str, version: str) -> str:
    """A binary of the server matrix; a missing one fails the test with how to install it (never a skip)."""
    try:
        return matrix.resolve(engine, version)
    except MigratorError as err:
        raise RuntimeError(err.one_line()) from None


@dataclass
class ServerProcess:
    """One server on 127.0.0.1; `extra` are additional `--name value` config arguments."""

    binary: str
    workdir: Path
    port: int = field(default_factory=free_port)
    extra: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = None
    role: str = "test"  # a processes.ROLE_SETTINGS key: "bridge" gets the bridge's configuration
    cluster_port: int | None = None
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    @property
    def logfile(self) -> Path:
        return self.workdir / f"server-{self.port}.log"

    @property
    def spec(self) -> ServerSpec:
        return ServerSpec(
            self.role, self.binary, self.port, self.workdir, self.logfile, self.cluster_port, self.settings
        )

    def start(self) -> ServerProcess:
        try:
            self.proc = processes.start_foreground(self.spec, self.extra)
        except MigratorError as err:
            log = self.logfile.read_text() if self.logfile.exists() else "(no log)"
            raise RuntimeError(f"{err.one_line()}\n{log[-3000:]}") from None
        return self

    def client(self, db: int = 0, **kwargs) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, db=db, socket_timeout=10, **kwargs)

    def log_text(self) -> str:
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""

    def stop(self) -> None:
        if self.proc:
            processes.stop_child(self.proc, timeout=10)


def replicate(target: ServerProcess, source: ServerProcess, timeout: float = 30.0) -> None:
    """Make `target` a replica of `source` and wait until the link is up and caught up."""
    t = target.client()
    t.replicaof("127.0.0.1", source.port)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = t.info("replication")
        if info.get("master_link_status") == "up" and not info.get("master_sync_in_progress"):
            src_offset = source.client().info("replication")["master_repl_offset"]
            if t.info("replication").get("slave_repl_offset", -1) >= src_offset:
                return
        time.sleep(0.05)
    raise RuntimeError(f"replication {source.url} -> {target.url} not caught up in {timeout}s")


def promote(target: ServerProcess) -> None:
    target.client().replicaof("NO", "ONE")


# How a replica's log ends a full sync (Redis 7: "MASTER <-> REPLICA", Valkey 8+: "PRIMARY <-> REPLICA").
SYNC_SUCCEEDED = re.compile(r"<-> REPLICA sync: Finished with success")
SYNC_FAILED = re.compile(r"Can't handle .*RDB|Failed trying to load the (MASTER|PRIMARY) synchronization DB")


LOG_PREFIX = re.compile(r"^\d+:[A-Z] \d+ \w+ \d+ [\d:.]+ [.\-*#] ")


def log_message(line: str) -> str:
    """A log line without its 'pid:role day month year time level' prefix."""
    return LOG_PREFIX.sub("", line, count=1)


def sync_outcome(replica: ServerProcess, timeout: float = 15.0) -> tuple[bool, str]:
    """(succeeded, the log message that says so) for the replica's first full-sync attempt."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in replica.log_text().splitlines():
            if SYNC_SUCCEEDED.search(line):
                return True, log_message(line)
            if SYNC_FAILED.search(line):
                return False, log_message(line)
        time.sleep(0.05)
    raise RuntimeError(f"{replica.url}: no full-sync outcome in its log within {timeout}s")


# ---- fixtures (registered through pytest_plugins) ----------------------------------------------------------
@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers by binary name ("redis-server" or "valkey-server"); all are stopped at teardown."""
    started: list[ServerProcess] = []

    def start(name: str = "redis-server", extra: list[str] | None = None) -> ServerProcess:
        server = ServerProcess(server_binary(name), tmp_path / f"{name}-{len(started)}", extra=extra or [])
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


class ServerPool:
    """Servers kept for the whole session and lent to one test at a time, reset in between.

    Starting and stopping two servers per test cost ~0.3 s each on these machines, for hundreds of tests
    that only need an empty server of a given version. A lent server is reset to how it started: writes
    un-paused, no replication, every config parameter as at start, no data, scripts or functions, no
    other clients, fresh stats. One that a test killed, stopped or locked out (a password) is replaced.
    Tests that need a fresh process (its log from the start, `extra` arguments) use `server_factory`.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.idle: dict[tuple[str, str], list[ServerProcess]] = {}
        self.config: dict[int, dict[str, str]] = {}  # by port: CONFIG GET * as started
        self.lent: list[ServerProcess] = []

    def lend(self, binary: str, role: str = "test") -> ServerProcess:
        idle = self.idle.setdefault((binary, role), [])
        while idle:
            server = idle.pop()
            try:
                reset = self._reset(server)
            except BaseException:  # a reset that raised: stopped, never left running unowned
                server.stop()
                raise
            if reset:
                self.lent.append(server)
                return server
            server.stop()
        workdir = self.root / f"{Path(binary).name}-{role}-{len(list(self.root.iterdir()))}"
        server = ServerProcess(binary, workdir, role=role).start()
        self.lent.append(server)
        self.config[server.port] = server.client().config_get("*")
        return server

    def give_back(self, server: ServerProcess, binary: str, role: str) -> None:
        self.lent.remove(server)
        self.idle.setdefault((binary, role), []).append(server)

    def _reset(self, server: ServerProcess) -> bool:
        if server.proc is None or server.proc.poll() is not None:
            return False
        try:
            client = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=5)
            client.execute_command("CLIENT", "UNPAUSE")
            client.replicaof("NO", "ONE")
            started = self.config[server.port]
            for name, value in client.config_get("*").items():
                if started.get(name, value) != value:
                    client.config_set(name, started[name])
            client.flushall()
            client.script_flush()
            client.function_flush()
            client.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
            client.config_resetstat()
            client.close()
        except redis.RedisError:
            return False
        return True

    def close(self) -> None:
        for server in [*self.lent, *(s for servers in self.idle.values() for s in servers)]:
            server.stop()


@pytest.fixture(scope="session")
def server_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerPool]:
    pool = ServerPool(tmp_path_factory.mktemp("server-pool"))
    yield pool
    pool.close()


@pytest.fixture
def pooled(server_pool: ServerPool) -> Iterator[Callable[..., ServerProcess]]:
    """pooled(binary, role="test"): a reset server from the session's pool, given back after the test."""
    lent: list[tuple[ServerProcess, str, str]] = []

    def lend(binary: str, role: str = "test") -> ServerProcess:
        server = server_pool.lend(binary, role)
        lent.append((server, binary, role))
        return server

    yield lend
    for server, binary, role in lent:
        server_pool.give_back(server, binary, role)


@pytest.fixture
def source(pooled: Callable[..., ServerProcess]) -> ServerProcess:
    """A Redis 7.0 source, as on the local rehearsal (from the pool: empty, not replicating)."""
    return pooled(server_binary("redis-server"))


@pytest.fixture
def target(pooled: Callable[..., ServerProcess]) -> ServerProcess:
    """A Valkey 8.0 target, as on the local rehearsal (from the pool: empty, not replicating)."""
    return pooled(server_binary("valkey-server"))
