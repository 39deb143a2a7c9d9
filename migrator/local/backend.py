"""The local target: a Redis source and a Valkey target on loopback, migrated with REPLICAOF.

States and error names mirror ElastiCache's so the rehearsal predicts AWS: available → migrating (start)
→ available (complete); start while migrating fails with ReplicationGroupAlreadyUnderMigrationFault,
complete while not migrating with ReplicationGroupNotUnderMigrationFault.
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from migrator import errors, preflight, replication
from migrator.endpoints import Endpoint, connect
from migrator.errors import MigratorError
from migrator.lifecycle import (
    FAIL,
    OK,
    Check,
    CompleteResult,
    EnvironmentStatus,
    LinkStatus,
    MigrationStatus,
    PreflightReport,
    StartResult,
)
from migrator.local import processes
from migrator.local.processes import LOOPBACK, ServerSpec
from migrator.render import ProgressCallback
from migrator.state import ServerRecord, State, Workspace

if TYPE_CHECKING:
    import redis

ROLES = ("source", "target")
BINARIES = {"source": "redis-server", "target": "valkey-server"}
GROUP_NAME = "local"
CATCH_UP_AFTER_SYNC = 10.0


def _spec(workspace: Workspace, record: ServerRecord) -> ServerSpec:
    return ServerSpec(
        record.role,
        record.binary,
        record.port,
        workspace.server_dir(record.role),
        workspace.logs_dir / f"{record.role}.log",
    )


def _url(record: ServerRecord) -> str:
    return Endpoint(LOOPBACK, record.port).url


@dataclass
class UpResult:
    status: EnvironmentStatus
    started: list[str] = field(default_factory=list)
    already_running: list[str] = field(default_factory=list)


def up(
    workspace: Workspace,
    *,
    redis_server: str | None = None,
    valkey_server: str | None = None,
    source_port: int | None = None,
    target_port: int | None = None,
) -> UpResult:
    """Start what is not running; re-establish replication when the saved state is `migrating`."""
    state = workspace.load()
    if state is not None and state.target_kind != "local":
        raise MigratorError(
            f"workspace {workspace.path} holds an {state.target_kind} environment",
            "run `migrator down` first, or use another --workspace",
            "WrongTarget",
        )
    state = state or State(target_kind="local")
    wanted = {"source": (redis_server, source_port), "target": (valkey_server, target_port)}
    # Resolve every binary before starting anything, so a missing one leaves nothing half-started.
    binaries = {role: processes.resolve_binary(BINARIES[role], wanted[role][0]) for role in ROLES}
    result = UpResult(status=None)  # type: ignore[arg-type]
    started: list[tuple[ServerSpec, int]] = []
    try:
        for role in ROLES:
            record = state.servers.get(role)
            if record and processes.is_ours(record.pid, _spec(workspace, record)):
                result.already_running.append(role)
                continue
            taken = {r.port for r in state.servers.values()}
            port = record.port if record else (wanted[role][1] or processes.free_port(taken=taken))
            binary = record.binary if record and not wanted[role][0] else binaries[role]
            record = ServerRecord(role, binary, port, version=processes.binary_version(binary))
            spec = _spec(workspace, record)
            record.pid = processes.start(spec)
            started.append((spec, record.pid))
            state.servers[role] = record
            result.started.append(role)
    except MigratorError:
        for spec, pid in started:
            processes.stop(pid, spec)
        raise
    if result.started:
        state.add_event(f"Started local {', '.join(result.started)}")
    workspace.save(state)
    if state.migration_state == "migrating" and result.started:
        _replicate(state)
        state.add_event("Re-established replication after restart")
        workspace.save(state)
    result.status = describe(workspace, state)
    return result


def _replicate(state: State) -> None:
    target = connect(_url(state.servers["target"]), "target")
    try:
        target.replicaof(LOOPBACK, state.servers["source"].port)
    finally:
        target.close()


def down(workspace: Workspace, *, purge: bool = False) -> dict[str, object]:
    """Stop exactly the processes this workspace started; keep logs unless `purge`."""
    state = workspace.load()
    if state is None:
        if purge and workspace.path.exists():
            shutil.rmtree(workspace.path)
        return {"stopped": [], "message": "nothing to stop"}
    if state.target_kind != "local":
        raise MigratorError(
            "this workspace holds an aws environment", "run `migrator down` (target aws)", "WrongTarget"
        )
    stopped, stale = [], []
    for role, record in state.servers.items():
        spec = _spec(workspace, record)
        (stopped if processes.stop(record.pid, spec) else stale).append(role)
        shutil.rmtree(spec.workdir, ignore_errors=True)
    if purge:
        shutil.rmtree(workspace.path, ignore_errors=True)
    else:
        workspace.remove_state()
    message = f"stopped {', '.join(stopped)}" if stopped else "nothing to stop"
    if stale:
        message += f" (already gone: {', '.join(stale)})"
    return {"stopped": stopped, "already_gone": stale, "purged": purge, "message": message}


def _server_view(record: ServerRecord | None, workspace: Workspace) -> dict[str, object]:
    if record is None:
        return {"url": None, "version": None, "role": None, "running": False}
    running = processes.is_ours(record.pid, _spec(workspace, record))
    role = None
    if running:
        with contextlib.suppress(MigratorError):
            client = connect(_url(record), record.role, timeout=2)
            role = client.info("replication").get("role")
            client.close()
    return {
        "url": _url(record),
        "version": record.version,
        "role": role,
        "running": running,
        "pid": record.pid,
        "port": record.port,
    }


def describe(workspace: Workspace, state: State) -> EnvironmentStatus:
    target = _server_view(state.servers.get("target"), workspace)
    target["reader_url"] = target["url"]
    return EnvironmentStatus(
        target_kind="local",
        source=_server_view(state.servers.get("source"), workspace),
        target=target,
        migration={"state": state.migration_state, "workspace": str(workspace.path)},
    )


def _try_connect(url: str, role: str) -> redis.Redis | None:
    try:
        return connect(url, role, timeout=2)
    except MigratorError:
        return None


def _fault_details(source: redis.Redis | None, target: redis.Redis | None, link: LinkStatus) -> dict:
    """What a fault looks like while it happens: link down since when, resyncs, a restarted source."""
    import time

    details: dict[str, object] = {"link_down_since": None}
    if link.master_link_status != "up" and link.link_down_since_seconds is not None:
        since = time.time() - link.link_down_since_seconds
        details["link_down_since"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since))
    if source is not None:
        details["resyncs"] = replication.resync_counts(source)
        details["source_uptime_s"] = int(source.info("server").get("uptime_in_seconds", 0))
    if target is not None:
        over = replication.memory_over_limit(target)
        details["memory_warning"] = over.describe("now") if over else None
    return details


class LocalMigration:
    """The Migration interface over the two local processes."""

    def __init__(self, workspace: Workspace, state: State) -> None:
        self.workspace = workspace
        self.state = state
        for role in ROLES:
            if role not in state.servers:
                raise MigratorError(f"the local {role} is not set up", "run `migrator up`", "NoEnvironment")

    def endpoints(self) -> tuple[str, str]:
        return _url(self.state.servers["source"]), _url(self.state.servers["target"])

    def _clients(self) -> tuple[redis.Redis, redis.Redis]:
        source_url, target_url = self.endpoints()
        return connect(source_url, "source"), connect(target_url, "target")

    def _save(self, event: str, migration_state: str | None = None) -> None:
        if migration_state:
            self.state.migration_state = migration_state
        self.state.add_event(event)
        self.workspace.save(self.state)

    def preflight(self, source_url: str | None = None, target_url: str | None = None) -> PreflightReport:
        default_source, default_target = self.endpoints()
        report = preflight.pair_report(source_url or default_source, target_url or default_target)
        if self.state.migration_state == "migrating":
            report.checks.insert(
                0,
                Check(
                    "target_state",
                    FAIL,
                    "target is already migrating",
                    "run `migrator migrate complete` or `status`",
                ),
            )
        else:
            report.checks.insert(0, Check("target_state", OK, "target is available"))
        return report

    def start(
        self,
        wait: bool = False,
        timeout: float = 600.0,
        test_first: bool = False,
        progress: ProgressCallback | None = None,
    ) -> StartResult:
        if self.state.migration_state == "migrating":
            raise MigratorError(
                "the target is already migrating",
                "check `migrator migrate status`, or `migrate complete` to finish",
                errors.ALREADY_MIGRATING,
            )
        # Like StartMigration, refuse a pair that cannot work, before changing anything.
        report = self.preflight()
        if not report.ok:
            first = report.failed()[0]
            raise MigratorError(f"preflight failed: {first.detail}", first.fix, "PreflightFailed")
        if test_first:
            self._save("Test migration succeeded (preflight passed)")
        source, target = self._clients()
        try:
            target.replicaof(LOOPBACK, self.state.servers["source"].port)
            self._save("Migration started", "migrating")
            if not wait:
                return StartResult(
                    "migrating", False, "replication requested; follow `migrator migrate status`"
                )
            return self._wait_established(source, target, timeout, progress)
        finally:
            source.close()
            target.close()

    def _wait_established(
        self, source: redis.Redis, target: redis.Redis, timeout: float, progress: ProgressCallback | None
    ) -> StartResult:
        import time

        begun = time.monotonic()
        seen = [0]

        def on_poll(link: replication.LinkStatus) -> None:
            if progress and link.sync_bytes_received > seen[0]:
                progress(link.sync_bytes_received - seen[0], link.sync_total_bytes)
                seen[0] = link.sync_bytes_received

        try:
            link = replication.wait_for_link(target, timeout, self._sync_failure, on_poll)
            # Writes made during the sync reach the target only after its load: count them in too.
            left = max(1.0, timeout - (time.monotonic() - begun))
            replication.wait_for_catch_up(source, target, min(left, CATCH_UP_AFTER_SYNC), moving_source=True)
            self._refuse_over_maxmemory(target, "after the initial sync", "TargetOutOfMemory")
        except MigratorError as err:
            # ElastiCache returns a failed start to `available` with an event; so does the rehearsal.
            with contextlib.suppress(Exception):
                target.replicaof("NO", "ONE")
            self._save(f"Failed to start migration: {err.message}", "available")
            raise
        link = replication.read_link(source, target)
        seconds = round(time.monotonic() - begun, 2)
        self._save(f"Replication established in {seconds}s")
        return StartResult("migrating", True, "initial sync done; the link is up", seconds, link)

    def _sync_failure(self) -> str | None:
        """A fatal sync error from the target's log (e.g. it cannot hold the dataset)."""
        log = self.workspace.logs_dir / "target.log"
        try:
            tail = log.read_text(errors="replace")[-4000:]
        except OSError:
            return None
        for marker, reason in (
            ("OOM", "target ran out of memory during the sync (maxmemory too small for the dataset)"),
            ("Can't handle RDB format version", "target refused the source's RDB format version"),
        ):
            after = tail.split(marker)[-1]
            # Redis and Valkey < 8 say MASTER, Valkey 8 says PRIMARY.
            if marker in tail and "REPLICA sync: Finished with success" not in after:
                return reason
        return None

    def _refuse_over_maxmemory(self, target: redis.Redis, when: str, code: str) -> None:
        over = replication.memory_over_limit(target)
        if over is not None:
            raise MigratorError(
                over.describe(when),
                "raise the target's maxmemory (on AWS: a larger node type), then run the migration again",
                code,
            )

    def status(self) -> MigrationStatus:
        """Report, never fail: an unreachable source or target is part of the answer (exit 0)."""
        source_url, target_url = self.endpoints()
        source, target = _try_connect(source_url, "source"), _try_connect(target_url, "target")
        details: dict[str, object] = {
            "source_url": source_url,
            "target_url": target_url,
            "source_reachable": source is not None,
            "target_reachable": target is not None,
        }
        link = None
        try:
            if self.state.migration_state == "migrating":
                link = replication.read_link(source, target) if target else LinkStatus("down")
                details.update(_fault_details(source, target, link))
        finally:
            for client in (source, target):
                if client is not None:
                    client.close()
        return MigrationStatus(self.state.migration_state, link, self.state.events[-10:], details)

    def complete(
        self,
        force: bool = False,
        wait: bool = True,
        timeout: float = 60.0,
        pause_writes: bool = False,
        fence_source: bool = True,
    ) -> CompleteResult:
        if self.state.migration_state != "migrating":
            raise MigratorError(
                "the target is not migrating", "run `migrator migrate start` first", errors.NOT_MIGRATING
            )
        source, target = self._clients_for_complete(force)
        try:
            return self._complete(source, target, force, timeout, pause_writes, fence_source)
        finally:
            for client in (source, target):
                if client is not None:
                    client.close()

    def _clients_for_complete(self, force: bool) -> tuple[redis.Redis | None, redis.Redis]:
        source_url, target_url = self.endpoints()
        target = connect(target_url, "target")
        try:
            return connect(source_url, "source", timeout=2), target
        except MigratorError as err:
            if not force:
                target.close()
                raise MigratorError(
                    f"cannot cut over safely: {err.message}",
                    "bring the source back (`migrator up`), or --force to promote anyway",
                    "LinkDown",
                ) from None
            return None, target

    def _complete(
        self,
        source: redis.Redis | None,
        target: redis.Redis,
        force: bool,
        timeout: float,
        pause_writes: bool,
        fence_source: bool,
    ) -> CompleteResult:
        link = replication.read_link(source, target)
        warnings: list[str] = []

        def promote() -> None:
            target.replicaof("NO", "ONE")

        if force:
            offset = link.target_offset
            promote()
            source_at = "unreachable" if link.source_offset is None else f"at {link.source_offset}"
            warnings.append(
                f"forced: promoted without the in-sync check; data after offset {offset} "
                f"may be missing (source {source_at})"
            )
            self._save("Complete Migration successful (forced)", "available")
            return CompleteResult(
                "available",
                True,
                False,
                "promoted without waiting (--force)",
                link.source_offset,
                offset,
                link.lag_bytes,
                None,
                warnings,
            )
        if link.master_link_status != "up":
            raise MigratorError(
                f"the replication link is down (for {link.link_down_since_seconds}s); "
                f"the target has offset {link.target_offset}, the source {link.source_offset}",
                "fix the link (`migrator migrate status`), or --force to promote and accept the loss",
                "LinkDown",
            )
        assert source is not None
        self._refuse_over_maxmemory(target, "now", "TargetOutOfMemory")
        pause_ms = fenced = None
        if pause_writes:
            cut = replication.paused_cut_over(source, target, timeout, promote, fence_source)
            catch_up, pause_ms, fenced = cut.catch_up, cut.pause_ms, cut.source_fenced
            if fenced is False:
                warnings.append(replication.FENCE_FAILED)
        else:
            catch_up = replication.wait_for_catch_up(source, target, timeout, moving_source=True)
            if catch_up.caught_up:
                promote()
                warnings.append(
                    "writes that reach the source after promotion are lost: point clients at the "
                    "target now, or use --pause-writes"
                )
        if not catch_up.caught_up:
            raise MigratorError(
                f"target did not catch up within {timeout:.0f}s: lag {catch_up.lag_bytes} bytes "
                f"(source offset {catch_up.source_offset}, target {catch_up.target_offset}); not promoted",
                "raise --timeout, reduce write load, or --force",
                "CatchUpTimeout",
            )
        self._save("Complete Migration successful", "available")
        return CompleteResult(
            "available",
            False,
            True,
            "caught up and promoted",
            catch_up.source_offset,
            catch_up.target_offset,
            catch_up.lag_bytes,
            pause_ms,
            warnings,
            fenced,
        )
