"""What a target supplies to the engine: its mechanism only, never a rule.

The engine (`engine.Migration`) decides what start and complete check, refuse, wait for, warn about and
which error code they raise. A backend says *how*: the local rehearsal with REPLICAOF, ElastiCache with
StartMigration / CompleteMigration. Like redis-py's `AbstractConnection.connect()` owning the flow while
each connection class overrides only `_connect()`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from migrator.lifecycle.results import (
    Check,
    EnvironmentStatus,
    LinkStatus,
    MigrationDetails,
    MigrationState,
    ProgressCallback,
)
from migrator.topology import SlotMap

if TYPE_CHECKING:
    from migrator.preflight import ServerFacts
    from migrator.state import State, Workspace

StageProgress = Callable[[str, int | None], AbstractContextManager[ProgressCallback]]
"""stage(description, total) opens a progress display for one stage of a command (render.progress)."""


@dataclass(frozen=True)
class Shard:
    """One replication path: a source primary, the target node that replicates it, maybe a bridge between.

    The bridge (a Valkey >= 9 replica of the source, which the target replicates) carries an RDB the target
    could not load directly. Offsets are shared along the chain, so the target's offset compares with the
    source's as if there were no bridge.
    """

    source_url: str
    target_url: str
    bridge_url: str | None = None
    name: str = "0"
    slots: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class DataPlane:
    """Where this machine reaches the servers (the rehearsal: loopback; AWS: through the tunnel)."""

    shards: tuple[Shard, ...]
    via: str  # "loopback" | "tunnel" | "given"
    cluster: bool = False
    # A cluster's nodes announce addresses this machine may not reach (the VPC's): announced URL → where
    # this machine reaches that node (the tunnel's forward). Unlisted URLs are reached as announced.
    reach: tuple[tuple[str, str], ...] = ()

    def reachable(self, url: str) -> str:
        return dict(self.reach).get(url, url)

    def source_map(self) -> SlotMap | None:
        """A cluster's source masters as this machine reaches them, with their slots (None: not a cluster)."""
        return SlotMap.of([(s.source_url, s.slots) for s in self.shards]) if self.cluster else None

    def target_map(self) -> SlotMap | None:
        """A cluster's target shards as this machine reaches them (while replicating they cannot say)."""
        return SlotMap.of([(s.target_url, s.slots) for s in self.shards]) if self.cluster else None

    @classmethod
    def single(cls, source_url: str, target_url: str, via: str, bridge_url: str | None = None) -> DataPlane:
        return cls((Shard(source_url, target_url, bridge_url),), via)

    @property
    def source_url(self) -> str:
        """The first source node (a cluster's nodes are discovered from any of them)."""
        return self.shards[0].source_url

    @property
    def target_url(self) -> str:
        return self.shards[0].target_url

    @property
    def bridged(self) -> bool:
        return any(shard.bridge_url for shard in self.shards)


class StartPhase(enum.StrEnum):
    PENDING = "pending"  # the service has not begun replicating yet
    REPLICATING = "replicating"  # replication runs (the initial sync may still be in progress)
    FAILED = "failed"  # the service gave up; `StartProgress.reason` says why


@dataclass
class StartProgress:
    phase: StartPhase
    reason: str = ""


@dataclass
class TargetView:
    """The target as its control plane describes it: rows about its settings plus its facts."""

    checks: list[Check] = field(default_factory=list)
    facts: ServerFacts | None = None
    # True when a row already failed so badly that nothing else can be judged (no such group).
    fatal: bool = False


