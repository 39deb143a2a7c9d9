"""The local cluster environment: a Redis Cluster of N masters (source) and a Valkey cluster of N shards
(target) on loopback, both with redis-cli's even slot layout, started and stopped by us.

`migrator up --shards N` (N >= 2) builds it; the standalone pair stays `local.environment`'s.
"""

from __future__ import annotations

import contextlib
import shutil
from typing import Any

from migrator.endpoints import connect
from migrator.errors import Code, MigratorError
from migrator.lifecycle.protocol import DownRequest, UpRequest, UpResult
from migrator.lifecycle.results import EnvironmentStatus
from migrator.local import cluster, cluster_nodes, processes
from migrator.local.cluster_nodes import ROLES, node_spec, node_url
from migrator.local.environment import _binary, _refuse_foreign
from migrator.state import ServerRecord, State, Workspace

MAX_SHARDS = 16  # as the Terraform module's redis_cluster_masters; beyond it a laptop runs out of cores


def _check_request(request: UpRequest, state: State | None) -> int:
    """The shard count asked for (or recorded), refusing options that do not apply to a cluster."""
    foreign = request.given(UpRequest.AWS_OPTIONS) + request.given(("bridge_server",))
    ports = request.given(("source_port", "target_port"))
    if foreign or ports:
        raise MigratorError(
            f"{', '.join(foreign + ports)} do not apply to a local cluster",
            "drop them (cluster nodes get free ports; the bridge is the 1-shard pair's)",
            Code.INVALID_VALUE,
        )
    shards = request.shards or (state.shards if state else 1)
    if state is not None and request.shards and state.shards != request.shards and state.servers:
        raise MigratorError(
            f"the workspace holds a {state.shards}-shard environment, not {request.shards}",
            "run `migrator down` first, or use another --workspace",
            Code.INVALID_SHARD_COUNT,
        )
    if not 2 <= shards <= MAX_SHARDS:
        raise MigratorError(
            f"--shards {shards}: a local cluster has 2 to {MAX_SHARDS} shards",
            "pass --shards 2 or more (1, the default, is the standalone pair)",
            Code.INVALID_SHARD_COUNT,
        )
    return shards


class ClusterEnvironment:
    kind = "local"

    def up(self, workspace: Workspace, request: UpRequest) -> UpResult:
        """Build both clusters, or restart the nodes that are down (replication resumes when migrating)."""
        state = workspace.load()
        _refuse_foreign(workspace, state)
        shards = _check_request(request, state)
        if state is None or not state.servers:
            state = _create(workspace, request, shards)
            return UpResult(self.describe(workspace, state), [name for name in state.servers], [])
        return _restart(self, workspace, state)

    def down(self, workspace: Workspace, state: State | None, request: DownRequest) -> dict[str, Any]:
        """Stop every node this workspace started, then forget them; logs stay unless `purge`."""
        if request.purge and request.confirm is not None:
            request.confirm(f"delete the workspace {workspace.path} with its logs")
        assert state is not None  # the registry picks this environment for a recorded cluster only
        _refuse_foreign(workspace, state)
        running = [
            (name, record, spec)
            for name, record in state.servers.items()
            if processes.is_ours(record.pid, spec := node_spec(workspace, name, record))
        ]
        cluster_nodes.each(lambda item: processes.stop(item[1].pid, item[2]), running)
        stopped = [name for name, _, _ in running]
        for name in state.servers:
            shutil.rmtree(workspace.server_dir(name), ignore_errors=True)
        if request.purge:
            shutil.rmtree(workspace.path, ignore_errors=True)
        else:
            workspace.remove_state()
        stale = [name for name in state.servers if name not in stopped]
        message = f"stopped {len(stopped)} cluster nodes" if stopped else "nothing to stop"
        if stale:
            message += f" (already gone: {', '.join(stale)})"
        return {"stopped": stopped, "already_gone": stale, "purged": request.purge, "message": message}

    def describe(self, workspace: Workspace, state: State) -> EnvironmentStatus:
        source, target = (_cluster_view(workspace, state, role) for role in ROLES)
        target["reader_url"] = target["url"]
        return EnvironmentStatus(
            target_kind="local",
            source=source,
            target=target,
            migration={"state": state.migration_state, "workspace": str(workspace.path)},
            cluster=True,
        )


