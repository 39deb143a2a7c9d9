"""`up`, `down`, `status`: bring an environment up, tear it down, show what exists."""

from __future__ import annotations

import enum
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

import typer

from migrator import render
from migrator.cli.apps import app
from migrator.cli.common import (
    OutputOpt,
    RegionOpt,
    TerraformBinOpt,
    TerraformDirOpt,
    VarFileOpt,
    confirm,
    workspace,
)
from migrator.render import OutputFormat

if TYPE_CHECKING:
    from migrator.lifecycle.results import EnvironmentStatus


class TargetKind(enum.StrEnum):
    local = "local"
    aws = "aws"


def _show_environment(status: EnvironmentStatus, console: Any) -> None:
    rows = []
    for name in ("source", "target"):
        view = getattr(status, name) or {}
        running = view.get("running")
        role = view.get("role") or ("down" if running is False else "?")
        rows.append([name, view.get("url") or "-", view.get("version") or "-", role])
    console.print(
        render.table(f"{status.target_kind} environment", ["", "endpoint", "version", "role"], rows)
    )
    if status.cluster:
        nodes = [
            [name, node.get("url"), " ".join(f"{a}-{b}" for a, b in node.get("slots") or []),
             node.get("role") or ("down" if node.get("running") is False else "?")]
            for name in ("source", "target")
            for node in (getattr(status, name) or {}).get("nodes", [])
        ]  # fmt: skip
        console.print(render.table("cluster nodes", ["", "node", "slots", "role"], nodes))
    console.print(f"migration state: [bold]{status.migration.get('state')}[/bold]")
    _show_aws_extras(status, console)


def _show_aws_extras(status: EnvironmentStatus, console: Any) -> None:
    """The host's build when it is not plainly done, the tunnel, the dashboard (AWS only)."""
    lines = []
    build = (status.source or {}).get("build") or {}
    if build.get("state") in ("failed", "building"):
        lines.append(f"source host build: {build['state']} — {build.get('line')} ({build.get('log')})")
    tunnel = status.migration.get("tunnel") or {}
    if tunnel.get("state") == "dropped":
        lines.append(f"tunnel: dropped — {tunnel.get('detail')} (run `migrator tunnel` again)")
    elif tunnel.get("state") == "open":
        lines.append("tunnel: " + "  ".join(f"{f['name']} {f['local_url']}" for f in tunnel["forwards"]))
    if status.migration.get("dashboard_url"):
        lines.append(f"dashboard: {status.migration['dashboard_url']}")
    for line in lines:
        # Never wrapped: URLs and log names are copied from here. Not markup: log lines may hold brackets.
        console.print(line, soft_wrap=True, markup=False)


