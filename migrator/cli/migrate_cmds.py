"""`migrate preflight|start|status|complete`: the life cycle, identical for local and AWS targets."""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

import typer

from migrator import render
from migrator.cli.apps import migrate_app
from migrator.cli.common import OutputOpt, workspace
from migrator.render import OutputFormat

if TYPE_CHECKING:
    from migrator.lifecycle.results import (
        CompleteResult,
        MigrationStatus,
        PreflightReport,
        StartResult,
        VerifyOutcome,
    )

STATUS_STYLE = {"ok": "green", "warn": "yellow", "fail": "red"}


def _show_preflight(report: PreflightReport, console: Any) -> None:
    rows = [[c.name, f"[{STATUS_STYLE[c.status]}]{c.status}[/]", c.detail, c.fix] for c in report.checks]
    console.print(
        render.table(
            f"preflight {report.source} → {report.target}", ["check", "status", "detail", "fix"], rows
        )
    )


def _show_start(result: StartResult, console: Any) -> None:
    console.print(
        f"state: [bold]{result.state}[/bold] — {result.message}"
        + (f" ({result.sync_seconds}s)" if result.sync_seconds is not None else "")
    )


def _show_status(status: MigrationStatus, console: Any) -> None:
    for renderable in _status_renderables(status):
        console.print(renderable)


def _status_renderables(status: MigrationStatus) -> list[Any]:
    out: list[Any] = [f"state: [bold]{status.state}[/bold]"]
    link = status.link
    if link is not None:
        rows: list[list[Any]] = [
            ["master_link_status", link.master_link_status],
            ["sync in progress", link.sync_in_progress],
            [
                "bytes synced",
                f"{link.sync_bytes_received}"
                + (f" / {link.sync_total_bytes}" if link.sync_total_bytes else ""),
            ],
            ["keys synced", f"{link.keys_synced} / {link.source_keys}"],
            ["lag (bytes)", link.lag_bytes if link.lag_bytes is not None else "-"],
            ["offsets (source / target)", f"{link.source_offset} / {link.target_offset}"],
            ["last I/O (s ago)", link.last_io_seconds_ago if link.last_io_seconds_ago is not None else "-"],
        ]
        details = status.details
        if link.link_down_since_seconds is not None:
            since = details.link_down_since if details else None
            rows.append(
                ["link down", f"for {link.link_down_since_seconds}s" + (f" (since {since})" if since else "")]
            )
        if status.bridge is not None:
            rows += _hop_rows("source → bridge", status.bridge)
        if details is not None:
            rows += _detail_rows(details)
        out.append(render.table("replication link", ["", ""], rows))
        if status.shards:
            shard_rows: list[list[Any]] = [
                [s.name, " ".join(f"{a}-{b}" for a, b in s.slots), s.target_url]
                + (
                    [
                        s.link.master_link_status + (" (syncing)" if s.link.sync_in_progress else ""),
                        s.link.lag_bytes if s.link.lag_bytes is not None else "-",
                        f"{s.link.source_offset} / {s.link.target_offset}",
                    ]
                    if s.link
                    else ["-", "-", "-"]
                )
                for s in status.shards
            ]
            columns = ["shard", "slots", "target node", "link", "lag (bytes)", "offsets (source / target)"]
            out.append(render.table("shards", columns, shard_rows))
    elif status.details is not None:
        out.append(render.table("target", ["", ""], _detail_rows(status.details)))
    out += [f"  {event.get('date', '')}  {event.get('message', '')}" for event in status.events[-5:]]
    return out


def _hop_rows(name: str, hop: Any) -> list[list[Any]]:
    lag = hop.lag_bytes if hop.lag_bytes is not None else "-"
    state = hop.master_link_status + (" (syncing)" if hop.sync_in_progress else "")
    return [[name, f"{state}, lag {lag} bytes, offset {hop.target_offset}"]]


