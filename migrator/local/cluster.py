"""A local N-master cluster's processes and topology: start nodes, lay out slots, join, wait, discover, stop.

Mechanism only: which cluster replicates which, and when, is the life cycle's business. Facts measured here
that shape these blocks (see tests/test_local_cluster.py): a node in cluster mode refuses REPLICAOF; a node
restarted into cluster mode refuses commands with CLUSTERDOWN until its peers are reachable again, so
callers wait with `wait_ok`; and Valkey 8.0 deletes, on load, keys of slots its nodes.conf gives to another
node, so a node's data and its nodes.conf must agree.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from migrator.endpoints import Endpoint, connect, parse_url
from migrator.errors import MigratorError
from migrator.local import processes
from migrator.local.processes import LOOPBACK, ServerSpec

if TYPE_CHECKING:
    import redis

SLOTS = 16384
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


@dataclass(frozen=True)
class ClusterNode:
    """One node as the cluster itself describes it (CLUSTER NODES)."""

    url: str
    role: str  # "master" | "replica"
    slots: list[list[int]]  # [[start, end], ...], inclusive
    node_id: str
    master_id: str | None  # the master a replica follows
    flags: tuple[str, ...] = ()  # as reported: myself, fail?, fail, handshake, noaddr, nofailover ...
    migrating: dict[int, str] = field(default_factory=dict)  # slot -> node id it moves to
    importing: dict[int, str] = field(default_factory=dict)  # slot -> node id it comes from

    @property
    def slot_count(self) -> int:
        return sum(end - start + 1 for start, end in self.slots)

    def to_dict(self) -> dict[str, object]:
        return {
            "url": self.url,
            "role": self.role,
            "slots": self.slots,
            "node_id": self.node_id,
            "master_id": self.master_id,
        }


def parse_cluster_nodes(text: str, default_host: str = LOOPBACK) -> list[ClusterNode]:
    """CLUSTER NODES output → nodes, masters by their first slot, then replicas in their masters' order."""
    nodes = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 8:
            continue
        node_id, address, flags_text, master = fields[:4]
        flags = tuple(flags_text.split(","))
        if "handshake" in flags or "noaddr" in flags:
            continue
        host_port = address.split("@")[0].split(",")[0]
        host, _, port = host_port.rpartition(":")
        slots, migrating, importing = _parse_slots(fields[8:])
        nodes.append(
            ClusterNode(
                url=Endpoint(host or default_host, int(port)).url,
                role="master" if "master" in flags else "replica",
                slots=slots,
                node_id=node_id,
                master_id=None if master == "-" else master,
                flags=flags,
                migrating=migrating,
                importing=importing,
            )
        )
    masters = sorted(
        (n for n in nodes if n.role == "master"), key=lambda n: n.slots[0][0] if n.slots else SLOTS
    )
    order = {m.node_id: i for i, m in enumerate(masters)}
    replicas = sorted(
        (n for n in nodes if n.role == "replica"),
        key=lambda n: (order.get(n.master_id or "", len(order)), n.url),
    )
    return masters + replicas


def _parse_slots(tokens: Iterable[str]) -> tuple[list[list[int]], dict[int, str], dict[int, str]]:
    slots: list[list[int]] = []
    migrating: dict[int, str] = {}
    importing: dict[int, str] = {}
    for token in tokens:
        if token.startswith("["):  # [slot->-id] migrating, [slot-<-id] importing
            body = token.strip("[]")
            if "->-" in body:
                slot, node = body.split("->-")
                migrating[int(slot)] = node
            elif "-<-" in body:
                slot, node = body.split("-<-")
                importing[int(slot)] = node
            continue
        start, _, end = token.partition("-")
        slots.append([int(start), int(end or start)])
    return slots, migrating, importing


def topology(url: str, timeout: float = 5.0) -> list[ClusterNode]:
    """Every node of the cluster `url` belongs to, discovered from that one node."""
    import redis

    client = connect(url, "cluster node", timeout=timeout)
    try:
        # Two words, so redis-py's own CLUSTER NODES parser stays out of the way: the raw text has it all.
        text = client.execute_command("CLUSTER", "NODES")
    except redis.ResponseError as exc:
        raise MigratorError(
            f"{url} is not a cluster node ({exc})",
            "pass the URL of a node started with cluster-enabled yes",
            "NotACluster",
        ) from None
    finally:
        client.close()
    if isinstance(text, bytes):
        text = text.decode()
    return parse_cluster_nodes(text, parse_url(url).host)


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
            "InvalidShardCount",
        )
    specs = node_specs(role, binary, masters, workdir, logs_dir, taken=taken, settings=settings)
    cluster = LocalCluster(specs, start_nodes(specs))
    try:
        form(specs, timeout)
    except MigratorError:
        cluster.stop()
        raise
    return cluster


def cluster_info(client: redis.Redis) -> dict[str, str]:
    text = client.execute_command("CLUSTER", "INFO")
    text = text.decode() if isinstance(text, bytes) else text
    return dict(line.split(":", 1) for line in text.strip().splitlines() if ":" in line)


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
            "ClusterNotReady",
        )
