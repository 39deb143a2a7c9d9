"""`load`, `write` and `migrate verify`: thin wiring over migrator.workload and migrator.verify."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer

from migrator import render
from migrator.cli.apps import app, migrate_app
from migrator.cli.common import OutputOpt, workspace
from migrator.errors import Code, MigratorError
from migrator.render import OutputFormat

UrlOpt = Annotated[str | None, typer.Option("--url", help="Server URL (default: the workspace's source).")]
DbsOpt = Annotated[str | None, typer.Option("--dbs", help="Comma-separated database numbers, e.g. 0,1.")]


def _dbs(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        dbs = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise MigratorError(
            f"--dbs {text!r} is not a list of numbers", "e.g. --dbs 0,1", Code.INVALID_VALUE
        ) from None
    if not dbs or any(db < 0 for db in dbs):
        raise MigratorError(f"--dbs {text!r} names no valid database", "e.g. --dbs 0,1", Code.INVALID_VALUE)
    return dbs


def _endpoints(ctx: typer.Context) -> tuple[str, str]:
    from migrator.lifecycle.registry import migration

    return migration(workspace(ctx)).endpoints()


def _show_verify(report: Any, console: Any) -> None:
    if report.mismatches:
        rows = [[m.db, m.key, m.kind, m.detail] for m in report.mismatches]
        title = "differences" + (" (first ones only)" if report.mismatches_truncated else "")
        console.print(render.table(title, ["db", "key", "kind", "detail"], rows))
    if report.shards:
        rows = [
            [s.name, " ".join(f"{a}-{b}" for a, b in s.slots), s.target, s.keys_checked,
             f"{s.keys_per_s:.0f}", s.missing_on_target, s.extra_on_target, s.value_mismatch, s.ttl_mismatch]
            for s in report.shards
        ]  # fmt: skip
        columns = ["shard", "slots", "target node", "keys", "keys/s", "missing", "extra", "value", "TTL"]
        console.print(render.table("shards", columns, rows))
    console.print(
        f"{'[green]ok' if report.ok else '[red]DIFFERENCES'}[/] {report.source} → {report.target}: "
        f"{report.keys_checked} keys checked in {report.duration_s}s ({report.keys_per_s:.0f} keys/s), "
        f"{report.missing_on_target} missing, {report.extra_on_target} extra, {report.value_mismatch} value, "
        f"{report.ttl_mismatch} TTL; rounds {report.rounds_run}"
    )


def _show_load(report: Any, console: Any) -> None:
    types = ", ".join(f"{n} {t}" for t, n in sorted(report.by_type.items()))
    console.print(
        f"loaded {report.keys} keys into {report.url} dbs {report.dbs} in {report.duration_s}s "
        f"({report.keys_per_s:.0f} keys/s): {types}; {report.with_ttl} with TTL, "
        f"{report.binary_names} binary names, {report.large_values} large values"
    )


def _show_write(document: dict[str, Any], console: Any) -> None:
    w = document["writer"]
    console.print(
        f"wrote to {w.url} for {w.duration_s}s: {w.acked} acknowledged ({w.acked_per_s:.0f}/s), "
        f"{w.failed} failed ({w.unacked_unknown} without reply), {w.reconnects} reconnects"
        + (f"; ledger {w.ledger}" if w.ledger else "")
    )
    check = document.get("check")
    if check is not None:
        for p in check.problems:
            console.print(f"  {p.op} {p.key} {p.member or ''}: expected {p.expected}, found {p.found}")
        console.print(check.summary())


@app.command(epilog="Examples:  migrator load --keys 100000 --dbs 0,1  ·  migrator load --types hash,zset")
def load(
    ctx: typer.Context,
    keys: Annotated[int, typer.Option(help="How many keys to write.")] = 10_000,
    types: Annotated[
        str, typer.Option(help="Comma-separated: string,hash,list,set,zset,stream.")
    ] = "string,hash,list,set,zset,stream",
    ttl_fraction: Annotated[float, typer.Option(help="Fraction of keys given a TTL.")] = 0.1,
    value_size: Annotated[int, typer.Option(help="Largest ordinary string value, in bytes.")] = 200,
    dbs: DbsOpt = "0",
    seed: Annotated[int, typer.Option(help="Same seed, same dataset.")] = 0,
    url: UrlOpt = None,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Fill a server with a reproducible mixed dataset of every type (pipelined)."""
    from migrator.workload import load as load_data

    plane = None if url else _plane(ctx)
    url = url or _endpoints(ctx)[0]
    with render.progress("loading keys", keys) as advance:
        report = load_data(
            url,
            slot_map=plane.source_map() if plane else None,
            keys=keys,
            types=[t.strip() for t in types.split(",") if t.strip()],
            ttl_fraction=ttl_fraction,
            value_size=value_size,
            dbs=_dbs(dbs) or [0],
            seed=seed,
            progress=advance,
        )
    render.emit(report, partial(_show_load, report))