def _detail_rows(details: Any) -> list[list[Any]]:
    """The facts both targets name the same way; a row only for what this target could tell."""
    rows: list[list[Any]] = [["group", f"{details.group_id} ({details.group_status or '?'})"]]
    if details.source_endpoint:
        rows.append(["replicates from", details.source_endpoint])
    rows.append(["link read from", details.link_from])
    for role in ("source", "target"):
        if getattr(details, f"{role}_reachable") is False:
            rows.append([role, "[red]unreachable[/]"])
    if details.resyncs is not None:
        r = details.resyncs
        rows.append(
            [
                "resyncs since source start",
                f"{r.full} full, {r.partial_ok} partial, {r.partial_err} partial refused",
            ]
        )
    if details.source_uptime_s is not None:
        rows.append(["source up for (s)", details.source_uptime_s])
    if details.memory_warning:
        rows.append(["memory", f"[red]{details.memory_warning}[/]"])
    if details.hash_field_ttls:
        rows.append(["hash-field TTLs on the source", f"[red]{details.hash_field_ttls} key(s)[/]"])
    if details.hash_field_ttl_calls:
        rows.append(["HEXPIRE-family calls on the source", details.hash_field_ttl_calls])
    if details.region:
        rows.append(["region", details.region])
    for cluster, values in sorted(details.metrics.items()):
        shown = ", ".join(f"{name} {value:g}" for name, value in sorted(values.items()))
        rows.append([f"metrics {cluster}", shown])
    return rows


def _show_complete(result: CompleteResult, console: Any) -> None:
    line = f"state: [bold]{result.state}[/bold] — {result.message}"
    if result.pause_ms is not None:
        line += f"; writes paused {result.pause_ms} ms"
    if result.writes_blocked_ms is not None:
        line += f" (no side took writes for {result.writes_blocked_ms} ms)"
    console.print(line)
    if result.source_fenced:
        console.print(
            "the old source now refuses writes (NOREPLICAS); to undo: CONFIG SET min-replicas-to-write 0"
        )


@migrate_app.command(
    epilog="Examples:  migrator migrate preflight  ·  migrator migrate preflight "
    "--source redis://10.0.2.15:6379 --target redis://127.0.0.1:16379 -o json"
)
def preflight(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option(help="Source URL (default: the workspace's).")] = None,
    target: Annotated[str | None, typer.Option(help="Target URL (default: the workspace's).")] = None,
    bridge: Annotated[
        bool, typer.Option("--bridge", help="Check source → Valkey 9 bridge → target instead.")
    ] = False,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Check the source/target pair is ready for an online migration (exit 1 if a check fails)."""
    report = _migration(ctx).preflight(source, target, bridge=bridge)
    document = {"ok": report.ok, **render.to_jsonable(report)}
    render.emit(document, partial(_show_preflight, report))
    if not report.ok:
        names = ", ".join(c.name for c in report.failed())
        render.stderr_console().print(f"preflight failed: {names}")
        raise typer.Exit(1)


@migrate_app.command(
    epilog="Examples:  migrator migrate start --wait  ·  migrator migrate start --bridge --wait  ·  "
    "migrator migrate start --test-first --wait --timeout 1800"
)
def start(
    ctx: typer.Context,
    wait: Annotated[bool, typer.Option("--wait", help="Return when the initial sync is done.")] = False,
    test_first: Annotated[bool, typer.Option("--test-first", help="Run TestMigration first.")] = False,
    bridge: Annotated[
        bool,
        typer.Option(
            "--bridge",
            help="Through a Valkey 9 bridge (for a source whose RDB the target cannot load, e.g. "
            "Redis 7.4 into Valkey 8).",
        ),
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait.")] = 600.0,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Begin replication from the source into the target (state → migrating)."""
    migration = _migration(ctx)
    with render.progress("initial sync (bytes)") as advance:
        result = migration.start(
            wait=wait, timeout=timeout, test_first=test_first, progress=advance, bridge=bridge
        )
    render.emit(result, partial(_show_start, result))


