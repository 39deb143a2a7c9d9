"""Reading and waiting on a replication link from both ends (INFO replication), for any reachable target."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from migrator.errors import Code, MigratorError
from migrator.lifecycle.results import LinkStatus

if TYPE_CHECKING:
    import redis

POLL_SECONDS = 0.05


def _keys(client: redis.Redis) -> int:
    return sum(
        int(db.get("keys", 0)) for name, db in client.info("keyspace").items() if name.startswith("db")
    )


def processed_offset(info: dict[str, Any]) -> int | None:
    """The replication offset a replica has applied (slave_repl_offset), None when not a replica."""
    value = info.get("slave_repl_offset", info.get("replica_repl_offset"))
    return None if value is None else int(value)


def read_link(source: redis.Redis | None, target: redis.Redis) -> LinkStatus:
    """The link as the target sees it, with lag against the source's offset when the source is reachable."""
    info = target.info("replication")
    sync = bool(info.get("master_sync_in_progress"))
    link = LinkStatus(
        master_link_status=str(info.get("master_link_status", "down")),
        last_io_seconds_ago=_int_or_none(info.get("master_last_io_seconds_ago")),
        sync_in_progress=sync,
        sync_bytes_received=int(info.get("master_sync_read_bytes", 0) or 0),
        sync_total_bytes=_int_or_none(info.get("master_sync_total_bytes")),
        link_down_since_seconds=_int_or_none(info.get("master_link_down_since_seconds")),
        target_offset=processed_offset(info),
        keys_synced=_keys(target),
    )
    if source is not None:
        source_info = source.info("replication")
        link.source_offset = int(source_info.get("master_repl_offset", 0))
        link.source_keys = _keys(source)
        if link.target_offset is not None and link.master_link_status == "up" and not sync:
            link.lag_bytes = max(0, link.source_offset - link.target_offset)
    return link


def _int_or_none(value: Any) -> int | None:
    if value is None:
        return None
    number = int(value)
    return None if number < 0 else number


def wait_for_link(
    target: redis.Redis,
    timeout: float,
    failure: Callable[[], str | None] | None = None,
    on_poll: Callable[[LinkStatus], None] | None = None,
) -> LinkStatus:
    """Wait until the initial sync is done and the link is up; `failure()` names a fatal condition early."""
    deadline = time.monotonic() + timeout
    while True:
        link = read_link(None, target)
        if on_poll:
            on_poll(link)
        if link.master_link_status == "up" and not link.sync_in_progress:
            return link
        reason = failure() if failure else None
        if reason:
            raise MigratorError(
                reason, "fix the cause and run `migrator migrate start` again", Code.MIGRATION_FAILED
            )
        if time.monotonic() >= deadline:
            raise MigratorError(
                f"replication not established within {timeout:.0f}s (link {link.master_link_status}, "
                f"sync {'in progress' if link.sync_in_progress else 'not started'})",
                "check the target's log and `migrator migrate status`; raise --timeout for large datasets",
                Code.MIGRATION_TIMEOUT,
            )
        time.sleep(POLL_SECONDS)


@dataclass
class CatchUp:
    caught_up: bool
    source_offset: int
    target_offset: int | None

    @property
    def lag_bytes(self) -> int | None:
        return None if self.target_offset is None else max(0, self.source_offset - self.target_offset)


def wait_for_catch_up(
    source: redis.Redis, target: redis.Redis, timeout: float, moving_source: bool, poll: float = POLL_SECONDS
) -> CatchUp:
    """Wait until the target has applied the source's offset.

    With writes paused the source offset is frozen and we wait for equality with its current value; with
    writes flowing we wait for the offset read at the start, since the source never stops moving.
    """
    deadline = time.monotonic() + timeout
    goal = int(source.info("replication")["master_repl_offset"])
    while True:
        if not moving_source:
            goal = int(source.info("replication")["master_repl_offset"])
        info = target.info("replication")
        offset = processed_offset(info)
        if info.get("master_link_status") == "up" and offset is not None and offset >= goal:
            return CatchUp(True, goal, offset)
        if time.monotonic() >= deadline:
            return CatchUp(False, goal, offset)
        time.sleep(poll)


FENCE_FAILED = (
    "could not fence the old source (CONFIG refused, or a replica still connected): writes that reach it "
    "now are lost — point clients at the target"
)


PROMOTE_BUDGET = 30.0  # seconds writes may stay paused after catch-up, for promotion and fencing


def _pause_writes(source: redis.Redis, seconds: float) -> None:
    source.execute_command("CLIENT", "PAUSE", int(seconds * 1000), "WRITE")


