"""What the life cycle returns: typed results both targets fill the same way, rendered by the CLI."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class CheckStatus(enum.StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


OK, WARN, FAIL = CheckStatus.OK, CheckStatus.WARN, CheckStatus.FAIL


class MigrationState(enum.StrEnum):
    """ElastiCache's two steady states of a group under online migration (the rehearsal mirrors them)."""

    AVAILABLE = "available"
    MIGRATING = "migrating"


ProgressCallback = Callable[[int, int | None], None]
"""advance(by, total): library code reports progress through this; `total` may change or be None."""


@dataclass
class Check:
    name: str
    status: CheckStatus
    detail: str
    fix: str = ""


@dataclass
class PreflightReport:
    source: str
    target: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAIL]


@dataclass
class LinkStatus:
    """The target's view of replication from the source (INFO replication on the target)."""

    master_link_status: str  # "up" | "down"
    lag_bytes: int | None = None
    last_io_seconds_ago: int | None = None
    sync_in_progress: bool = False
    sync_bytes_received: int = 0
    sync_total_bytes: int | None = None
    link_down_since_seconds: int | None = None
    source_offset: int | None = None
    target_offset: int | None = None
    keys_synced: int | None = None
    source_keys: int | None = None

    @property
    def up(self) -> bool:
        return self.master_link_status == "up"

    @property
    def synced(self) -> bool:
        """The initial sync is done and the link is up."""
        return self.up and not self.sync_in_progress


@dataclass
class Resyncs:
    """The source's resync counters since it started (INFO stats)."""

    full: int
    partial_ok: int
    partial_err: int


@dataclass
class MigrationDetails:
    """Facts behind a status, named the same for both targets (None: this target cannot tell)."""

    group_id: str
    group_status: str | None = None
    source_endpoint: str = ""  # the address the target replicates from
    source_url: str | None = None  # where this machine reaches the servers (None: no data-plane path)
    target_url: str | None = None
    source_reachable: bool | None = None
    target_reachable: bool | None = None
    link_from: str = "none"  # "data-plane" (INFO replication) | "cloudwatch" | "none"
    link_down_since: str | None = None
    resyncs: Resyncs | None = None
    source_uptime_s: int | None = None
    memory_warning: str | None = None
    region: str | None = None
    member_clusters: list[str] = field(default_factory=list)
    primary_cluster: str | None = None
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    # A source that can hold hash-field TTLs (Redis 7.4+): keys holding them now, and HEXPIRE-family calls
    # since it started. A bridged migration cannot carry them (the target keeps the field, drops the TTL).
    hash_field_ttls: int | None = None
    hash_field_ttl_calls: int | None = None


@dataclass
class ShardStatus:
    """One shard's replication: the target node's link to its source primary (or its bridge)."""

    name: str
    source_url: str
    target_url: str
    slots: list[list[int]] = field(default_factory=list)
    link: LinkStatus | None = None
    bridge: LinkStatus | None = None


@dataclass
class MigrationStatus:
    state: MigrationState
    link: LinkStatus | None = None  # the target's link (every shard's, combined, for a cluster)
    events: list[dict[str, Any]] = field(default_factory=list)
    details: MigrationDetails | None = None
    bridge: LinkStatus | None = None  # source → bridge, when the migration goes through one
    shards: list[ShardStatus] = field(default_factory=list)  # a cluster's shards, one by one


@dataclass
class StartResult:
    state: MigrationState
    waited: bool
    message: str
    sync_seconds: float | None = None
    link: LinkStatus | None = None
    test_result: str | None = None  # what --test-first found
    bridge: LinkStatus | None = None


@dataclass
class CompleteResult:
    state: MigrationState
    forced: bool
    # True: the target applied the source's offset before promotion. False: not checked (--force).
    # None: left to the service (no data-plane path) and not yet confirmed.
    caught_up: bool | None
    message: str
    source_offset: int | None = None
    target_offset: int | None = None
    lag_bytes: int | None = None
    pause_ms: float | None = None
    warnings: list[str] = field(default_factory=list)
    # --pause-writes: True when the old source now refuses writes (see replication.fence_source).
    source_fenced: bool | None = None
    # --pause-writes: from the pause until the target took writes, the window in which no side accepted them.
    writes_blocked_ms: float | None = None
    bridged: bool = False


@dataclass
class VerifyOutcome:
    """The post-cut-over verify: its report, or why it could not run (the cut-over stands either way)."""

    ran: bool
    reason: str | None = None
    report: Any = None  # migrator.verify.VerifyReport when it ran

    @property
    def ok(self) -> bool | None:
        return None if self.report is None else bool(self.report.ok)


@dataclass
class EnvironmentStatus:
    """`migrator status`: what exists. Shape fixed by SPEC.md."""

    target_kind: str
    source: dict[str, Any]
    target: dict[str, Any]
    migration: dict[str, Any]
