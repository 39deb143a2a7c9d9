"""The life-cycle engine: one start gate and one cut-over, the same rules for the rehearsal and ElastiCache.

Every decision lives here — what is checked before StartMigration, what refuses a cut-over, what is waited
for, what is warned about and which error code is raised. A backend (`protocol.MigrationBackend`) only
says how: REPLICAOF locally, the ElastiCache API on AWS. So the rehearsal predicts AWS by construction.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from migrator import preflight, replication, versions
from migrator.errors import Code, MigratorError
from migrator.lifecycle.protocol import DataPlane, MigrationBackend, Shard, StartPhase
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
    ShardStatus,
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
HASH_FIELD_TTL_LOSS = (
    "the target (Valkey < 9) keeps those fields but drops their TTLs: they would never expire"
)
HASH_FIELD_TTL_FIX = (
    "let those field TTLs expire, or rewrite the hashes without them (HGETALL, then DEL + HSET in one "
    "MULTI; HPERSIST alone leaves Redis counting them until the old deadline), or --force to accept it"
)
NO_BRIDGE_ON_PLANE = (
    "the migration goes through a bridge this machine cannot reach (on AWS: a tunnel opened without the "
    "bridge's forward): it could be neither watched nor detached, and attached it defeats the fence"
)


@dataclass
class ShardClients:
    """Connections to one shard's servers; None where a server does not answer."""

    shard: Shard
    source: redis.Redis | None
    target: redis.Redis | None
    bridge: redis.Redis | None = None

    def close(self) -> None:
        for client in (self.source, self.target, self.bridge):
            if client is not None:
                client.close()

    def target_link(self) -> LinkStatus:
        if self.target is None:
            return LinkStatus("down")
        return replication.read_link(self.source, self.target)

    def bridge_link(self) -> LinkStatus | None:
        if self.shard.bridge_url is None:
            return None
        return replication.read_link(self.source, self.bridge) if self.bridge else LinkStatus("down")


