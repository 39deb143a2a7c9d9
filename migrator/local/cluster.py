"""A local N-master cluster's processes and topology: start nodes, lay out slots, join, wait, discover, stop.

Mechanism only: which cluster replicates which, and when, is the life cycle's business. Facts measured here
that shape these blocks (tests/integration/test_local_cluster.py): a node in cluster mode refuses REPLICAOF;
a node restarted into cluster mode refuses commands with CLUSTERDOWN until its peers are reachable again, so
callers wait with `wait_ok`; and Valkey 8.0 deletes, on load, keys of slots its nodes.conf gives to another
node, so a node's data and its nodes.conf must agree."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from migrator.endpoints import connect
from migrator.errors import Code, MigratorError
from migrator.local import processes
from migrator.local.processes import LOOPBACK, ServerSpec

# Discovery lives in migrator.topology (preflight, workload and verify use it too); re-exported here.
from migrator.topology import SLOTS as SLOTS
from migrator.topology import ClusterNode as ClusterNode
from migrator.topology import cluster_info as cluster_info
from migrator.topology import parse_cluster_nodes as parse_cluster_nodes
from migrator.topology import topology as topology

READY_TIMEOUT = 30.0


def slot_ranges(masters: int) -> list[tuple[int, int]]:
    """The 16384 slots spread evenly over `masters`, as `redis-cli --cluster create` spreads them.

    Deterministic: a source and a target of the same size get the same layout.
    """
    if masters < 1:
        raise ValueError("a cluster has at least one master")
    per_master = SLOTS / masters
    ranges, first, cursor = [], 0, 0.0
    for i in range(masters):
        # floor(x + 0.5) is C's lround, which redis-cli uses (Python's round() rounds half to even).
        last = SLOTS - 1 if i == masters - 1 else max(first, math.floor(cursor + per_master - 1 + 0.5))
        ranges.append((first, last))
        first, cursor = last + 1, cursor + per_master
    return ranges


@dataclass
class LocalCluster:
    """The nodes of one local cluster (specs in slot order) and their pids once started."""

    specs: list[ServerSpec]
    pids: list[int] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [spec.url for spec in self.specs]

    def stop(self) -> list[bool]:
        """Stop every node that is still ours — the pid recorded at start, or the one its pidfile names now
        (a node restarted since, e.g. out of cluster mode and back); True where one was stopped."""
        stopped = []
        for i, spec in enumerate(self.specs):
            pids = {self.pids[i] if i < len(self.pids) else None, processes.read_pidfile(spec)} - {None}
            stopped.append(any([processes.stop(pid, spec) for pid in pids]))
        return stopped


def node_specs(
    role: str,
    binary: str,
    count: int,
    workdir: Path,
    logs_dir: Path,
    *,
    taken: Collection[int] = (),
    settings: dict[str, str] | None = None,
) -> list[ServerSpec]:
    """`count` cluster-node specs on free ports (client port and bus port each), `<role>-<i>` named."""
    used = set(taken)
    specs = []
    for i in range(count):
        port = processes.free_port(taken=used)
        used.add(port)
        bus = processes.free_port(taken=used)
        used.add(bus)
        name = f"{role}-{i}"
        specs.append(
            ServerSpec(
                role, binary, port, workdir / name, logs_dir / f"{name}.log", bus, dict(settings or {})
            )
        )
    return specs


def start_nodes(specs: list[ServerSpec]) -> list[int]:
    """Start every node (daemonized); if one fails, stop those already started and raise."""
    pids: list[int] = []
    try:
        for spec in specs:
            pids.append(processes.start(spec))
    except MigratorError:
        for spec, pid in zip(specs, pids, strict=False):
            processes.stop(pid, spec)
        raise
    return pids


def form(specs: list[ServerSpec], timeout: float = READY_TIMEOUT) -> None:
    """Make running, empty, unjoined nodes one cluster: even slot layout, distinct epochs, MEET, wait ok."""
    clients = [connect(spec.url, f"{spec.role} node") for spec in specs]
    try:
        for i, (client, (first, last)) in enumerate(zip(clients, slot_ranges(len(specs)), strict=True)):
            # Distinct config epochs up front, as redis-cli does: no collision to resolve after the join.
            client.execute_command("CLUSTER SET-CONFIG-EPOCH", i + 1)
            client.execute_command("CLUSTER ADDSLOTSRANGE", first, last)
        for spec in specs[1:]:
            clients[0].execute_command("CLUSTER MEET", LOOPBACK, spec.port, spec.cluster_port)
    finally:
        for client in clients:
            client.close()
    wait_ok([spec.url for spec in specs], timeout)


def start_cluster(
    role: str,
    binary: str,
    masters: int,
    workdir: Path,
    logs_dir: Path,
    *,
    taken: Collection[int] = (),
    settings: dict[str, str] | None = None,
    timeout: float = READY_TIMEOUT,
) -> LocalCluster:
    """Start `masters` nodes and form them into one cluster; nothing is left running if that fails."""
    if masters < 2:
        raise MigratorError(
            f"a local cluster needs at least 2 masters, not {masters}",
            "pass --shards 2 or more (1 is the standalone pair)",
            Code.INVALID_SHARD_COUNT,
        )
    specs = node_specs(role, binary, masters, workdir, logs_dir, taken=taken, settings=settings)
    cluster = LocalCluster(specs, start_nodes(specs))
    try:
        form(specs, timeout)
    except MigratorError:
        cluster.stop()
        raise
    return cluster


def wait_ok(urls: list[str], timeout: float = READY_TIMEOUT, known_nodes: int | None = None) -> None:
    """Wait until every node reports cluster_state:ok, all slots assigned, and knows every node."""
    import redis

    expected = known_nodes or len(urls)
    deadline = time.monotonic() + timeout
    pending = list(urls)
    last: dict[str, str] = {}
    while pending and time.monotonic() < deadline:
        for url in list(pending):
            with contextlib.suppress(MigratorError, redis.RedisError):
                client = connect(url, "cluster node", timeout=2)
                try:
                    last = cluster_info(client)
                finally:
                    client.close()
                if (
                    last.get("cluster_state") == "ok"
                    and int(last.get("cluster_slots_assigned", 0)) == SLOTS
                    and int(last.get("cluster_known_nodes", 0)) >= expected
                ):
                    pending.remove(url)
        if pending:
            time.sleep(0.1)
    if pending:
        state = last.get("cluster_state", "unreachable")
        raise MigratorError(
            f"cluster not ready within {timeout:.0f}s: {', '.join(pending)} (cluster_state {state}, "
            f"{last.get('cluster_known_nodes', '?')}/{expected} nodes known)",
            "see the nodes' logs in the workspace",
            Code.CLUSTER_NOT_READY,
        )
