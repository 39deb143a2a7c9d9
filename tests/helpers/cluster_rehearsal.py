"""Shared by the cluster tests: a local `up --shards N` environment driven through the CLI, and direct levers
on its nodes (clients, topology, a cluster client, the slots each node serves)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from redis.cluster import RedisCluster

from migrator.local import cluster
from migrator.topology import SLOTS, key_slot
from tests.helpers.cli import CliResult
from tests.helpers.rehearsal import Rehearsal


class ClusterRehearsal(Rehearsal):
    """A local cluster pair (`migrator up --shards N`), nodes named source-0…, target-0… as in the state."""

    def __init__(self, cli: Callable[..., CliResult], tmp_path: Path, shards: int = 3) -> None:
        super().__init__(cli, tmp_path)
        self.shards = shards

    def up(self) -> dict[str, Any]:
        return self.json("up", "--shards", str(self.shards))

    def port(self, name: str) -> int:
        return int(self.state()["servers"][name]["port"])

    def url_of(self, name: str) -> str:
        return f"redis://127.0.0.1:{self.port(name)}"

    def error_code(self, *args: str) -> str:
        return self.run(*args, "-o", "json", expect=2).json["error"]["code"]  # type: ignore[index]

    def node(self, name: str) -> redis.Redis:
        return redis.Redis(port=self.port(name), socket_timeout=10)

    def names(self, role: str) -> list[str]:
        return [f"{role}-{i}" for i in range(self.shards)]

    def cluster_client(self, role: str) -> RedisCluster:
        return RedisCluster(host="127.0.0.1", port=self.port(f"{role}-0"), socket_timeout=10)

    def layout(self, role: str) -> list[list[list[int]]]:
        return [n.slots for n in cluster.topology(f"redis://127.0.0.1:{self.port(role + '-0')}")
                if n.role == "master"]  # fmt: skip

    def keys(self, role: str) -> list[int]:
        """Keys per node, in shard order."""
        return [int(self.node(name).dbsize()) for name in self.names(role)]

    def replicating_from(self, name: str) -> int | None:
        info = self.node(name).info("replication")
        return int(info["master_port"]) if info.get("role") == "slave" else None

    def wait_shards_up(self, timeout: float = 60.0) -> dict[str, Any]:
        return self.wait_status(
            lambda s: (
                s["link"]["master_link_status"] == "up"
                and all(shard["link"]["master_link_status"] == "up" for shard in s["shards"])
            ),
            timeout,
            "every shard's link up",
        )


def key_in_each_range(ranges: list[tuple[int, int]], prefix: str = "probe") -> list[str]:
    """One key name per slot range (found by hashing candidates), so a test can touch every shard."""
    found: list[str] = []
    for first, last in ranges:
        i = 0
        while not first <= key_slot(f"{prefix}:{i}") <= last:
            i += 1
        found.append(f"{prefix}:{i}")
    return found


def assert_a_working_cluster(urls: list[str]) -> None:
    """cluster_state:ok on every node, all 16384 slots, and a cluster client reads and writes every shard."""
    for url in urls:
        info = cluster.cluster_info(redis.Redis.from_url(url))
        assert (info["cluster_state"], int(info["cluster_slots_assigned"])) == ("ok", SLOTS), (url, info)
    port = int(urls[0].rsplit(":", 1)[1])
    client = RedisCluster(host="127.0.0.1", port=port, socket_timeout=10)
    try:
        ranges = [tuple(n.slots[0]) for n in cluster.topology(urls[0]) if n.role == "master"]
        for key in key_in_each_range(ranges):  # type: ignore[arg-type]
            client.set(key, "written after the cut-over")
            assert client.get(key) == b"written after the cut-over"
    finally:
        client.close()


def copy_shards(source_urls: list[str], target_urls: list[str], batch: int = 5000) -> None:
    """Each source node's keys onto the target node in the same place (DUMP / RESTORE ABSTTL, in batches)."""
    for source_url, target_url in zip(source_urls, target_urls, strict=True):
        master, copy = redis.Redis.from_url(source_url), redis.Redis.from_url(target_url)
        keys: list[bytes] = []
        for key in master.scan_iter(count=batch):
            keys.append(key)
            if len(keys) == batch:
                _copy(master, copy, keys)
                keys = []
        _copy(master, copy, keys)


def _copy(master: redis.Redis, copy: redis.Redis, keys: list[bytes]) -> None:
    reads = master.pipeline(transaction=False)
    for key in keys:
        reads.dump(key).pexpiretime(key)
    replies = reads.execute()
    writes = copy.pipeline(transaction=False)
    for key, payload, expiry in zip(keys, replies[::2], replies[1::2], strict=True):
        writes.restore(key, max(expiry, 0), payload, replace=True, absttl=expiry > 0)
    writes.execute()


def events(workspace: Path) -> list[str]:
    return [e["message"] for e in json.loads((workspace / "state.json").read_text())["events"]]
