"""The AWS environment: `up` (terraform init/plan/apply + outputs into the workspace), `down`, `describe`.

The module is copied into `<workspace>/terraform/` and run there, so Terraform's local state lives beside
state.json and `down` always destroys what `up` made, whichever directory the command runs from.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migrator.aws.outputs import source_port
from migrator.errors import Code, MigratorError
from migrator.lifecycle.protocol import DownRequest, UpRequest, UpResult
from migrator.lifecycle.results import EnvironmentStatus, ProgressCallback
from migrator.state import AwsRecord, State, Workspace
from migrator.terraform_adapter import (
    PlanSummary,
    Replacement,
    Terraform,
    TerraformBinary,
    find_terraform,
    module_source,
    sync_module,
)

if TYPE_CHECKING:
    from migrator.aws.host import HostVerdict

# What a replacement of these costs a migration (`user_data_replace_on_change` makes any edit of the host's
# user data one): up refuses it while migrating and asks before it otherwise, even with --auto-approve.
PROTECTED = {
    "aws_instance": "the Redis source host (a new private IP; the data on the old host is gone)",
    "aws_elasticache_replication_group": "the ElastiCache target group (a new, empty group)",
}


def _working_dir(workspace: Workspace) -> Path:
    return workspace.path / "terraform"


def _binary(workspace: Workspace, terraform_bin: str | None) -> TerraformBinary:
    return find_terraform(terraform_bin, shim_dir=workspace.path / "bin")


def _runner(workspace: Workspace, binary: TerraformBinary, aws: AwsRecord) -> Terraform:
    variables = {"region": aws.region} if aws.region else {}
    return Terraform(
        binary,
        Path(aws.terraform_dir or _working_dir(workspace)),
        var_files=[Path(f) for f in aws.var_files],
        variables=variables,
        log_dir=workspace.logs_dir,
    )


def _recorded_binary(workspace: Workspace, aws: AwsRecord) -> TerraformBinary:
    """The binary `up` used, or whatever is found now if it has moved since."""
    if aws.terraform_bin:
        try:
            return _binary(workspace, aws.terraform_bin)
        except MigratorError:
            pass
    return _binary(workspace, None)


def _check_var_files(var_files: list[Path]) -> list[str]:
    missing = [str(f) for f in var_files if not Path(f).is_file()]
    if missing:
        raise MigratorError(
            f"--var-file not found: {', '.join(missing)}",
            "pass an existing .tfvars file",
            Code.VAR_FILE_NOT_FOUND,
        )
    return [str(Path(f).absolute()) for f in var_files]


def prepare(
    workspace: Workspace,
    *,
    var_files: list[Path],
    region: str | None,
    terraform_bin: str | None,
    terraform_dir: Path | None,
    recorded: AwsRecord | None = None,
) -> tuple[Terraform, AwsRecord]:
    """Find terraform, copy the module into the workspace and init it; return the runner and aws record."""
    from migrator.aws.clients import default_region

    recorded = recorded or AwsRecord()
    files = _check_var_files(var_files) if var_files else list(recorded.var_files)
    source = module_source(
        terraform_dir or (Path(recorded.module_source) if recorded.module_source else None)
    )
    binary = _binary(workspace, terraform_bin or recorded.terraform_bin)
    aws = dataclasses.replace(
        recorded,
        region=region or recorded.region or default_region(),
        module_source=str(source),
        terraform_dir=str(_working_dir(workspace)),
        terraform_bin=binary.path,
        terraform_version=f"{binary.flavor} {binary.version}",
        var_files=files,
    )
    changed = sync_module(source, _working_dir(workspace))
    runner = _runner(workspace, binary, aws)
    if changed or not (_working_dir(workspace) / ".terraform").is_dir():
        runner.init()
    return runner, aws


def plan(
    workspace: Workspace,
    *,
    var_files: list[Path],
    region: str | None,
    terraform_bin: str | None,
    terraform_dir: Path | None = None,
    destroy: bool = False,
) -> PlanSummary:
    """`migrator plan`: what `up` (or `down`, with destroy) would change; nothing is applied or recorded."""
    state = workspace.load()
    recorded = state.aws if state and state.target_kind == "aws" else AwsRecord()
    runner, _ = prepare(
        workspace,
        var_files=var_files,
        region=region,
        terraform_bin=terraform_bin,
        terraform_dir=terraform_dir,
        recorded=recorded,
    )
    return runner.plan(_working_dir(workspace) / "tfplan", destroy=destroy)


def _stage(request: UpRequest, description: str, total: int | None) -> AbstractContextManager[Any]:
    """A progress display for one stage of `up` (none when the caller gave no way to show one)."""
    return request.stage(description, total) if request.stage else contextlib.nullcontext(request.progress)


def protected_replacements(summary: PlanSummary) -> list[Replacement]:
    return [r for r in summary.replaced if r.resource_type in PROTECTED]


def _migrating(state: State) -> bool:
    """The workspace says migrating, or ElastiCache does (asked only when a replacement is at stake)."""
    if state.migration_state == "migrating":
        return True
    group_id = state.aws.outputs.get("replication_group_id")
    if not group_id:
        return False
    from migrator.aws.elasticache import ReplicationGroup

    try:
        return ReplicationGroup(group_id, state.aws.region).describe().get("Status") == "migrating"
    except MigratorError:
        return False  # no group yet (or no answer): the workspace's state stands


def _guard_replacements(state: State, summary: PlanSummary, question: str, request: UpRequest) -> bool:
    """Refuse a plan that replaces the source host or target group while migrating; else ask about it,
    even under --auto-approve, unless --allow-replace. True when that question was asked (and answered)."""
    replaced = protected_replacements(summary)
    if not replaced:
        return False
    what = "; ".join(f"{r.address}, {PROTECTED[r.resource_type]}, because {r.reason}" for r in replaced)
    if _migrating(state):
        raise MigratorError(
            f"the plan replaces {what} — while a migration runs",
            "finish it first (`migrator migrate complete`) or undo the change that forces the replacement; "
            "nothing was applied",
            Code.REPLACE_WHILE_MIGRATING,
        )
    if request.allow_replace:
        return False
    if request.confirm_replace is None:
        raise MigratorError(
            f"the plan replaces {what}",
            "pass --allow-replace to replace it unattended; nothing was applied",
            Code.CONFIRMATION_REQUIRED,
        )
    request.confirm_replace(f"WARNING: the plan REPLACES {what}. {question}")
    return True


def up(workspace: Workspace, request: UpRequest) -> EnvironmentStatus:
    """Create (or update) the AWS environment, record its outputs, and wait for the source host's build."""
    from migrator.aws.clients import check_credentials, default_region
    from migrator.aws.host import DEFAULT_TIMEOUT

    foreign = request.given(UpRequest.LOCAL_OPTIONS)
    if foreign:
        raise MigratorError(
            f"{', '.join(foreign)} apply to the local target only",
            "drop them, or use --target local",
            Code.INVALID_VALUE,
        )
    host_timeout = DEFAULT_TIMEOUT if request.host_timeout is None else request.host_timeout
    if host_timeout <= 0:
        raise MigratorError(
            f"--host-timeout {host_timeout:g} is not a duration", "give seconds > 0", Code.INVALID_VALUE
        )
    state = workspace.load()
    if state is not None and state.target_kind == "local" and state.servers:
        raise MigratorError(
            f"a local environment exists in {workspace.path}",
            "run `migrator down` first, or pass another --workspace",
            Code.WRONG_TARGET,
        )
    state = state if state is not None and state.target_kind == "aws" else State(target_kind="aws")
    # Every check that needs no money comes first: binary and version, var files, credentials.
    binary = _binary(workspace, request.terraform_bin)
    files = _check_var_files(request.var_files)
    wanted_region = request.region or state.aws.region
    identity = check_credentials(wanted_region or default_region() or "us-east-1")
    with _stage(request, "terraform init and plan", None):
        runner, aws = prepare(
            workspace,
            var_files=[Path(f) for f in files],
            region=wanted_region,
            terraform_bin=binary.path,
            terraform_dir=request.terraform_dir,
            recorded=state.aws,
        )
        summary = runner.plan(_working_dir(workspace) / "tfplan")
    aws.account = identity["account"]
    state.target_kind, state.aws = "aws", aws
    if summary.total:
        question = (
            f"Terraform plan: {summary.sentence()} in AWS account {identity['account']}, region "
            f"{aws.region or 'from the module default'}. These resources cost money "
            "(`migrator cost`). Apply?"
        )
        asked = _guard_replacements(state, summary, question, request)
        if not asked and not request.auto_approve and request.confirm is not None:
            request.confirm(question)
        # Saved before apply (not before a refused or cancelled prompt): if apply fails half-way, `down`
        # still knows what to destroy.
        workspace.save(state)
        with _stage(request, "terraform apply (resources)", summary.total) as advance:
            runner.apply(Path(summary.plan_file or ""), progress=advance, total=summary.total)
    outputs = runner.output()

    def record(current: State) -> None:
        current.target_kind = "aws"
        current.aws = dataclasses.replace(
            aws,
            outputs=outputs,
            region=outputs.get("region") or aws.region,
            applied=True,
            tunnel=current.aws.tunnel,
            host=current.aws.host,
        )
        current.add_event(f"terraform apply: {summary.sentence()}")

    fresh = state
    state = workspace.update(record, new=lambda: fresh)
    if request.no_wait_host:
        return status_from_outputs(state)
    # A host already seen built stays built (its log may have aged out of CloudWatch since).
    verdict = recorded_verdict(state)
    if verdict is None or verdict.state != "done":
        verdict = _wait_for_host(workspace, state, host_timeout, request)
    if verdict.state == "failed":
        raise verdict.failure()
    return status_from_outputs(workspace.require(), verdict)


