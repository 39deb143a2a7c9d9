"""The workspace: a `.migrator/` folder holding state.json (target kind, servers, migration state)."""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrator.errors import Code, MigratorError

STATE_VERSION = 1
TARGET_KINDS = ("local", "aws")
MIGRATION_STATES = ("available", "migrating")
MAX_EVENTS = 50


@dataclass
class ServerRecord:
    """A local server process this tool started (keyed `source`/`target`, or `source-0`… in a cluster)."""

    role: str  # "source" | "target" | "bridge"
    binary: str
    port: int
    pid: int | None = None
    version: str = ""
    # A cluster node: its cluster bus port and the slots its nodes.conf gives it ([[start, end], ...]).
    cluster_port: int | None = None
    slots: list[list[int]] = field(default_factory=list)
    # A cluster node running without cluster mode right now: a target node while it replicates its source
    # master (cluster nodes refuse REPLICAOF); its nodes.conf stays on disk for the way back.
    standalone: bool = False

    @property
    def cluster_node(self) -> bool:
        return self.cluster_port is not None


@dataclass
class TunnelForward:
    """One `ssh -L` forward of the tunnel: 127.0.0.1:local_port to a host:port as the Redis host sees it."""

    name: str  # "source", "target", "bridge"; a cluster adds one per node
    local_port: int
    remote_host: str
    remote_port: int


@dataclass
class TunnelRecord:
    """The `migrator tunnel` process: recognised by pid *and* start time, so a reused pid is not ours."""

    pid: int
    source_port: int  # = the "source" forward's local port (older state files know only these three)
    target_port: int
    started: str | None = None
    background: bool = False
    bridge_port: int | None = None  # the local end of the forward to the host's bridge, when it has one
    forwards: list[TunnelForward] = field(default_factory=list)
    # The pid leads its own process group (ssh and its ProxyCommand inside): `--close` signals the group.
    process_group: bool = False
    log: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TunnelRecord:
        values = dict(data)
        forwards = [TunnelForward(**f) for f in values.pop("forwards", None) or []]
        return cls(**values, forwards=forwards)


@dataclass
class HostRecord:
    """The source host's build verdict as `up` read it (the last line of its user-data log)."""

    instance_id: str
    state: str  # "done" | "failed"
    line: str
    version: str | None = None  # what the host's redis-server reported
    read_from: str = ""  # "CloudWatch Logs" | "console output"


