"""The life-cycle engine: one start gate and one cut-over, the same rules for the rehearsal and ElastiCache.

Every decision lives here — what is checked before StartMigration, what refuses a cut-over, what is waited
for, what is warned about and which error code is raised. A backend (`protocol.MigrationBackend`) only
says how: REPLICAOF locally, the ElastiCache API on AWS. So the rehearsal predicts AWS by construction.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from migrator import preflight, replication
from migrator.errors import Code, MigratorError
from migrator.lifecycle.protocol import DataPlane, MigrationBackend, StartPhase
from migrator.lifecycle.results import (
    FAIL,
    OK,
    WARN,
    Check,
    CompleteResult,
    LinkStatus,
    MigrationDetails,
    MigrationState,
    MigrationStatus,
    PreflightReport,
    ProgressCallback,
    Resyncs,
    StartResult,
    VerifyOutcome,
)

if TYPE_CHECKING:
    import redis

    from migrator.state import State, Workspace

CATCH_UP_AFTER_SYNC = 10.0  # writes made during the initial sync: give the target this long to apply them
DATA_POLL_SECONDS = 0.05  # INFO replication is cheap: poll the data plane often, the control plane gently
COMPLETE_WAIT_SECONDS = 1800.0  # ElastiCache's promotion takes minutes, unlike the catch-up
FORCE_MEANS = (
    "--force: promoted without ensuring the data is in sync (CompleteMigration's Force; AWS recommends it "
    "only to abort a migration)"
)
LOST_AFTER_PROMOTION = (
    "writes that reach the source after promotion are lost: point clients at the target now, "
    "or use --pause-writes"
)
NO_DATA_PLANE = (
    "no data-plane path from here (on AWS: `migrator tunnel`): the source's settings were not checked "
    "(AUTH, protected-mode, renamed commands, databases, memory, RDB format)"
)
NO_DATA_PLANE_FIX = "run `migrator tunnel` in another terminal (or pass --source/--target URLs), then re-run"


class Migration:
    """The Migration interface the CLI calls, over any backend."""

    def __init__(self, workspace: Workspace, state: State, backend: MigrationBackend) -> None:
        self.workspace = workspace
        self.state = state
        self.backend = backend

    # ---- state ---------------------------------------------------------------------------------------------
    def _record(self, event: str, migration_state: MigrationState | None = None) -> None:
        """Persist an event (and a new state) under the workspace lock, keeping what others saved."""

        def change(state: State) -> None:
            if migration_state is not None:
                state.migration_state = migration_state.value
            state.add_event(event)

        self.state = self.workspace.update(change)

    def current_state(self) -> MigrationState:
        """The backend's truth; the workspace follows it (ElastiCache may have moved on by itself)."""
        truth = self.backend.current_state()
        if truth.value != self.state.migration_state:
            self._record(f"state is {truth.value} (reported by the {self.backend.kind} target)", truth)
        return truth

    def endpoints(self) -> tuple[str, str]:
        """(source URL, target URL) reachable from where the tool runs, for verify and workload."""
        return self.backend.endpoints()

    # ---- preflight -----------------------------------------------------------------------------------------
    def preflight(self, source_url: str | None = None, target_url: str | None = None) -> PreflightReport:
        plane = self.backend.data_plane()
        source_url = source_url or (plane.source_url if plane else None)
        target_url = target_url or (plane.target_url if plane else None)
        default_source, default_target = self.endpoints()
        if source_url and target_url:
            preflight.refuse_same_server(source_url, target_url)
        report = PreflightReport(source=source_url or default_source, target=target_url or default_target)
        target = self.backend.describe_target(target_url)
        if target.fatal:  # e.g. no such group: nothing else can be judged
            report.checks.extend(target.checks)
            return report
        if self.current_state() is MigrationState.MIGRATING:
            report.checks.append(
                Check(
                    "target_state",
                    FAIL,
                    "the target is already migrating",
                    "follow it with `migrator migrate status`, or finish it with `migrator migrate complete`",
                )
            )
        else:
            report.checks.append(Check("target_state", OK, "the target is available"))
        report.checks.extend(target.checks)
        if source_url is None:
            report.checks.append(Check("source_reachable", WARN, NO_DATA_PLANE, NO_DATA_PLANE_FIX))
            return report
        rows, source = preflight.source_checks(source_url)
        report.checks.extend(rows)
        if source is not None and target.facts is not None:
            report.checks.extend(preflight.pair_checks(source, target.facts))
        return report

    # ---- start ---------------------------------------------------------------------------------------------
    def start(
        self,
        wait: bool = False,
        timeout: float = 600.0,
        test_first: bool = False,
        progress: ProgressCallback | None = None,
    ) -> StartResult:
        if self.current_state() is MigrationState.MIGRATING:
            raise MigratorError(
                "the target is already migrating",
                "follow it with `migrator migrate status`, or finish it with `migrator migrate complete`",
                Code.ALREADY_MIGRATING,
            )
        # Refuse a pair that cannot work before anything changes, on both targets.
        report = self.preflight()
        if not report.ok:
            first = report.failed()[0]
            raise MigratorError(
                f"preflight failed ({first.name}): {first.detail}", first.fix, Code.PREFLIGHT_FAILED
            )
        test_result = None
        if test_first:
            test_result = self.backend.test_migration(timeout)
            self._record(f"Test migration succeeded: {test_result}")
        since = self.backend.clock()
        how = self.backend.begin_replication()
        self._record(f"Migration started: {how}", MigrationState.MIGRATING)
        if not wait:
            return StartResult(
                MigrationState.MIGRATING,
                False,
                f"{how}; follow it with `migrator migrate status`",
                test_result=test_result,
            )
        result = self._wait_established(since, timeout, progress)
        result.test_result = test_result
        return result

    def _wait_established(
        self, since: object, timeout: float, progress: ProgressCallback | None
    ) -> StartResult:
        """Until the initial sync is done (seen on the data plane when there is one) and caught up."""
        begun = time.monotonic()
        deadline = begun + timeout
        next_control = begun
        phase = self.backend.start_progress(since)
        seen_bytes = 0
        with self._clients() as (plane, source, target):
            if plane is not None and target is None:
                raise MigratorError(
                    f"cannot watch the initial sync: the target at {plane.target_url} does not answer; "
                    "the migration goes on",
                    "follow it with `migrator migrate status --watch`",
                    Code.UNREACHABLE,
                )
            while True:
                now = time.monotonic()
                if now >= next_control:
                    phase = self.backend.start_progress(since)
                    next_control = now + self.backend.poll_seconds
                if phase.phase is StartPhase.FAILED:
                    self._fail_start(phase.reason, Code.MIGRATION_FAILED)
                link = None
                if phase.phase is StartPhase.REPLICATING:
                    if target is None:
                        break  # no data plane: the service says it replicates, which is all we can know
                    link = replication.read_link(None, target)
                    if progress and link.sync_bytes_received > seen_bytes:
                        progress(link.sync_bytes_received - seen_bytes, link.sync_total_bytes)
                        seen_bytes = link.sync_bytes_received
                    if link.synced:
                        break
                if now >= deadline:
                    where = f"link {link.master_link_status}" if link else f"the target is {phase.phase}"
                    raise MigratorError(
                        f"replication not established within {timeout:.0f}s ({where}); it goes on",
                        "follow it with `migrator migrate status --watch`; raise --timeout for big datasets",
                        Code.MIGRATION_TIMEOUT,
                    )
                time.sleep(min(DATA_POLL_SECONDS, self.backend.poll_seconds))
            link = None
            if source is not None and target is not None:
                left = max(1.0, deadline - time.monotonic())
                replication.wait_for_catch_up(
                    source, target, min(left, CATCH_UP_AFTER_SYNC), moving_source=True
                )
                over = replication.memory_over_limit(target)
                if over is not None:
                    self._fail_start(over.describe("after the initial sync"), Code.TARGET_OUT_OF_MEMORY)
                link = replication.read_link(source, target)
        seconds = round(time.monotonic() - begun, 2)
        self._record(f"Replication established in {seconds}s")
        message = (
            "initial sync done; the link is up"
            if link
            else "the target reports migrating; open `migrator tunnel` to see the link itself"
        )
        return StartResult(MigrationState.MIGRATING, True, message, seconds, link)

    def _fail_start(self, reason: str, code: Code) -> None:
        """ElastiCache returns a failed start to `available` with an event; so does the rehearsal."""
        reverted = self.backend.abort_start()
        self._record(f"Failed to start migration: {reason}", MigrationState.AVAILABLE if reverted else None)
        hint = (
            "fix the cause (`migrator migrate preflight`) and run `migrator migrate start` again"
            if reverted
            else "the target still replicates: end it with `migrator migrate complete --force`, fix the "
            "cause, then start again"
        )
        if code is Code.TARGET_OUT_OF_MEMORY:
            hint = "raise the target's maxmemory (on AWS: a larger node type); " + hint
        raise MigratorError(reason, hint, code)

    # ---- status --------------------------------------------------------------------------------------------
    def status(self) -> MigrationStatus:
        """Report, never fail: an unreachable source or target is part of the answer (exit 0)."""
        state = self.current_state()
        details = self.backend.details()
        details.source_endpoint = self.backend.source_endpoint()
        link = None
        plane = self.backend.data_plane()
        if plane is not None:
            details.source_url, details.target_url = plane.source_url, plane.target_url
            details.link_from = "data-plane"
            source = _try_connect(plane.source_url, "source")
            target = _try_connect(plane.target_url, "target")
            details.source_reachable, details.target_reachable = source is not None, target is not None
            try:
                if state is MigrationState.MIGRATING:
                    link = replication.read_link(source, target) if target else LinkStatus("down")
                    _add_fault_details(details, source, target, link)
            finally:
                for client in (source, target):
                    if client is not None:
                        client.close()
        elif state is MigrationState.MIGRATING:
            link = self.backend.link_without_data_plane()
            details.link_from = "cloudwatch" if link else "none"
        return MigrationStatus(state, link, self.backend.events()[-20:], details)

    # ---- complete ------------------------------------------------------------------------------------------
    def complete(
        self,
        force: bool = False,
        wait: bool = True,
        timeout: float = 60.0,
        pause_writes: bool = False,
        fence_source: bool = True,
    ) -> CompleteResult:
        # The state comes first: a second complete says "not under migration", not "link down".
        if self.current_state() is not MigrationState.MIGRATING:
            raise MigratorError(
                "the target is not migrating, so there is nothing to complete",
                "start one with `migrator migrate start`",
                Code.NOT_MIGRATING,
            )
        with self._clients() as (plane, source, target):
            if plane is not None and not force:
                if target is None:
                    raise MigratorError(
                        f"cannot reach the target at {plane.target_url}",
                        "check it runs (`migrator status`) and the tunnel on AWS, or --force",
                        Code.UNREACHABLE,
                    )
                if source is None:
                    raise MigratorError(
                        f"cannot cut over safely: the source at {plane.source_url} does not answer",
                        "bring the source back (the rehearsal: `migrator up`), or --force to promote anyway",
                        Code.LINK_DOWN,
                    )
            if target is not None:
                link: LinkStatus | None = replication.read_link(source, target)
            else:
                link = self.backend.link_without_data_plane()
            since = self.backend.clock()
            if force:
                result = self._forced(link)
            else:
                result = self._checked_cut_over(source, target, link, timeout, pause_writes, fence_source)
        return self._finish(result, since, wait)

    def _forced(self, link: LinkStatus | None) -> CompleteResult:
        self._promote(force=True)
        if link is None:
            detail = "lag unknown: no data-plane path"
        elif link.lag_bytes is not None:
            detail = f"the target was {link.lag_bytes} bytes behind"
        elif link.target_offset is None:
            detail = f"link {link.master_link_status}; the lag is unknown without a data-plane path"
        else:
            source_at = "unreachable" if link.source_offset is None else f"at offset {link.source_offset}"
            detail = f"link {link.master_link_status}, source {source_at}"
        if link is not None and link.target_offset is not None:
            missing = f"data after offset {link.target_offset} may be missing"
        else:
            missing = "whatever the target had not received is missing"
        return CompleteResult(
            MigrationState.MIGRATING,
            True,
            False,
            "promoted without the in-sync check (--force)",
            link.source_offset if link else None,
            link.target_offset if link else None,
            link.lag_bytes if link else None,
            warnings=[f"{FORCE_MEANS}: {missing} ({detail})"],
        )

    def _checked_cut_over(
        self,
        source: redis.Redis | None,
        target: redis.Redis | None,
        link: LinkStatus | None,
        timeout: float,
        pause_writes: bool,
        fence_source: bool,
    ) -> CompleteResult:
        if link is None:
            raise MigratorError(
                "the replication link's state is unknown (no data-plane path, no health metric yet): "
                "completing now could lose writes the target has not received",
                NO_DATA_PLANE_FIX.replace("then re-run", "then complete") + ", or --force to cut over anyway",
                Code.LINK_UNKNOWN,
            )
        if not link.up:
            down_for = f" (for {link.link_down_since_seconds}s)" if link.link_down_since_seconds else ""
            raise MigratorError(
                f"the replication link is down{down_for}; the target has offset {link.target_offset}, "
                f"the source {link.source_offset}: completing now loses what the target has not received",
                "fix the link (`migrator migrate status`), or --force to promote and accept the loss",
                Code.LINK_DOWN,
            )
        if source is None or target is None:
            if pause_writes:
                raise MigratorError(
                    "--pause-writes needs the source reachable from here",
                    NO_DATA_PLANE_FIX,
                    Code.DATA_PLANE_REQUIRED,
                )
            # Without Force, CompleteMigration itself refuses a target that is not in sync.
            self._promote(force=False)
            return CompleteResult(
                MigrationState.MIGRATING,
                False,
                None,
                "promotion requested; the in-sync check is the service's (no data-plane path)",
                warnings=[
                    "no data-plane path: the catch-up check is left to ElastiCache (CompleteMigration "
                    "without Force)",
                    LOST_AFTER_PROMOTION,
                ],
            )
        over = replication.memory_over_limit(target)
        if over is not None:
            raise MigratorError(
                over.describe("now"),
                "raise the target's maxmemory (on AWS: a larger node type), then complete again",
                Code.TARGET_OUT_OF_MEMORY,
            )
        warnings: list[str] = []
        pause_ms = fenced = None
        if pause_writes:
            cut = replication.paused_cut_over(
                source, target, timeout, lambda: self._promote(force=False), fence_source
            )
            catch_up, pause_ms, fenced = cut.catch_up, cut.pause_ms, cut.source_fenced
            if fenced is False:
                warnings.append(replication.FENCE_FAILED)
        else:
            catch_up = replication.wait_for_catch_up(source, target, timeout, moving_source=True)
            if catch_up.caught_up:
                self._promote(force=False)
                warnings.append(LOST_AFTER_PROMOTION)
        if not catch_up.caught_up:
            raise MigratorError(
                f"the target did not catch up within {timeout:.0f}s: lag {catch_up.lag_bytes} bytes "
                f"(source offset {catch_up.source_offset}, target {catch_up.target_offset}); not promoted",
                "raise --timeout, reduce the write load or add --pause-writes, or --force",
                Code.CATCH_UP_TIMEOUT,
            )
        return CompleteResult(
            MigrationState.MIGRATING,
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

    def _promote(self, force: bool) -> None:
        self.backend.promote(force)
        self._record(f"Complete migration requested (force={str(force).lower()})")

    def _finish(self, result: CompleteResult, since: object, wait: bool) -> CompleteResult:
        """Wait for the promotion to take effect (or not), and record where it stands."""
        if wait:
            try:
                result.message = self.backend.wait_promoted(since, COMPLETE_WAIT_SECONDS)
            except MigratorError as err:
                self._record(f"Complete migration failed: {err.message}")
                raise
            result.state = MigrationState.AVAILABLE
            if result.caught_up is None:
                result.caught_up = True  # the service's own in-sync check passed
        else:
            result.state = self.backend.current_state()
            if result.state is MigrationState.MIGRATING:
                result.message += "; `migrator migrate status` shows available when it is done"
        self._record(result.message, result.state)
        return result

    # ---- verify after the cut-over -------------------------------------------------------------------------
    def verify_after_cut_over(self, progress: ProgressCallback | None = None) -> VerifyOutcome:
        """The post-cut-over verify, or why it could not run: the cut-over stands either way."""
        from migrator.verify import verify

        plane = self.backend.data_plane()
        if plane is None:
            return VerifyOutcome(False, "no data-plane path from here to the servers (no tunnel)")
        try:
            return VerifyOutcome(True, None, verify(plane.source_url, plane.target_url, progress=progress))
        except MigratorError as err:
            return VerifyOutcome(False, err.message)

    # ---- plumbing ------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _clients(self) -> Iterator[tuple[DataPlane | None, redis.Redis | None, redis.Redis | None]]:
        """(data plane, source, target): connections where they answer, None where they do not."""
        plane = self.backend.data_plane()
        if plane is None:
            yield None, None, None
            return
        source, target = _try_connect(plane.source_url, "source"), _try_connect(plane.target_url, "target")
        try:
            yield plane, source, target
        finally:
            for client in (source, target):
                if client is not None:
                    client.close()


def _try_connect(url: str, role: str) -> redis.Redis | None:
    from migrator.endpoints import connect

    try:
        return connect(url, role, timeout=2)
    except MigratorError:
        return None


def _add_fault_details(
    details: MigrationDetails, source: redis.Redis | None, target: redis.Redis | None, link: LinkStatus
) -> None:
    """What a fault looks like while it happens: link down since when, resyncs, a restarted source."""
    if not link.up and link.link_down_since_seconds is not None:
        since = time.time() - link.link_down_since_seconds
        details.link_down_since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since))
    if source is not None:
        counts = replication.resync_counts(source)
        details.resyncs = Resyncs(counts["full"], counts["partial_ok"], counts["partial_err"])
        details.source_uptime_s = int(source.info("server").get("uptime_in_seconds", 0))
    if target is not None:
        over = replication.memory_over_limit(target)
        details.memory_warning = over.describe("now") if over else None