def _create(workspace: Workspace, request: UpRequest, shards: int) -> State:
    """Start and form both clusters; nothing is left running (or recorded) when either fails."""
    binaries = {
        "source": _binary("source", request.redis_server, request.source_version),
        "target": _binary("target", request.valkey_server, request.target_version),
    }
    made: list[cluster.LocalCluster] = []
    taken: set[int] = set()
    try:
        for role in ROLES:
            made.append(
                cluster.start_cluster(
                    role, binaries[role], shards, workspace.path, workspace.logs_dir, taken=taken
                )
            )
            taken |= {port for spec in made[-1].specs for port in (spec.port, spec.cluster_port or 0)}
    except MigratorError:
        for local in made:
            local.stop()
        raise
    servers = {}
    for local in made:
        version = processes.binary_version(local.specs[0].binary)
        layout = cluster.slot_ranges(shards)
        for spec, pid, (first, last) in zip(local.specs, local.pids, layout, strict=True):
            servers[spec.workdir.name] = ServerRecord(
                spec.role, spec.binary, spec.port, pid, version, spec.cluster_port, [[first, last]]
            )

    def record(current: State) -> None:
        current.shards = shards
        current.servers = dict(servers)
        current.add_event(f"Started a local {shards}-shard source cluster and target cluster")

    return workspace.update(record, new=lambda: State(target_kind="local", shards=shards))


def _restart(environment: ClusterEnvironment, workspace: Workspace, state: State) -> UpResult:
    """Start what is down, in the mode it was in; a restarted replica follows its source master again."""
    down = [
        name
        for name, record in state.servers.items()
        if not processes.is_ours(record.pid, node_spec(workspace, name, record))
    ]

    def start(name: str) -> ServerRecord:
        record = state.servers[name]
        record.pid = processes.start(node_spec(workspace, name, record))
        return record

    restarted = dict(zip(down, cluster_nodes.each(start, down), strict=True))
    state = workspace.update(lambda current: current.servers.update(restarted))
    for role in ROLES:
        nodes = state.nodes(role)
        if any(name in restarted for name, _ in nodes) and not any(r.standalone for _, r in nodes):
            cluster.wait_ok([node_url(record) for _, record in nodes])
    targets = state.nodes("target")
    standalone = [name for name, record in targets if record.standalone]
    if state.migration_state == "migrating" and 0 < len(standalone) < len(targets):
        # A cut-over interrupted halfway (some nodes back in cluster mode): every node replicates again,
        # so nothing written to the source since is lost; `complete` can run again.
        state = cluster_nodes.follow(workspace, [name for name, _ in targets], undo=False)
    elif state.migration_state == "migrating":
        cluster_nodes.reattach(state, standalone)  # REPLICAOF again is a no-op for a node still attached
    elif standalone:
        # The cut-over was recorded done, but a node did not come back into cluster mode: finish it.
        cluster_nodes.rejoin(workspace, standalone)
    if restarted:
        names = ", ".join(sorted(restarted))
        state = workspace.update(lambda current: current.add_event(f"Restarted local {names}"))
    running = [name for name in state.servers if name not in restarted]
    return UpResult(environment.describe(workspace, state), list(restarted), running)


def _cluster_view(workspace: Workspace, state: State, role: str) -> dict[str, Any]:
    """One role's view: its first node as `url` (what clients are given), and every node in `nodes`."""
    nodes, roles = [], []
    for name, record in state.nodes(role):
        running = processes.is_ours(record.pid, node_spec(workspace, name, record))
        server_role = None
        if running:
            with contextlib.suppress(MigratorError):
                client = connect(node_url(record), role, timeout=2)
                try:
                    server_role = client.info("replication").get("role")
                finally:
                    client.close()
        roles.append(server_role)
        nodes.append(
            {
                "name": name,
                "url": node_url(record),
                "role": {"slave": "replica"}.get(server_role or "", server_role),
                "slots": record.slots,
                "running": running,
                "pid": record.pid,
                "port": record.port,
                "cluster_port": record.cluster_port,
                "cluster_mode": not record.standalone,
            }
        )
    first = state.nodes(role)[0][1] if state.nodes(role) else None
    return {
        "url": nodes[0]["url"] if nodes else None,
        "version": first.version if first else None,
        "role": roles[0] if roles else None,  # as INFO says it, like the 1-shard pair's
        "running": all(node["running"] for node in nodes),
        "nodes": nodes,
    }