def _wait_for_host(workspace: Workspace, state: State, timeout: float, request: UpRequest) -> HostVerdict:
    """Poll the host's build log until its verdict, and keep the verdict in the workspace."""
    from migrator.aws.host import HostLog, wait_for_build

    log = HostLog(state.aws.outputs, state.aws.region)
    advance: ProgressCallback | None
    with _stage(request, "Redis host build (seconds waited for its verdict)", int(timeout)) as advance:
        verdict = wait_for_build(log, timeout, progress=advance)

    def remember(current: State) -> None:
        current.aws.host = verdict.record()
        current.add_event(f"source host {verdict.instance_id}: {verdict.line}")

    workspace.update(remember)
    return verdict


def down(
    workspace: Workspace, state: State, *, auto_approve: bool, confirm: Callable[[str], None] | None
) -> dict[str, Any]:
    """Destroy everything `up` created (after confirmation), then forget the environment."""
    from migrator.aws import tunnel

    aws = state.aws
    if not aws.terraform_dir:
        workspace.remove_state()
        return {"ok": True, "destroyed": False, "message": "nothing to stop"}
    outputs = aws.outputs
    what = (
        ", ".join(
            f"{k} {outputs[k]}"
            for k in ("replication_group_id", "redis_instance_id", "vpc_id")
            if outputs.get(k)
        )
        or "the partly created environment"
    )
    warnings = []
    if state.migration_state == "migrating":
        warnings.append("a migration was in progress; the target is destroyed with it")
    if not auto_approve and confirm is not None:
        confirm(
            f"Destroy the AWS environment ({what}) in region {aws.region}? "
            "Data on the Redis host and in ElastiCache is lost."
        )
    tunnel.close(workspace, state)
    runner = _runner(workspace, _recorded_binary(workspace, aws), aws)
    if not (Path(aws.terraform_dir) / ".terraform").is_dir():
        runner.init()
    runner.destroy()
    workspace.remove_state()
    return {
        "ok": True,
        "destroyed": True,
        "region": aws.region,
        "resources": what,
        "warnings": warnings,
        "message": f"destroyed {what}",
    }