class Migration:
    """The Migration interface the CLI calls, over any backend."""

    def __init__(self, workspace: Workspace, state: State, backend: MigrationBackend) -> None:
        self.workspace = workspace
        self.state = state
        self.backend = backend

    # ---- state ---------------------------------------------------------------------------------------------
    def _record(
        self, event: str, migration_state: MigrationState | None = None, bridged: bool | None = None
    ) -> None:
        """Persist an event (and a new state) under the workspace lock, keeping what others saved."""

        def change(state: State) -> None:
            if migration_state is not None:
                state.migration_state = migration_state.value
            if bridged is not None:
                state.bridged = bridged
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
    def preflight(
        self, source_url: str | None = None, target_url: str | None = None, bridge: bool = False
    ) -> PreflightReport:
        """Every row about the pair; with `bridge`, about source → bridge → target instead of directly."""
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
        rows, source = preflight.source_checks(source_url, plane.reachable if plane else None)
        report.checks.extend(rows)
        if source is None or target.facts is None:
            return report
        pair = preflight.pair_checks(source, target.facts)
        if bridge:
            identity = self.backend.bridge_identity()
            if identity is None:
                report.checks.append(
                    Check(
                        "bridge",
                        FAIL,
                        f"the {self.backend.kind} environment has no bridge",
                        preflight.BRIDGE_BINARY_FIX
                        if self.backend.kind == "local"
                        else "turn the bridge on (terraform var `bridge_enabled = true`) and `migrator up`",
                    )
                )
            else:
                # The direct pair's RDB row does not apply: the bridge's rows replace it.
                pair = [row for row in pair if row.name != "rdb_format"]
                pair[:0] = preflight.bridged_checks(source, identity, target.facts)
        report.checks.extend(pair)
        return report

    # ---- start ---------------------------------------------------------------------------------------------
    def start(
        self,
        wait: bool = False,
        timeout: float = 600.0,
        test_first: bool = False,
        progress: ProgressCallback | None = None,
        bridge: bool = False,
    ) -> StartResult:
        if self.current_state() is MigrationState.MIGRATING:
            raise MigratorError(
                "the target is already migrating",
                "follow it with `migrator migrate status`, or finish it with `migrator migrate complete`",
                Code.ALREADY_MIGRATING,
            )
        # Refuse a pair that cannot work before anything changes, on both targets.
        report = self.preflight(bridge=bridge)
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
        how = self.backend.begin_replication(bridge)
        self._record(f"Migration started: {how}", MigrationState.MIGRATING, bridged=bridge)
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
        """Until every hop's initial sync is done (seen on the data plane when there is one), caught up."""
        begun = time.monotonic()
        deadline = begun + timeout
        next_control = begun
        phase = self.backend.start_progress(since)
        seen_bytes = 0
        with self._clients() as (plane, shards):
            unreachable = [c.shard.target_url for c in shards if c.target is None]
            if plane is not None and unreachable:
                raise MigratorError(
                    f"cannot watch the initial sync: the target at {unreachable[0]} does not answer; "
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
                links: list[LinkStatus] = []
                if phase.phase is StartPhase.REPLICATING:
                    if plane is None:
                        break  # no data plane: the service says it replicates, which is all we can know
                    links = [c.target_link() for c in shards] + [
                        link for c in shards if (link := c.bridge_link()) is not None
                    ]
                    received = sum(link.sync_bytes_received for link in links)
                    if progress and received > seen_bytes:
                        total = [link.sync_total_bytes for link in links]
                        progress(received - seen_bytes, None if None in total else sum(t or 0 for t in total))
                        seen_bytes = received
                    if all(link.synced for link in links):
                        break
                if now >= deadline:
                    down = [link.master_link_status for link in links if not link.synced]
                    where = f"link {down[0]}" if down else f"the target is {phase.phase}"
                    raise MigratorError(
                        f"replication not established within {timeout:.0f}s ({where}); it goes on",
                        "follow it with `migrator migrate status --watch`; raise --timeout for big datasets",
                        Code.MIGRATION_TIMEOUT,
                    )
                time.sleep(min(DATA_POLL_SECONDS, self.backend.poll_seconds))
            link = bridge_link = None
            if plane is not None:
                left = max(1.0, deadline - time.monotonic())
                pairs = _pairs(shards)
                replication.wait_all_caught_up(pairs, min(left, CATCH_UP_AFTER_SYNC), moving_source=True)
                for clients in shards:
                    over = replication.memory_over_limit(clients.target)  # type: ignore[arg-type]
                    if over is not None:
                        self._fail_start(over.describe("after the initial sync"), Code.TARGET_OUT_OF_MEMORY)
                link = _combined([c.target_link() for c in shards])
                bridge_link = shards[0].bridge_link() if len(shards) == 1 else None
        seconds = round(time.monotonic() - begun, 2)
        self._record(f"Replication established in {seconds}s")
        message = (
            "initial sync done; the link is up"
            if link
            else "the target reports migrating; open `migrator tunnel` to see the link itself"
        )
        if bridge_link is not None:
            message = "initial sync done on both hops (source → bridge → target); the links are up"
        return StartResult(MigrationState.MIGRATING, True, message, seconds, link, bridge=bridge_link)

    def _fail_start(self, reason: str, code: Code) -> None:
        """ElastiCache returns a failed start to `available` with an event; so does the rehearsal."""
        reverted = self.backend.abort_start()
        if reverted and self.state.bridged:
            self.backend.stop_bridge()
        self._record(
            f"Failed to start migration: {reason}",
            MigrationState.AVAILABLE if reverted else None,
            bridged=False if reverted else None,
        )
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
        # Only a migrating target replicates from anywhere: before start and after complete it names none.
        details.source_endpoint = self.backend.source_endpoint() if state is MigrationState.MIGRATING else ""
        status = MigrationStatus(state, None, [], details)
        with self._clients() as (plane, shards):
            if plane is not None:
                details.source_url, details.target_url = plane.source_url, plane.target_url
                details.link_from = "data-plane"
                details.source_reachable = all(c.source is not None for c in shards)
                details.target_reachable = all(c.target is not None for c in shards)
                if state is MigrationState.MIGRATING:
                    self._data_plane_status(status, plane, shards)
            elif state is MigrationState.MIGRATING:
                status.link = self.backend.link_without_data_plane()
                details.link_from = "cloudwatch" if status.link else "none"
        status.events = self.backend.events()[-20:]
        return status

    def _data_plane_status(
        self, status: MigrationStatus, plane: DataPlane, shards: list[ShardClients]
    ) -> None:
        assert status.details is not None
        links = [c.target_link() for c in shards]
        status.link = _combined(links)
        if plane.cluster:
            status.shards = [
                ShardStatus(
                    c.shard.name,
                    c.shard.source_url,
                    c.shard.target_url,
                    [list(r) for r in c.shard.slots],
                    link,
                    c.bridge_link(),
                )
                for c, link in zip(shards, links, strict=True)
            ]
        else:
            status.bridge = shards[0].bridge_link()
        _add_fault_details(status.details, shards, status.link)
        counts = [_hash_field_ttls(c.source) for c in shards if c.source is not None]
        if counts and None not in counts:
            status.details.hash_field_ttls = sum(n for n, _ in counts)  # type: ignore[misc]
            status.details.hash_field_ttl_calls = sum(calls for _, calls in counts)  # type: ignore[misc]

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
        with self._clients() as (plane, shards):
            if plane is not None and not force:
                _refuse_unreachable(shards)
                if self.state.bridged and not plane.bridged:
                    raise MigratorError(
                        NO_BRIDGE_ON_PLANE,
                        "reopen `migrator tunnel` (it forwards the bridge_port output), or --force",
                        Code.DATA_PLANE_REQUIRED,
                    )
            link = (
                _combined([c.target_link() for c in shards])
                if plane
                else self.backend.link_without_data_plane()
            )
            since = self.backend.clock()
            if force:
                result = self._forced(link, shards)
            else:
                result = self._checked_cut_over(shards, link, timeout, pause_writes, fence_source)
        return self._finish(result, since, wait)

    def _forced(self, link: LinkStatus | None, shards: list[ShardClients]) -> CompleteResult:
        self._promote(force=True)
        detached = _detach_bridges(shards, strict=False)
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
        warnings = [f"{FORCE_MEANS}: {missing} ({detail})", *detached]
        fields = self._hash_field_ttls_lost(shards)
        if fields:
            warnings.append(f"{fields} key(s) hold hash-field TTLs on the source: {HASH_FIELD_TTL_LOSS}")
        return CompleteResult(
            MigrationState.MIGRATING,
            True,
            False,
            "promoted without the in-sync check (--force)",
            link.source_offset if link else None,
            link.target_offset if link else None,
            link.lag_bytes if link else None,
            warnings=warnings,
            bridged=self.state.bridged,
        )

    def _checked_cut_over(
        self,
        shards: list[ShardClients],
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
        _refuse_broken_hops(shards, link)
        _refuse_resharded(shards)
        has_data_plane = bool(shards) and all(c.source is not None and c.target is not None for c in shards)
        if not has_data_plane:
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
        self._refuse_hash_field_ttls(shards)
        for clients in shards:
            over = replication.memory_over_limit(clients.target)  # type: ignore[arg-type]
            if over is not None:
                raise MigratorError(
                    over.describe("now"),
                    "raise the target's maxmemory (on AWS: a larger node type), then complete again",
                    Code.TARGET_OUT_OF_MEMORY,
                )
        warnings: list[str] = []
        pause_ms = fenced = blocked = None
        pairs = _pairs(shards)
        if pause_writes:

            def promote_paused() -> None:
                # Checked again with writes paused: an HEXPIRE just before the pause is caught too.
                self._refuse_hash_field_ttls(shards)
                self._promote(force=False)

            cut = replication.paused_cut_over(
                pairs,
                timeout,
                promote_paused,
                fence_source,
                detach=lambda: warnings.extend(_detach_bridges(shards, strict=True)),
            )
            catch_up, pause_ms, fenced, blocked = (
                cut.catch_up,
                cut.pause_ms,
                cut.source_fenced,
                cut.writes_blocked_ms,
            )
            if fenced is False:
                warnings.append(replication.FENCE_FAILED)
        else:
            catch_up = replication.wait_all_caught_up(pairs, timeout, moving_source=True)
            if catch_up.caught_up:
                self._promote(force=False)
                warnings += _detach_bridges(shards, strict=True)
                warnings.append(LOST_AFTER_PROMOTION)
        if not catch_up.caught_up:
            behind = next(c for c in catch_up.each if not c.caught_up)
            raise MigratorError(
                f"the target did not catch up within {timeout:.0f}s: lag {behind.lag_bytes} bytes "
                f"(source offset {behind.source_offset}, target {behind.target_offset}); not promoted",
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
            blocked,
            self.state.bridged,
        )

    def _refuse_hash_field_ttls(self, shards: list[ShardClients]) -> None:
        fields = self._hash_field_ttls_lost(shards)
        if fields:
            raise MigratorError(
                f"{fields} key(s) on the source hold hash-field TTLs: {HASH_FIELD_TTL_LOSS}",
                HASH_FIELD_TTL_FIX,
                Code.HASH_FIELD_TTLS,
            )

    def _hash_field_ttls_lost(self, shards: list[ShardClients]) -> int:
        """Keys with hash-field TTLs on sources whose target cannot keep them (Valkey < 9: measured, it
        refuses the HPEXPIREAT its primary relays, keeps the field and drops the TTL)."""
        lost = 0
        for clients in shards:
            counts = _hash_field_ttls(clients.source) if clients.source is not None else None
            if counts and counts[0] and not _keeps_hash_field_ttls(clients.target):
                lost += counts[0]
        return lost

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
        if result.state is MigrationState.AVAILABLE and self.state.bridged:
            self.backend.stop_bridge()
        self._record(
            result.message, result.state, bridged=False if result.state is MigrationState.AVAILABLE else None
        )
        return result

    # ---- verify after the cut-over -------------------------------------------------------------------------
    def verify_after_cut_over(self, progress: ProgressCallback | None = None) -> VerifyOutcome:
        """The post-cut-over verify, or why it could not run: the cut-over stands either way."""
        from migrator.verify import verify

        try:
            # Inside the try: a path lost since the cut-over (AWS: a dropped tunnel) skips the verify too.
            plane = self.backend.data_plane()
            if plane is None:
                return VerifyOutcome(False, "no data-plane path from here to the servers (no tunnel)")
            # A cluster's shards as the plane reaches them (through a tunnel, not at their own addresses).
            report = verify(plane.source_url, plane.target_url, progress=progress,
                            source_map=plane.source_map(), target_map=plane.target_map())  # fmt: skip
            return VerifyOutcome(True, None, report)
        except MigratorError as err:
            return VerifyOutcome(False, err.message)

    # ---- plumbing ------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _clients(self) -> Iterator[tuple[DataPlane | None, list[ShardClients]]]:
        """The data plane and connections to every server on it (None where one does not answer)."""
        plane = self.backend.data_plane()
        if plane is None:
            yield None, []
            return
        shards = [
            ShardClients(
                shard,
                _try_connect(shard.source_url, "source"),
                _try_connect(shard.target_url, "target"),
                _try_connect(shard.bridge_url, "bridge") if shard.bridge_url else None,
            )
            for shard in plane.shards
        ]
        try:
            yield plane, shards
        finally:
            for clients in shards:
                clients.close()


def _pairs(shards: list[ShardClients]) -> list[replication.Pair]:
    return [(c.source, c.target) for c in shards if c.source is not None and c.target is not None]


def _combined(links: list[LinkStatus]) -> LinkStatus:
    """One link for the whole target: up only when every shard's is; the shards' counts added up."""
    if len(links) == 1:
        return links[0]

    def total(values: list[int | None]) -> int | None:
        return None if None in values else sum(v or 0 for v in values)

    return LinkStatus(
        master_link_status="up" if all(link.up for link in links) else "down",
        lag_bytes=total([link.lag_bytes for link in links]),
        last_io_seconds_ago=max((link.last_io_seconds_ago or 0 for link in links), default=None),
        sync_in_progress=any(link.sync_in_progress for link in links),
        sync_bytes_received=sum(link.sync_bytes_received for link in links),
        sync_total_bytes=total([link.sync_total_bytes for link in links]),
        link_down_since_seconds=max(
            (link.link_down_since_seconds for link in links if link.link_down_since_seconds is not None),
            default=None,
        ),
        keys_synced=total([link.keys_synced for link in links]),
        source_keys=total([link.source_keys for link in links]),
    )


def _refuse_unreachable(shards: list[ShardClients]) -> None:
    for clients in shards:
        if clients.target is None:
            raise MigratorError(
                f"cannot reach the target at {clients.shard.target_url}",
                "check it runs (`migrator status`) and the tunnel on AWS, or --force",
                Code.UNREACHABLE,
            )
        if clients.source is None:
            raise MigratorError(
                f"cannot cut over safely: the source at {clients.shard.source_url} does not answer",
                "bring the source back (the rehearsal: `migrator up`), or --force to promote anyway",
                Code.LINK_DOWN,
            )


def _refuse_broken_hops(shards: list[ShardClients], link: LinkStatus) -> None:
    """Every hop of every shard must be up: a hop that is down holds writes the target will never see."""
    hops = [("replication link", link)]
    if shards:
        hops = [(f"replication link of shard {c.shard.name}" if len(shards) > 1 else "replication link",
                 c.target_link()) for c in shards]  # fmt: skip
        hops += [
            ("link from the source to the bridge", bridge) for c in shards if (bridge := c.bridge_link())
        ]
    for what, hop in hops:
        if not hop.up:
            down_for = f" (for {hop.link_down_since_seconds}s)" if hop.link_down_since_seconds else ""
            raise MigratorError(
                f"the {what} is down{down_for}; the target has offset {hop.target_offset}, "
                f"the source {hop.source_offset}: completing now loses what the target has not received",
                "fix the link (`migrator migrate status`), or --force to promote and accept the loss",
                Code.LINK_DOWN,
            )


def _refuse_resharded(shards: list[ShardClients]) -> None:
    """A cluster's shards must still serve the slots each target shard replicates: a slot moved to another
    source master would carry keys to a target node whose nodes.conf gives that slot away."""
    from migrator.topology import layout, topology_of

    source = next((c.source for c in shards if c.shard.slots and c.source is not None), None)
    if source is None:
        return  # not a cluster (or no source answers: refused before)
    nodes = topology_of(source)
    moving = sorted(slot for node in nodes for slot in (*node.migrating, *node.importing))
    now = sorted(layout(nodes))
    replicated = sorted([list(span) for span in c.shard.slots] for c in shards)
    if moving or now != replicated:
        what = f"slot {moving[0]} is migrating between source masters" if moving else "the source resharded"
        raise MigratorError(
            f"{what} since the migration started: a target shard would hold keys of slots it does not serve",
            "let the resharding finish and restore the layout the migration started with, or "
            "`migrate complete --force` and verify (`migrator migrate verify`)",
            Code.SLOT_LAYOUT_CHANGED,
        )


def _detach_bridges(shards: list[ShardClients], strict: bool) -> list[str]:
    """REPLICAOF NO ONE on each bridge: attached, it would count as the old source's replica (no fence).

    CONFIG REWRITE persists it where the bridge has a config file it may write (the AWS host's systemd
    unit): restarted with `replicaof` still in its file, it would re-attach to the old source. Returns
    warnings for what could not be made to last."""
    import redis

    warnings = []
    for clients in shards:
        if clients.bridge is None:
            continue
        try:
            clients.bridge.replicaof("NO", "ONE")
        except redis.RedisError as exc:
            if strict:
                raise MigratorError(
                    f"promoted, but the bridge at {clients.shard.bridge_url} could not be detached: {exc}",
                    "run REPLICAOF NO ONE on it: attached, it keeps the old source writable",
                    Code.COMPLETE_FAILED,
                ) from None
            continue
        try:
            clients.bridge.config_rewrite()
        except redis.RedisError as exc:
            warnings.append(
                f"the bridge at {clients.shard.bridge_url} is detached, but not in its config file "
                f"(CONFIG REWRITE: {exc}): stop it before it restarts, or it re-attaches to the old source"
            )
    return warnings


def _keeps_hash_field_ttls(server: redis.Redis | None) -> bool:
    """Whether this server holds hash-field TTLs (Redis 7.4+, Valkey 9+); one that does not answer: no."""
    import redis

    from migrator.preflight import server_identity

    if server is None:
        return False
    try:
        return versions.keeps_hash_field_ttls(*server_identity(server.info("server")))
    except redis.RedisError:
        return False


def _hash_field_ttls(source: redis.Redis) -> tuple[int, int] | None:
    """(keys holding hash-field TTLs, HEXPIRE-family calls since start) on a source that supports them."""
    if not _keeps_hash_field_ttls(source):
        return None
    from migrator.preflight import hash_field_ttl_keys

    keys = hash_field_ttl_keys(source.info("keyspace")) or 0
    stats = source.info("commandstats")
    calls = sum(
        int(stats.get(f"cmdstat_{name}", {}).get("calls", 0))
        for name in ("hexpire", "hpexpire", "hexpireat", "hpexpireat", "hsetex", "hgetex")
    )
    return keys, calls


def _try_connect(url: str, role: str) -> redis.Redis | None:
    from migrator.endpoints import connect

    try:
        return connect(url, role, timeout=2)
    except MigratorError:
        return None


def _add_fault_details(details: MigrationDetails, shards: list[ShardClients], link: LinkStatus) -> None:
    """What a fault looks like while it happens: link down since when, resyncs, a restarted source.

    A cluster's: resyncs added up over its source masters, the most recently restarted one's uptime, the
    first target node over its maxmemory."""
    if not link.up and link.link_down_since_seconds is not None:
        since = time.time() - link.link_down_since_seconds
        details.link_down_since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since))
    sources = [c.source for c in shards if c.source is not None]
    if sources:
        counts = [replication.resync_counts(source) for source in sources]
        totals = [sum(c[name] for c in counts) for name in ("full", "partial_ok", "partial_err")]
        details.resyncs = Resyncs(*totals)
        details.source_uptime_s = min(int(s.info("server").get("uptime_in_seconds", 0)) for s in sources)
    for target in (c.target for c in shards if c.target is not None):
        over = replication.memory_over_limit(target)
        details.memory_warning = over.describe("now") if over else None
        if over:
            break