@dataclass
class AwsRecord:
    """What `migrator up --target aws` recorded: where the module runs, with what, and its outputs."""

    region: str | None = None
    module_source: str | None = None
    terraform_dir: str | None = None
    terraform_bin: str | None = None
    terraform_version: str | None = None
    var_files: list[str] = field(default_factory=list)
    account: str | None = None
    applied: bool = False
    # `terraform output -json` values as Terraform gives them (read through migrator.aws.outputs).
    outputs: dict[str, Any] = field(default_factory=dict)
    tunnel: TunnelRecord | None = None
    host: HostRecord | None = None

    @classmethod
    def from_dict(cls, data: Any) -> AwsRecord:
        if not isinstance(data, dict):
            raise ValueError("aws is not an object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"aws has unknown keys {sorted(unknown)}")
        values = dict(data)
        tunnel = values.pop("tunnel", None)
        host = values.pop("host", None)
        record = cls(**values)
        if not isinstance(record.outputs, dict) or not isinstance(record.var_files, list):
            raise ValueError("aws.outputs must be an object and aws.var_files a list")
        record.tunnel = TunnelRecord.from_dict(tunnel) if tunnel else None
        record.host = HostRecord(**host) if host else None
        return record


@dataclass
class State:
    target_kind: str = "local"
    migration_state: str = "available"
    # The migration runs through a bridge (set by `migrate start --bridge`, cleared by `complete`).
    bridged: bool = False
    servers: dict[str, ServerRecord] = field(default_factory=dict)
    # Shards of the local environment: 1 is the standalone pair, N >= 2 a source and a target cluster.
    shards: int = 1
    aws: AwsRecord = field(default_factory=AwsRecord)
    # Life-cycle events (newest last), shaped like ElastiCache's DescribeEvents entries.
    events: list[dict[str, Any]] = field(default_factory=list)
    version: int = STATE_VERSION

    @property
    def cluster(self) -> bool:
        return self.shards > 1

    def nodes(self, role: str) -> list[tuple[str, ServerRecord]]:
        """A cluster's nodes of one role (`source`/`target`) in shard order, with the names they are under."""
        names = [f"{role}-{i}" for i in range(self.shards)]
        return [(name, self.servers[name]) for name in names if name in self.servers]

    def add_event(self, message: str) -> None:
        self.events.append({"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "message": message})
        del self.events[:-MAX_EVENTS]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> State:
        """Build from parsed JSON, rejecting anything hand-edited into an impossible shape."""
        if not isinstance(data, dict):
            raise ValueError("top level is not an object")
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unknown state version {data.get('version')!r}")
        if data.get("target_kind") not in TARGET_KINDS:
            raise ValueError(f"target_kind must be one of {TARGET_KINDS}")
        if data.get("migration_state") not in MIGRATION_STATES:
            raise ValueError(f"migration_state must be one of {MIGRATION_STATES}")
        servers = {}
        for role, raw in (data.get("servers") or {}).items():
            record = ServerRecord(**raw)
            if not isinstance(record.port, int) or not 0 < record.port < 65536:
                raise ValueError(f"server {role!r} has an invalid port {record.port!r}")
            if record.pid is not None and not isinstance(record.pid, int):
                raise ValueError(f"server {role!r} has an invalid pid {record.pid!r}")
            if record.cluster_port is not None and not (
                isinstance(record.cluster_port, int) and 0 < record.cluster_port < 65536
            ):
                raise ValueError(f"server {role!r} has an invalid cluster port {record.cluster_port!r}")
            if not isinstance(record.slots, list) or not all(
                isinstance(span, list) and len(span) == 2 for span in record.slots
            ):
                raise ValueError(f"server {role!r} has invalid slots {record.slots!r}")
            servers[role] = record
        shards = data.get("shards", 1)  # states written before clusters existed have no `shards`
        if not isinstance(shards, int) or shards < 1:
            raise ValueError(f"shards must be a positive integer, not {shards!r}")
        return cls(
            target_kind=data["target_kind"],
            migration_state=data["migration_state"],
            bridged=bool(data.get("bridged", False)),
            servers=servers,
            shards=shards,
            aws=AwsRecord.from_dict(data.get("aws") or {}),
            events=list(data.get("events") or []),
        )


class Workspace:
    """A folder like `.terraform/`: state.json plus runtime dirs (data, logs) for local servers."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).absolute()

    @property
    def state_file(self) -> Path:
        return self.path / "state.json"

    @property
    def logs_dir(self) -> Path:
        return self.path / "logs"

    def server_dir(self, role: str) -> Path:
        return self.path / role

    def exists(self) -> bool:
        return self.state_file.exists()

    def load(self) -> State | None:
        """The saved state, or None when nothing was ever brought up here."""
        try:
            text = self.state_file.read_text()
        except FileNotFoundError:
            return None
        try:
            return State.from_dict(json.loads(text))
        except (ValueError, TypeError, KeyError) as exc:
            raise MigratorError(
                f"workspace state {self.state_file} is corrupt ({exc})",
                f"fix or delete it; if servers still run, stop them by the pids in {self.path}/*/server.pid",
                Code.CORRUPT_STATE,
            ) from None

    def require(self) -> State:
        state = self.load()
        if state is None:
            raise MigratorError(
                f"no environment in {self.path}",
                "run `migrator up` first (or pass --workspace PATH)",
                Code.NO_ENVIRONMENT,
            )
        return state

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """An exclusive lock on the workspace, so a read-modify-write never interleaves with another."""
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / ".state.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def update(self, change: Callable[[State], None], new: Callable[[], State] | None = None) -> State:
        """Apply `change` to the state as it is on disk now, under the lock, and save it.

        Two commands at once (a `migrate status --watch`, the tunnel, a `complete`) each change their own
        part; re-reading under the lock means neither overwrites what the other saved meanwhile.
        """
        with self._locked():
            state = self.load()
            if state is None:
                if new is None:
                    raise MigratorError(
                        f"no environment in {self.path}", "run `migrator up` first", Code.NO_ENVIRONMENT
                    )
                state = new()
            change(state)
            self._write(state)
        return state

    def save(self, state: State) -> None:
        """Replace the state with `state` (under the lock); prefer `update` for a read-modify-write."""
        with self._locked():
            self._write(state)

    def _write(self, state: State) -> None:
        """Write atomically so a crash never leaves a half-written state file."""
        # A temporary file of our own: two commands saving at once must not write into one shared file.
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".state.", suffix=".tmp")
        try:
            os.fchmod(fd, 0o644)  # mkstemp's 0600 would change the state file's usual mode
            with os.fdopen(fd, "w") as out:
                out.write(json.dumps(state.to_dict(), indent=2) + "\n")
            os.replace(tmp, self.state_file)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def remove_state(self) -> None:
        if not self.path.exists():
            return
        with self._locked(), contextlib.suppress(FileNotFoundError):
            self.state_file.unlink()