@app.command(
    epilog="Examples:  migrator up  ·  migrator up --source-version 7.4 --target-version 8.1  ·  "
    "migrator up --source-port 7000 --target-port 7001  ·  migrator up --shards 3  ·  "
    "migrator up --target aws --var-file prod.tfvars"
)
def up(
    ctx: typer.Context,
    target: Annotated[
        TargetKind | None,
        typer.Option(
            help="local: redis-server + valkey-server on loopback; aws: terraform apply. "
            "Default: the workspace's target, else local."
        ),
    ] = None,
    auto_approve: Annotated[bool, typer.Option("--auto-approve", help="aws: apply without asking.")] = False,
    allow_replace: Annotated[
        bool,
        typer.Option(
            "--allow-replace",
            help="aws: let the plan replace the Redis host or the Valkey group without asking "
            "(never while migrating).",
        ),
    ] = False,
    no_wait_host: Annotated[
        bool, typer.Option("--no-wait-host", help="aws: do not wait for the Redis host's build verdict.")
    ] = False,
    host_timeout: Annotated[
        float | None,
        typer.Option(help="aws: seconds to wait for the Redis host's build verdict (default 900)."),
    ] = None,
    var_file: VarFileOpt = None,
    region: RegionOpt = None,
    terraform_bin: TerraformBinOpt = None,
    terraform_dir: TerraformDirOpt = None,
    redis_server: Annotated[
        str | None, typer.Option(envvar="MIGRATOR_REDIS_SERVER", help="local: source server binary.")
    ] = None,
    valkey_server: Annotated[
        str | None, typer.Option(envvar="MIGRATOR_VALKEY_SERVER", help="local: target server binary.")
    ] = None,
    bridge_server: Annotated[
        str | None,
        typer.Option(
            envvar="MIGRATOR_BRIDGE_SERVER",
            help="local: bridge binary, a valkey-server >= 9 (default: the matrix's Valkey 9.1).",
        ),
    ] = None,
    source_version: Annotated[
        str | None,
        typer.Option(help="local: source Redis from the server matrix (7.0, 7.4; `make servers`)."),
    ] = None,
    target_version: Annotated[
        str | None,
        typer.Option(help="local: target Valkey from the server matrix (8.0, 8.1, 9.1; `make servers`)."),
    ] = None,
    source_port: Annotated[int | None, typer.Option(help="local: source port (default: a free one).")] = None,
    target_port: Annotated[int | None, typer.Option(help="local: target port (default: a free one).")] = None,
    shards: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="local: N >= 2 makes the source a Redis Cluster of N masters and the target a Valkey "
            "cluster of N shards (default 1: the standalone pair).",
        ),
    ] = None,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Provision the source and target (local servers, or terraform apply on AWS)."""
    from migrator.lifecycle.protocol import UpRequest
    from migrator.lifecycle.registry import environment

    ws = workspace(ctx)
    state = ws.load()
    kind = target or TargetKind(state.target_kind if state else "local")
    request = UpRequest(
        auto_approve=auto_approve,
        confirm=partial(confirm, auto_approve=auto_approve),
        stage=render.progress,  # one progress display per stage: prompts come between them
        redis_server=redis_server,
        valkey_server=valkey_server,
        bridge_server=bridge_server,
        source_version=source_version,
        target_version=target_version,
        source_port=source_port,
        target_port=target_port,
        shards=shards,
        var_files=var_file or [],
        region=region,
        terraform_bin=terraform_bin,
        terraform_dir=terraform_dir,
        allow_replace=allow_replace,
        confirm_replace=partial(confirm, auto_approve=allow_replace, flag="--allow-replace"),
        no_wait_host=no_wait_host,
        host_timeout=host_timeout,
    )
    result = environment(kind.value, state, shards).up(ws, request)
    if result.already_running and not result.started:
        render.notice("already running; nothing to do")
    document = {
        **render.to_jsonable(result.status),
        "started": result.started,
        "already_running": result.already_running,
    }
    render.emit(document, partial(_show_environment, result.status))


@app.command(epilog="Examples:  migrator down  ·  migrator down --purge  ·  migrator down --auto-approve")
def down(
    ctx: typer.Context,
    auto_approve: Annotated[
        bool, typer.Option("--auto-approve", help="Do not ask (aws destroy, purge).")
    ] = False,
    purge: Annotated[
        bool, typer.Option("--purge", help="local: also delete logs and the workspace.")
    ] = False,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Tear everything down (stop local servers, or terraform destroy on AWS)."""
    from migrator.lifecycle.protocol import DownRequest
    from migrator.lifecycle.registry import environment

    ws = workspace(ctx)
    state = ws.load()
    request = DownRequest(
        auto_approve=auto_approve, purge=purge, confirm=partial(confirm, auto_approve=auto_approve)
    )
    result = environment(state.target_kind if state else "local", state).down(ws, state, request)
    render.emit(result, lambda console: console.print(result.get("message", "done")))


@app.command(epilog="Examples:  migrator status  ·  migrator status --output json")
def status(ctx: typer.Context, output: OutputOpt = OutputFormat.text) -> None:
    """Show what exists: target kind, endpoints, server versions, migration state."""
    ws = workspace(ctx)
    state = ws.load()
    if state is None:
        render.emit(
            {"target_kind": None, "source": None, "target": None, "migration": None},
            lambda console: console.print("nothing is up here; run `migrator up`"),
        )
        return
    from migrator.lifecycle.registry import environment

    env = environment(state.target_kind, state).describe(ws, state)
    render.emit(env, partial(_show_environment, env))