@dataclass
class CatchUps:
    """Every shard's catch-up (one for a single server)."""

    each: list[CatchUp]

    @property
    def caught_up(self) -> bool:
        return all(c.caught_up for c in self.each)

    @property
    def source_offset(self) -> int | None:
        return self.each[0].source_offset if len(self.each) == 1 else None

    @property
    def target_offset(self) -> int | None:
        return self.each[0].target_offset if len(self.each) == 1 else None

    @property
    def lag_bytes(self) -> int | None:
        lags = [c.lag_bytes for c in self.each]
        return None if None in lags else sum(lag for lag in lags if lag is not None)


Pair = tuple["redis.Redis", "redis.Redis"]  # (source primary, the target node replicating it)


def wait_all_caught_up(pairs: Sequence[Pair], timeout: float, moving_source: bool) -> CatchUps:
    """wait_for_catch_up for every (source, target) pair within one deadline."""
    deadline = time.monotonic() + timeout
    return CatchUps(
        [
            wait_for_catch_up(source, target, max(0.0, deadline - time.monotonic()), moving_source)
            for source, target in pairs
        ]
    )


@dataclass
class PausedCutOver:
    catch_up: CatchUps
    pause_ms: float
    # True: the old source now refuses writes; False: fencing failed; None: not asked for / not promoted.
    source_fenced: bool | None = None
    # From the pause until promotion returned: no side accepted writes in this window.
    writes_blocked_ms: float | None = None


def fence_source(source: redis.Redis, deadline: float) -> bool:
    """Make the old source refuse writes once the promoted target has left it.

    With min-replicas-to-write 1 the source needs a connected replica to accept a write; after promotion it
    has none, so writes queued behind the pause fail with NOREPLICAS instead of landing where no replica
    will ever see them. Waits (until `deadline`) for the source to count no good replica.
    """
    import redis

    try:
        source.config_set("min-replicas-to-write", 1)
    except redis.ResponseError:
        return False  # CONFIG renamed or refused: the caller warns
    while True:
        info = source.info("replication")
        if int(info.get("min_slaves_good_slaves", info.get("connected_slaves", 0))) == 0:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)


def paused_cut_over(
    pairs: Sequence[Pair],
    timeout: float,
    promote: Callable[[], None],
    fence: bool = True,
    detach: Callable[[], None] | None = None,
) -> PausedCutOver:
    """CLIENT PAUSE WRITE on every source, wait for equal offsets, promote, detach, fence, always un-pause.

    `detach` runs between promotion and fencing: a bridge still attached to a source counts as a good replica
    and would defeat the fence. The server lifts the pause by itself (`timeout` + 1 s, then at most
    PROMOTE_BUDGET after catch-up) even if this process dies, so a crashed tool never leaves the
    application paused for long.
    """
    sources = [source for source, _ in pairs]
    started = time.monotonic()
    fenced = blocked = None
    for source in sources:
        _pause_writes(source, timeout + 1)
    try:
        catch_up = wait_all_caught_up(pairs, timeout, moving_source=False)
        if catch_up.caught_up:
            # Re-arm the pause so it cannot lapse while promotion (an API call on AWS) and fencing run.
            for source in sources:
                _pause_writes(source, PROMOTE_BUDGET)
            promote()
            blocked = round((time.monotonic() - started) * 1000, 1)
            if detach is not None:
                detach()
            if fence:
                deadline = time.monotonic() + PROMOTE_BUDGET / 2
                fenced = all([fence_source(source, deadline) for source in sources])
    finally:
        for source in sources:
            source.execute_command("CLIENT", "UNPAUSE")
        pause_ms = (time.monotonic() - started) * 1000
    return PausedCutOver(catch_up, round(pause_ms, 1), fenced, blocked)


def resync_counts(source: redis.Redis) -> dict[str, int]:
    """The source's resync counters since it started: full syncs and partial resyncs (ok / refused)."""
    stats = source.info("stats")
    return {
        "full": int(stats.get("sync_full", 0)),
        "partial_ok": int(stats.get("sync_partial_ok", 0)),
        "partial_err": int(stats.get("sync_partial_err", 0)),
    }


@dataclass
class MemoryOverLimit:
    used: int
    maxmemory: int

    def describe(self, when: str) -> str:
        mib = 1024 * 1024
        return (
            f"target uses {self.used / mib:.1f} MiB {when}, over its maxmemory of {self.maxmemory / mib:.1f} "
            "MiB: once promoted it would refuse writes (OOM)"
        )


def memory_over_limit(target: redis.Redis) -> MemoryOverLimit | None:
    """A replica ignores maxmemory while it syncs (replica-ignore-maxmemory), so check it ourselves."""
    info = target.info("memory")
    used, limit = int(info.get("used_memory", 0)), int(info.get("maxmemory", 0))
    return MemoryOverLimit(used, limit) if 0 < limit < used else None