class MigrationBackend(Protocol):
    """The mechanism of one target. Every method is small; none raises for a rule (the engine does)."""

    kind: str

    @property
    def poll_seconds(self) -> float:
        """Seconds between control-plane polls (ElastiCache's own waiters poll every 15 s)."""
        ...

    def current_state(self) -> MigrationState:
        """The truth about the migration (ElastiCache: the group's status; locally: the workspace)."""
        ...

    def data_plane(self) -> DataPlane | None:
        """Both servers as reachable from here, or None when there is no path (AWS without a tunnel)."""
        ...

    def endpoints(self) -> tuple[str, str]:
        """(source, target) URLs for verify and workload: the data plane, else the addresses in the VPC."""
        ...

    def source_endpoint(self) -> str:
        """host:port the target replicates from (what StartMigration is given)."""
        ...

    def describe_target(self, target_url: str | None) -> TargetView:
        """The target's rows and facts for preflight (ElastiCache's from its APIs, locally from INFO).

        `target_url` is where this machine reaches the target (None: no data-plane path).
        """
        ...

    def test_migration(self, timeout: float) -> str:
        """Ask the target side to prove it can reach the source; return what it found, or raise TestFailed."""
        ...

    def begin_replication(self, bridge: bool) -> str:
        """Start replicating the source into the target (through a bridge); return a one-line description."""
        ...

    def bridge_identity(self) -> tuple[str, str] | None:
        """(engine, version) of the bridge this target would use, None when it has none to offer."""
        ...

    def stop_bridge(self) -> None:
        """After the cut-over, the bridge has no job left: stop it where the mechanism owns it."""
        ...

    def start_progress(self, since: Any) -> StartProgress:
        """How the start requested at `since` goes, from the target's own signals (log, status, events)."""
        ...

    def abort_start(self) -> bool:
        """Undo a failed start where the mechanism allows it; True when the target is available again."""
        ...

    def promote(self, force: bool) -> None:
        """End replication and make the target take writes (REPLICAOF NO ONE / CompleteMigration)."""
        ...

    def wait_promoted(self, since: Any, timeout: float) -> str:
        """Until the promotion has taken effect; the success message, or raise CompleteFailed with why."""
        ...

    def link_without_data_plane(self) -> LinkStatus | None:
        """The link from the service's own monitoring when no data-plane path exists (None: unknown)."""
        ...

    def details(self) -> MigrationDetails:
        """Control-plane facts for status (group id and status, metrics, …)."""
        ...

    def events(self) -> list[dict[str, Any]]:
        """The migration's events, oldest first, as {"date", "message"}."""
        ...

    def clock(self) -> Any:
        """A timestamp to pass as `since` to start_progress / wait_promoted."""
        ...


@dataclass
class UpRequest:
    """Everything `migrator up` was asked; each environment uses its part and refuses options not its own."""

    auto_approve: bool = False
    confirm: Callable[[str], None] | None = None
    progress: ProgressCallback | None = None
    # local
    redis_server: str | None = None
    valkey_server: str | None = None
    bridge_server: str | None = None
    source_version: str | None = None
    target_version: str | None = None
    source_port: int | None = None
    target_port: int | None = None
    shards: int | None = None  # N >= 2: a source Redis Cluster and a target Valkey cluster of N shards
    # aws
    var_files: list[Path] = field(default_factory=list)
    region: str | None = None
    terraform_bin: str | None = None
    terraform_dir: Path | None = None
    allow_replace: bool = False  # a plan may replace the source host / target group without the question
    confirm_replace: Callable[[str], None] | None = None  # that question: asked even with --auto-approve
    no_wait_host: bool = False  # do not wait for the source host's build verdict
    host_timeout: float | None = None  # seconds to wait for it (None: the environment's default)
    stage: StageProgress | None = None  # a progress display per stage (apply, host build), one at a time

    LOCAL_OPTIONS = (
        "redis_server",
        "valkey_server",
        "bridge_server",
        "source_version",
        "target_version",
        "source_port",
        "target_port",
        "shards",
    )
    AWS_OPTIONS = (
        "var_files",
        "region",
        "terraform_bin",
        "terraform_dir",
        "allow_replace",
        "no_wait_host",
        "host_timeout",
    )

    def given(self, names: tuple[str, ...]) -> list[str]:
        """The options among `names` that were given, spelled as on the command line."""
        return ["--" + name.replace("_", "-") for name in names if getattr(self, name)]


@dataclass
class DownRequest:
    auto_approve: bool = False
    purge: bool = False
    confirm: Callable[[str], None] | None = None


@dataclass
class UpResult:
    status: EnvironmentStatus
    started: list[str] = field(default_factory=list)
    already_running: list[str] = field(default_factory=list)


class Environment(Protocol):
    """Bringing a target's environment up and down, and describing what exists."""

    kind: str

    def up(self, workspace: Workspace, request: UpRequest) -> UpResult: ...

    def down(self, workspace: Workspace, state: State | None, request: DownRequest) -> dict[str, Any]: ...

    def describe(self, workspace: Workspace, state: State) -> EnvironmentStatus: ...