@app.command(
    epilog="Examples:  migrator write --rate 500 --duration 30 --ledger ledger.jsonl --check  ·  "
    "migrator write --url redis://127.0.0.1:6379 --duration 10"
)
def write(
    ctx: typer.Context,
    rate: Annotated[float, typer.Option(help="Writes per second.")] = 200.0,
    duration: Annotated[float, typer.Option(help="Seconds to write (Ctrl-C stops earlier).")] = 10.0,
    url: UrlOpt = None,
    ledger: Annotated[Path | None, typer.Option(help="Also write the ledger to this JSONL file.")] = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Then check every acknowledged write is on the workspace target."),
    ] = False,
    catch_up_timeout: Annotated[float, typer.Option(help="Seconds --check waits for the target.")] = 60.0,
    seed: Annotated[int | None, typer.Option(help="Seed for a reproducible op sequence.")] = None,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Live writes (SET INCR HSET LPUSH ZADD XADD EXPIRE DEL) with a ledger of acknowledged writes."""
    from migrator.workload import Ledger, LiveWriter, check_ledger

    target_url = ""
    plane = _plane(ctx) if check or url is None else None
    source_map = plane.source_map() if plane and url is None else None
    if check or url is None:
        default_source, target_url = _endpoints(ctx)
        url = url or default_source
    writer = LiveWriter(url, rate=rate, ledger=Ledger(ledger), seed=seed, slot_map=source_map)
    render.notice(f"writing {rate:g}/s for {duration:g}s to {writer.endpoint.url} (Ctrl-C stops)")
    writer.start(duration)
    try:
        report = writer.wait()
    except KeyboardInterrupt:
        report = writer.stop()
    finally:
        writer.ledger.close()
    document: dict[str, Any] = {"ok": True, "writer": report, "check": None}
    if check:
        # A cluster's target shards are found on the data plane: while they replicate they cannot say.
        pairs = [(s.source_url, s.target_url) for s in plane.shards] if plane and plane.cluster else []
        for source_url, shard_url in pairs or [(writer.endpoint.url, target_url)]:
            _wait_for_target(source_url, shard_url, catch_up_timeout)
        target_map = plane.target_map() if plane else None
        document["check"] = result = check_ledger(writer.ledger, target_url, target_map)
        document["ok"] = result.ok
    render.emit(document, partial(_show_write, document))
    if not document["ok"]:
        render.stderr_console().print(document["check"].summary())
        raise typer.Exit(1)


@migrate_app.command(
    epilog="Examples:  migrator migrate verify  ·  migrator migrate verify --rounds 5 -o json  ·  "
    "migrator migrate verify --source redis://10.0.2.15:6379 --target redis://127.0.0.1:16379 --dbs 0"
)
def verify(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option(help="Source URL (default: the workspace's).")] = None,
    target: Annotated[str | None, typer.Option(help="Target URL (default: the workspace's).")] = None,
    dbs: DbsOpt = None,
    rounds: Annotated[int, typer.Option(help="Re-check differing keys up to this many rounds.")] = 3,
    ttl_tolerance: Annotated[
        int, typer.Option("--ttl-tolerance", help="Allowed expiry difference, in ms.")
    ] = 1000,
    sample: Annotated[float | None, typer.Option(help="Check only this fraction of keys (0-1].")] = None,
    max_report: Annotated[int, typer.Option(help="List at most this many differing keys.")] = 100,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Compare every key, both directions, values by type and TTLs (exit 1 on differences)."""
    from migrator.verify import verify as verify_data

    source_map = target_map = None
    if source is None or target is None:
        default_source, default_target = _endpoints(ctx)
        # The workspace's cluster, as its data plane reaches it (its target shards cannot say who they
        # are while they replicate; through a tunnel the nodes' own addresses are not reachable).
        plane = _plane(ctx)
        if plane is not None:
            source_map = None if source else plane.source_map()
            target_map = None if target else plane.target_map()
        source, target = source or default_source, target or default_target
    with render.progress("verifying keys") as advance:
        report = verify_data(
            source,
            target,
            source_map=source_map,
            target_map=target_map,
            dbs=_dbs(dbs),
            rounds=rounds,
            ttl_tolerance_ms=ttl_tolerance,
            sample=sample,
            max_report=max_report,
            progress=advance,
        )
    render.emit(report, partial(_show_verify, report))
    if not report.ok:
        render.stderr_console().print(report.summary())
        raise typer.Exit(1)


def _plane(ctx: typer.Context) -> Any:
    """The workspace's data plane (None without a path to the servers)."""
    from migrator.lifecycle.registry import migration

    return migration(workspace(ctx)).backend.data_plane()


def _wait_for_target(source_url: str, target_url: str, timeout: float) -> None:
    """Let a replicating target apply everything written before the ledger is checked."""
    from migrator.endpoints import connect
    from migrator.verify import wait_caught_up

    source, target = connect(source_url, "source"), connect(target_url, "target")
    try:
        if not wait_caught_up(source, target, timeout) and target.info("replication").get("role") == "slave":
            render.warn(f"target {target_url} did not catch up within {timeout:g}s; checking anyway")
    finally:
        source.close()
        target.close()