@migrate_app.command(
    epilog="Examples:  migrator migrate status  ·  migrator migrate status --watch  ·  "
    "migrator migrate status --watch -o json --count 10"
)
def status(
    ctx: typer.Context,
    watch: Annotated[
        bool, typer.Option("--watch", help="Refresh until Ctrl-C (json: one line each).")
    ] = False,
    interval: Annotated[
        float | None,
        typer.Option(help="Seconds between refreshes with --watch (default: 1 local, 15 aws)."),
    ] = None,
    count: Annotated[int | None, typer.Option(help="Stop --watch after this many refreshes.")] = None,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Show link state, sync progress and lag (reports: exits 0 even when the link is down)."""
    migration = _migration(ctx)
    if not watch:
        result = migration.status()
        render.emit(result, partial(_show_status, result))
        return
    # Each AWS refresh costs several API calls: poll at the backend's own pace, never faster than 1 s.
    _watch(migration, interval or max(1.0, migration.backend.poll_seconds), count)


@migrate_app.command(
    epilog="Examples:  migrator migrate complete --pause-writes  ·  "
    "migrator migrate complete --force  ·  migrator migrate complete --no-verify"
)
def complete(
    ctx: typer.Context,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Stop the migration without ensuring the data is in sync (CompleteMigration's Force: "
            "recommended only to abort). Writes the target has not received are lost.",
        ),
    ] = False,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait until the target is available.")
    ] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the target to catch up.")] = 60.0,
    pause_writes: Annotated[
        bool,
        typer.Option(
            "--pause-writes", help="CLIENT PAUSE WRITE on the source during catch-up (no lost writes)."
        ),
    ] = False,
    fence: Annotated[
        bool,
        typer.Option(
            "--fence/--no-fence",
            help="With --pause-writes: after promotion the old source refuses writes "
            "(min-replicas-to-write 1), so none land where they would be lost.",
        ),
    ] = True,
    verify: Annotated[
        bool, typer.Option("--verify/--no-verify", help="Verify the data after cut-over.")
    ] = True,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Cut over: wait for the target to catch up, then promote it (replication ends)."""
    migration = _migration(ctx)
    result = migration.complete(
        force=force, wait=wait, timeout=timeout, pause_writes=pause_writes, fence_source=fence
    )
    for warning in result.warnings:
        render.warn(warning)
    document: dict[str, Any] = {"ok": True, **render.to_jsonable(result)}
    outcome = None
    if verify:
        with render.progress("verifying") as advance:
            outcome = migration.verify_after_cut_over(progress=advance)
        document["verify"] = _verify_document(outcome)
        if not outcome.ran:
            render.warn(
                f"verify skipped: {outcome.reason} — run `migrator migrate verify` once both servers "
                "are reachable"
            )
        elif not outcome.ok:
            document["ok"] = False

    def show(console: Any) -> None:
        _show_complete(result, console)
        if outcome is not None and outcome.ran:
            report = outcome.report
            console.print(
                f"post-cut-over verify: {'[green]ok' if report.ok else '[red]DIFFERENCES'}[/] — "
                f"{report.keys_checked} keys, {report.missing_on_target} missing, "
                f"{report.value_mismatch} changed, {report.ttl_mismatch} TTL"
            )

    render.emit(document, show)
    if outcome is not None and outcome.ran and not outcome.ok:
        render.stderr_console().print("post-cut-over verify found differences; see the report")
        raise typer.Exit(1)


def _migration(ctx: typer.Context) -> Any:
    from migrator.lifecycle.registry import migration

    return migration(workspace(ctx))


def _verify_document(outcome: VerifyOutcome) -> dict[str, Any]:
    if not outcome.ran:
        return {"ran": False, "reason": outcome.reason}
    return {"ran": True, **render.to_jsonable(outcome.report)}


def _watch(migration: Any, interval: float, count: int | None) -> None:
    refreshes = 0
    if render.is_json():
        while count is None or refreshes < count:
            render.emit_line(migration.status())
            refreshes += 1
            time.sleep(interval)
        return
    from rich.console import Group
    from rich.live import Live

    with Live(console=render.stdout_console(), auto_refresh=False) as live:
        while count is None or refreshes < count:
            live.update(Group(*_status_renderables(migration.status())), refresh=True)
            refreshes += 1
            time.sleep(interval)