def recorded_verdict(state: State) -> HostVerdict | None:
    """The build verdict `up` kept, if it is the current host's (a replaced host has a verdict of its own)."""
    from migrator.aws.host import HostLog, from_record

    record, outputs = state.aws.host, state.aws.outputs
    if record is None or record.instance_id != outputs.get("redis_instance_id"):
        return None
    return from_record(record, HostLog(outputs, state.aws.region).location)


def status_from_outputs(state: State, verdict: HostVerdict | None = None) -> EnvironmentStatus:
    """`migrator status` from what the workspace recorded (no AWS call).

    The source's version is what the host reported (its build log, or INFO through the tunnel), never the
    `redis_version` variable: a host that failed to build runs no Redis of that version.
    """
    from migrator.aws import tunnel as tunnels

    aws = state.aws
    out = aws.outputs
    verdict = verdict or recorded_verdict(state)
    tunnel = tunnels.health(state)
    local = {f.name: tunnels.local_url(f) for f in tunnel.forwards} if tunnel.state == "open" else {}
    source: dict[str, Any] = {
        "url": f"redis://{out['redis_private_ip']}:{source_port(out)}"
        if out.get("redis_private_ip")
        else None,
        "version": (verdict.version if verdict else None) or "",
        "configured_version": out.get("redis_version"),
        "role": "master",
        "instance_id": out.get("redis_instance_id"),
        "instance_type": out.get("redis_instance_type"),
        "local_url": local.get("source"),
        "build": verdict.to_dict() if verdict else {"state": "unknown", "line": None},
    }
    port = out.get("valkey_port") or 6379
    target: dict[str, Any] = {
        "url": f"redis://{out['valkey_primary_endpoint']}:{port}"
        if out.get("valkey_primary_endpoint")
        else None,
        "reader_url": f"redis://{out['valkey_reader_endpoint']}:{port}"
        if out.get("valkey_reader_endpoint")
        else None,
        "version": "",
        "role": "primary",
        "replication_group_id": out.get("replication_group_id"),
        "node_type": out.get("valkey_node_type"),
        "nodes": out.get("valkey_num_cache_clusters"),
        "local_url": local.get("target"),
    }
    migration = {
        "state": state.migration_state,
        "region": aws.region,
        "terraform_dir": aws.terraform_dir,
        # `terraform output -json` leaves out null outputs: no key means no dashboard.
        "dashboard_url": out.get("dashboard_url"),
        "tunnel": tunnel.to_dict(),
        "events": state.events[-5:],
    }
    return EnvironmentStatus(target_kind="aws", source=source, target=target, migration=migration)


