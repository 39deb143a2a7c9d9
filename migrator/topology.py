"""A Redis Cluster's shape as its nodes describe it: who serves which slots, and where a key goes.

Shared by preflight, the workload and verify, which only know redis:// URLs: give them one node's URL and
they find the rest. Parsing is over CLUSTER NODES' raw text (the fields every Redis >= 7 and Valkey print).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from migrator.endpoints import Endpoint, connect, parse_url
from migrator.errors import Code, MigratorError

if TYPE_CHECKING:
    import redis

SLOTS = 16384
DEFAULT_HOST = "127.0.0.1"
SlotRanges = list[list[int]]  # [[start, end], ...], inclusive


@dataclass(frozen=True)
class ClusterNode:
    """One node as the cluster itself describes it (CLUSTER NODES)."""

    url: str
    role: str  # "master" | "replica"
    slots: SlotRanges
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


def parse_cluster_nodes(text: str, default_host: str = DEFAULT_HOST) -> list[ClusterNode]:
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


def _parse_slots(tokens: Iterable[str]) -> tuple[SlotRanges, dict[int, str], dict[int, str]]:
    slots: SlotRanges = []
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
    client = connect(url, "cluster node", timeout=timeout)
    try:
        return topology_of(client, parse_url(url).host)
    finally:
        client.close()


def topology_of(client: redis.Redis, default_host: str = DEFAULT_HOST) -> list[ClusterNode]:
    import redis

    try:
        # Two words, so redis-py's own CLUSTER NODES parser stays out of the way: the raw text has it all.
        text = client.execute_command("CLUSTER", "NODES")
    except redis.ResponseError as exc:
        where = client.connection_pool.connection_kwargs
        raise MigratorError(
            f"redis://{where.get('host')}:{where.get('port')} is not a cluster node ({exc})",
            "pass the URL of a node started with cluster-enabled yes",
            Code.NOT_A_CLUSTER,
        ) from None
    if isinstance(text, bytes):
        text = text.decode()
    return parse_cluster_nodes(text, default_host)


def cluster_info(client: redis.Redis) -> dict[str, str]:
    text = client.execute_command("CLUSTER", "INFO")
    text = text.decode() if isinstance(text, bytes) else text
    return dict(line.split(":", 1) for line in text.strip().splitlines() if ":" in line)


def cluster_enabled(client: redis.Redis) -> bool:
    return bool(int(client.info("cluster").get("cluster_enabled", 0)))


def layout(nodes: Iterable[ClusterNode]) -> list[SlotRanges]:
    """The masters' slot ranges in slot order: two clusters with equal layouts shard keys alike."""
    return [node.slots for node in nodes if node.role == "master" and node.slots]


def key_slot(key: bytes | str) -> int:
    """The slot a key hashes to (CRC16 of its hash tag, if any, mod 16384), as every cluster client does."""
    from redis.crc import key_slot as crc_key_slot

    return int(crc_key_slot(key.encode() if isinstance(key, str) else key))


@dataclass(frozen=True)
class SlotMap:
    """Which node serves which slots: a cluster's masters as discovered, or a migration's shard pairing."""

    nodes: tuple[tuple[str, tuple[tuple[int, int], ...]], ...]  # (url, ranges)

    @classmethod
    def of(cls, nodes: Sequence[tuple[str, Iterable[Sequence[int]]]]) -> SlotMap:
        return cls(tuple((url, tuple((int(a), int(b)) for a, b in ranges)) for url, ranges in nodes))

    @classmethod
    def from_nodes(cls, nodes: Iterable[ClusterNode]) -> SlotMap:
        return cls.of([(n.url, n.slots) for n in nodes if n.role == "master" and n.slots])

    @property
    def urls(self) -> list[str]:
        return [url for url, _ in self.nodes]

    @functools.cached_property
    def _owners(self) -> list[str | None]:
        """slot -> url, built once: the workload routes every key it writes through this."""
        owners: list[str | None] = [None] * SLOTS
        for url, spans in self.nodes:
            for start, end in spans:
                owners[start : end + 1] = [url] * (end - start + 1)
        return owners

    def url_for_slot(self, slot: int) -> str:
        url = self._owners[slot]
        if url is None:
            raise MigratorError(
                f"no node serves slot {slot}",
                "every slot must be assigned (CLUSTER INFO: cluster_slots_assigned 16384)",
                Code.CLUSTER_NOT_READY,
            )
        return url

    def url_for(self, key: bytes | str) -> str:
        return self.url_for_slot(key_slot(key))


def discover(url: str, role: str = "server") -> SlotMap | None:
    """The cluster's slot map seen from `url`, or None when that server does not run in cluster mode."""
    client = connect(url, role)
    try:
        if not cluster_enabled(client):
            return None
        return SlotMap.from_nodes(topology_of(client, parse_url(url).host))
    finally:
        client.close()
