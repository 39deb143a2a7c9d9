"""The local environment: a Redis source and a Valkey target on loopback, started and stopped by us."""

from __future__ import annotations

import contextlib
import shutil
from typing import Any

from migrator.endpoints import connect
from migrator.errors import Code, MigratorError
from migrator.lifecycle.protocol import DownRequest, UpRequest, UpResult
from migrator.lifecycle.results import EnvironmentStatus
from migrator.local import bridge as bridges
from migrator.local import matrix, processes
from migrator.local.layout import server_url, spec_for
from migrator.local.processes import LOOPBACK, ServerSpec
from migrator.state import ServerRecord, State, Workspace

ROLES = ("source", "target")
BINARIES = {"source": "redis-server", "target": "valkey-server"}
ENGINES = {"source": "redis", "target": "valkey"}


def _binary(role: str, explicit: str | None, version: str | None) -> str:
    """An explicit binary wins; else the matrix's build of `version`; else the one on PATH."""
    if explicit:
        return processes.resolve_binary(BINARIES[role], explicit)
    if version:
        return matrix.resolve(ENGINES[role], version)
    return processes.resolve_binary(BINARIES[role], None)


def _refuse_foreign(workspace: Workspace, state: State | None) -> None:
    if state is not None and state.target_kind != "local":
        raise MigratorError(
            f"workspace {workspace.path} holds an {state.target_kind} environment",
            "run `migrator down` first, or use another --workspace",
            Code.WRONG_TARGET,
        )


class LocalEnvironment:
    kind = "local"

    def up(self, workspace: Workspace, request: UpRequest) -> UpResult:
        """Start what is not running; re-establish replication when the saved state is `migrating`."""
        foreign = request.given(UpRequest.AWS_OPTIONS)
        if foreign:
            raise MigratorError(
                f"{', '.join(foreign)} apply to the aws target only",
                "add --target aws, or drop them",
                Code.INVALID_VALUE,
            )
        for port, name in ((request.source_port, "--source-port"), (request.target_port, "--target-port")):
            if port is not None and not 0 < port < 65536:
                raise MigratorError(f"{name} {port} is not a TCP port", "use 1-65535", Code.INVALID_PORT)
        state = workspace.load()
        _refuse_foreign(workspace, state)
        state = state or State(target_kind="local")
        wanted = {
            "source": (request.redis_server or request.source_version, request.source_port),
            "target": (request.valkey_server or request.target_version, request.target_port),
        }
        # Resolve every binary before starting anything, so a missing one leaves nothing half-started.
        binaries = {
            "source": _binary("source", request.redis_server, request.source_version),
            "target": _binary("target", request.valkey_server, request.target_version),
        }
        bridge = bridges.record_for(workspace, state, request.bridge_server)
        started_specs: list[tuple[ServerSpec, int]] = []
        started: list[str] = []
        running: list[str] = []
        try:
            for role in ROLES:
                record = state.servers.get(role)
                if record and processes.is_ours(record.pid, spec_for(workspace, record)):
                    running.append(role)
                    continue
                taken = {r.port for r in state.servers.values()}
                port = record.port if record else (wanted[role][1] or processes.free_port(taken=taken))
                binary = record.binary if record and not wanted[role][0] else binaries[role]
                record = ServerRecord(role, binary, port, version=processes.binary_version(binary))
                spec = spec_for(workspace, record)
                record.pid = processes.start(spec)
                started_specs.append((spec, record.pid))
                state.servers[role] = record
                started.append(role)
        except MigratorError:
            for spec, pid in started_specs:
                processes.stop(pid, spec)
            raise
        if bridge is not None:
            state.servers[bridges.ROLE] = bridge
        servers = dict(state.servers)

        def record_servers(current: State) -> None:
            current.servers.update(servers)
            if started:
                current.add_event(f"Started local {', '.join(started)}")

        state = workspace.update(record_servers, new=lambda: State(target_kind="local"))
        if state.migration_state == "migrating":
            restarted = _resume_replication(workspace, state, started)
            if started or restarted:
                started += restarted
                state = workspace.update(lambda s: s.add_event("Re-established replication after restart"))
        return UpResult(self.describe(workspace, state), started, running)

    def down(self, workspace: Workspace, state: State | None, request: DownRequest) -> dict[str, Any]:
        """Stop exactly the processes this workspace started; keep logs unless `purge`."""
        if request.purge and request.confirm is not None:
            request.confirm(f"delete the workspace {workspace.path} with its logs")
        if state is None:
            if request.purge and workspace.path.exists():
                shutil.rmtree(workspace.path)
            return {"stopped": [], "message": "nothing to stop"}
        _refuse_foreign(workspace, state)
        stopped: list[str] = []
        stale: list[str] = []
        for role, record in state.servers.items():
            if record.pid is None:
                continue  # recorded, never started (a bridge not used yet)
            spec = spec_for(workspace, record)
            (stopped if processes.stop(record.pid, spec) else stale).append(role)
            shutil.rmtree(spec.workdir, ignore_errors=True)
        if request.purge:
            shutil.rmtree(workspace.path, ignore_errors=True)
        else:
            workspace.remove_state()
        message = f"stopped {', '.join(stopped)}" if stopped else "nothing to stop"
        if stale:
            message += f" (already gone: {', '.join(stale)})"
        return {"stopped": stopped, "already_gone": stale, "purged": request.purge, "message": message}

    def describe(self, workspace: Workspace, state: State) -> EnvironmentStatus:
        target = _server_view(workspace, state, "target")
        target["reader_url"] = target["url"]
        return EnvironmentStatus(
            target_kind="local",
            source=_server_view(workspace, state, "source"),
            target=target,
            migration={"state": state.migration_state, "workspace": str(workspace.path)},
        )


def _resume_replication(workspace: Workspace, state: State, started: list[str]) -> list[str]:
    """After a restart mid-migration: a dead bridge comes back, and each restarted replica re-attaches.

    Returns the roles restarted here (the bridge); `started` are those `up` started itself."""
    restarted: list[str] = []
    upstream = state.servers["source"].port
    if state.bridged:
        if not bridges.running(workspace, state):
            restarted.append(bridges.ROLE)
        upstream = bridges.start(workspace, upstream).port  # (re)attaches it to the source either way
    if "target" in started or restarted:
        target = connect(server_url(state, "target"), "target")
        try:
            target.replicaof(LOOPBACK, upstream)
        finally:
            target.close()
    return restarted


def _server_view(workspace: Workspace, state: State, role: str) -> dict[str, Any]:
    record = state.servers.get(role)
    if record is None:
        return {"url": None, "version": None, "role": None, "running": False}
    running = processes.is_ours(record.pid, spec_for(workspace, record))
    server_role = None
    if running:
        with contextlib.suppress(MigratorError):
            client = connect(server_url(state, role), role, timeout=2)
            server_role = client.info("replication").get("role")
            client.close()
    return {
        "url": server_url(state, role),
        "version": record.version,
        "role": server_role,
        "running": running,
        "pid": record.pid,
        "port": record.port,
    }