def _reported_version(status: EnvironmentStatus, state: State) -> None:
    """Fill the source's version as the host reports it: INFO through an open tunnel, else its build log."""
    from migrator.aws.host import HostLog

    if status.source.get("local_url"):
        from migrator.endpoints import connect

        try:
            client = connect(status.source["local_url"], "source", timeout=2)
        except MigratorError as err:
            status.source["error"] = err.one_line()
        else:
            try:
                status.source["version"] = str(client.info("server").get("redis_version", ""))
                status.source["version_from"] = "INFO through the tunnel"
            finally:
                client.close()
            return
    if status.source["build"]["state"] in ("done", "failed") or not status.source.get("instance_id"):
        return
    try:
        verdict = HostLog(state.aws.outputs, state.aws.region).poll()
    except MigratorError as err:
        status.source["build"] = {**status.source["build"], "error": err.one_line()}
        return
    status.source["build"] = verdict.to_dict()
    status.source["version"] = verdict.version or ""


def describe(workspace: Workspace, state: State) -> EnvironmentStatus:
    """What exists: the recorded outputs, the host's reported version, the group's live status from AWS."""
    from migrator.aws.elasticache import ReplicationGroup

    status = status_from_outputs(state)
    group_id = state.aws.outputs.get("replication_group_id")
    if not group_id:
        status.migration["group_status"] = "not created (run `migrator up --target aws`)"
        return status
    _reported_version(status, state)
    try:
        live = group_summary(ReplicationGroup(group_id, state.aws.region or state.aws.outputs.get("region")))
    except MigratorError as err:
        # `status` reports; an unreachable AWS API must not hide what the workspace knows.
        status.target["error"] = err.one_line()
        return status
    status.target["version"] = live.get("engine_version", "")
    status.target["status"] = live.get("status")
    status.migration["group_status"] = live.get("status")
    return status


def group_summary(group: Any) -> dict[str, Any]:
    """Status and engine version of the group, for `migrator status`."""
    described = group.describe()
    members = described.get("MemberClusters") or []
    version = group.member(members[0]).get("EngineVersion", "") if members else ""
    return {"status": described.get("Status"), "engine_version": version}


def refresh_outputs(workspace: Workspace, state: State) -> dict[str, Any]:
    """`terraform output -json` of the recorded module, saved into the workspace."""
    aws = state.aws
    if not aws.terraform_dir:
        raise MigratorError(
            "the workspace records no terraform directory",
            "run `migrator up --target aws`",
            Code.NO_ENVIRONMENT,
        )
    outputs = _runner(workspace, _recorded_binary(workspace, aws), aws).output()

    def record(current: State) -> None:
        current.aws.outputs = outputs
        current.aws.region = outputs.get("region") or current.aws.region

    workspace.update(record)
    return outputs


class AwsEnvironment:
    kind = "aws"

    def up(self, workspace: Workspace, request: UpRequest) -> UpResult:
        status = up(workspace, request)
        return UpResult(status)

    def down(self, workspace: Workspace, state: State | None, request: DownRequest) -> dict[str, Any]:
        if state is None:
            return {"stopped": [], "message": "nothing to stop"}
        return down(workspace, state, auto_approve=request.auto_approve, confirm=request.confirm)

    def describe(self, workspace: Workspace, state: State) -> EnvironmentStatus:
        return describe(workspace, state)
