"""`plan`, `outputs`, `cost`, `tunnel`: the AWS target's own commands (thin wiring over migrator.aws)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from migrator import render
from migrator.cli.apps import app
from migrator.cli.common import OutputOpt, RegionOpt, TerraformBinOpt, TerraformDirOpt, VarFileOpt, workspace
from migrator.errors import Code, MigratorError
from migrator.render import OutputFormat

if TYPE_CHECKING:
    from migrator.state import State, Workspace


def _aws_state(ws: Workspace) -> State:
    state = ws.require()
    if state.target_kind != "aws":
        raise MigratorError(
            f"the environment in {ws.path} is {state.target_kind}, not aws",
            "run `migrator up --target aws` (in another --workspace)",
            Code.WRONG_TARGET,
        )
    return state


def _show_plan(summary: Any, console: Any) -> None:
    console.print(f"Plan: {summary.sentence()}.")
    for replaced in summary.replaced:
        console.print(f"replaces {replaced.sentence()}", soft_wrap=True, markup=False)
    for address in summary.resources[:40]:
        console.print(f"  {address}")
    if len(summary.resources) > 40:
        console.print(f"  … and {len(summary.resources) - 40} more")


def _show_cost(estimate: Any, console: Any) -> None:
    rows = [
        [ln.item, ln.quantity, f"${ln.unit_hourly:.4f}", f"${ln.hourly:.4f}", f"${ln.monthly:.2f}"]
        for ln in estimate.lines
    ]
    rows.append(["total", "", "", f"${estimate.hourly:.4f}", f"${estimate.monthly:.2f}"])
    console.print(
        render.table(
            f"estimated cost ({estimate.price_region} on-demand prices of {estimate.prices_as_of}, USD)",
            ["item", "qty", "unit/h", "per hour", "per month"],
            rows,
        )
    )
    console.print("not included: " + "; ".join(estimate.not_included))
    for warning in estimate.warnings:
        console.print(f"note: {warning}")


@app.command(epilog="Examples:  migrator plan  ·  migrator plan --var-file prod.tfvars --region eu-west-1")
def plan(
    ctx: typer.Context,
    var_file: VarFileOpt = None,
    region: RegionOpt = None,
    terraform_bin: TerraformBinOpt = None,
    terraform_dir: TerraformDirOpt = None,
    destroy: Annotated[bool, typer.Option("--destroy", help="Plan what `down` would destroy.")] = False,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Show what `migrator up --target aws` would create or change (terraform plan); applies nothing."""
    from migrator.aws import environment

    summary = environment.plan(
        workspace(ctx),
        var_files=var_file or [],
        region=region,
        terraform_bin=terraform_bin,
        terraform_dir=terraform_dir,
        destroy=destroy,
    )
    document = {
        "add": summary.add,
        "change": summary.change,
        "destroy": summary.destroy,
        "resources": summary.resources,
        # Destroyed and created again (a new id, the data gone): `up` guards the host and the group.
        "replaced": [
            {"address": r.address, "type": r.resource_type, "reason": r.reason} for r in summary.replaced
        ],
    }
    render.emit(document, lambda console: _show_plan(summary, console))


@app.command(
    epilog="Examples:  migrator outputs  ·  migrator outputs valkey_primary_endpoint  ·  "
    "migrator outputs -o json"
)
def outputs(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="One output's name (default: all).")] = None,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Read `terraform output` of the AWS environment (and refresh the workspace's copy)."""
    from migrator.aws import environment

    ws = workspace(ctx)
    values = environment.refresh_outputs(ws, _aws_state(ws))
    if name is not None:
        if name not in values:
            raise MigratorError(
                f"no terraform output named {name!r}",
                f"one of: {', '.join(sorted(values))}",
                Code.UNKNOWN_OUTPUT,
            )
        render.emit(values[name], lambda console: console.print(str(values[name])))
        return
    rows = [[key, value] for key, value in sorted(values.items())]
    render.emit(
        values, lambda console: console.print(render.table("terraform outputs", ["name", "value"], rows))
    )


@app.command(
    epilog="Examples:  migrator cost  ·  migrator cost --node-type cache.r6g.large --nodes 3  ·  "
    "migrator cost --shards 3 --nodes 2"
)
def cost(
    ctx: typer.Context,
    instance_type: Annotated[str | None, typer.Option(help="EC2 type of the Redis host.")] = None,
    node_type: Annotated[str | None, typer.Option(help="ElastiCache node type.")] = None,
    nodes: Annotated[
        int | None, typer.Option(help="ElastiCache nodes per shard (primary + replicas).")
    ] = None,
    shards: Annotated[
        int | None, typer.Option(min=1, help="ElastiCache shards (node groups; > 1 is cluster mode).")
    ] = None,
    region: RegionOpt = None,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Estimate hourly and monthly cost of the AWS environment (price table in code; no network).

    Without options: the workspace's outputs after `up --target aws`, else the module's defaults.
    """
    from migrator.aws import cost as pricing

    state = workspace(ctx).load()
    recorded = state.aws.outputs if state and state.target_kind == "aws" else {}
    settings = {**pricing.DEFAULTS, **{k: v for k, v in recorded.items() if k in pricing.DEFAULTS and v}}
    estimate = pricing.estimate(
        instance_type or str(settings["redis_instance_type"]),
        node_type or str(settings["valkey_node_type"]),
        (nodes if nodes is not None else int(settings["valkey_num_cache_clusters"]))
        * (shards if shards is not None else int(settings["valkey_num_node_groups"])),
        region
        or (state.aws.region if state and state.target_kind == "aws" else None)
        or pricing.PRICE_REGION,
    )
    render.emit(estimate.to_dict(), lambda console: _show_cost(estimate, console))


@app.command(epilog="Examples:  migrator tunnel  ·  migrator tunnel --background  ·  migrator tunnel --close")
def tunnel(
    ctx: typer.Context,
    local_port: Annotated[
        int,
        typer.Option(help="Local port for the source; the target (and the bridge) get the next ones."),
    ] = 16379,
    background: Annotated[bool, typer.Option("--background", help="Detach; close with --close.")] = False,
    close: Annotated[bool, typer.Option("--close", help="Close this workspace's tunnel.")] = False,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Open SSH forwards over the EC2 Instance Connect Endpoint to Redis and Valkey (AWS CLI >= 2.12).

    The endpoint ends a connection after an hour at most: the tunnel reconnects by itself (a fresh
    SendSSHPublicKey each time) and says so on stderr (with --background: in the workspace's
    tunnel/tunnel.log). --close ends it with its ssh and ProxyCommand.
    """
    from migrator.aws import tunnel as tunnels

    ws = workspace(ctx)
    state = _aws_state(ws)
    if close:
        closed = tunnels.close(ws, state)
        render.emit(
            {"ok": True, "closed": closed},
            lambda console: console.print("tunnel closed" if closed else "no tunnel was open"),
        )
        return
    if not 0 < local_port < 65534:
        raise MigratorError(f"--local-port {local_port} is not usable", "use 1024-65533", Code.INVALID_PORT)

    def ready(spec: tunnels.TunnelSpec) -> None:
        document = {
            "ok": True,
            "source_url": spec.source_url,
            "target_url": spec.target_url,
            "forwards": {f.name: tunnels.local_url(f) for f in spec.forwards},
            "background": background,
        }
        urls = "  ".join(f"{f.name} {tunnels.local_url(f)}" for f in spec.forwards)
        render.emit(
            document,
            lambda console: console.print(
                urls + ("" if background else "  (Ctrl-C closes the tunnel; it reconnects when dropped)")
            ),
        )

    tunnels.open_tunnel(ws, state, local_port=local_port, background=background, on_ready=ready)
