"""The workspace state of a cluster: what it records about each node, and states from before clusters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from migrator.errors import Code, MigratorError
from migrator.state import ServerRecord, State, Workspace

BEFORE_CLUSTERS = {
    "target_kind": "local",
    "migration_state": "migrating",
    "bridged": False,
    "servers": {
        "source": {"role": "source", "binary": "/usr/bin/redis-server", "port": 20001, "pid": 11},
        "target": {"role": "target", "binary": "/usr/bin/valkey-server", "port": 20002, "pid": 12},
    },
    "aws": {},
    "events": [],
    "version": 1,
}


def _workspace(tmp_path: Path, document: object) -> Workspace:
    workspace = Workspace(tmp_path / ".migrator")
    workspace.path.mkdir()
    workspace.state_file.write_text(json.dumps(document))
    return workspace


def test_a_state_written_before_clusters_loads_as_the_one_shard_pair(tmp_path: Path) -> None:
    state = _workspace(tmp_path, BEFORE_CLUSTERS).require()
    assert (state.shards, state.cluster, state.migration_state) == (1, False, "migrating")
    assert state.servers["target"].cluster_port is None and state.servers["target"].standalone is False


def test_a_cluster_records_each_node_and_round_trips(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / ".migrator")
    servers = {
        f"{role}-{i}": ServerRecord(role, "/bin/x", 21000 + 10 * i + n, 100 + i, "8.0.1", 22000 + 10 * i + n,
                                    [[i * 100, i * 100 + 99]], standalone=role == "target")
        for n, role in enumerate(("source", "target"))
        for i in range(3)
    }  # fmt: skip
    workspace.save(State(target_kind="local", shards=3, servers=servers))
    state = workspace.require()
    assert state.cluster and state.shards == 3
    assert [name for name, _ in state.nodes("target")] == ["target-0", "target-1", "target-2"]
    node = state.servers["target-1"]
    assert (node.port, node.cluster_port, node.slots, node.standalone) == (21011, 22011, [[100, 199]], True)
    assert state.servers["source-2"].cluster_node and not state.servers["source-2"].standalone


@pytest.mark.parametrize(
    "change",
    [
        {"shards": 0},
        {"shards": "3"},
        {"servers": {"source-0": {"role": "source", "binary": "x", "port": 1, "cluster_port": 70000}}},
        {"servers": {"source-0": {"role": "source", "binary": "x", "port": 1, "slots": [[1, 2, 3]]}}},
    ],
    ids=["no-shards", "text-shards", "bus-port", "slots"],
)
def test_an_impossible_cluster_state_is_corrupt(tmp_path: Path, change: dict[str, object]) -> None:
    with pytest.raises(MigratorError) as caught:
        _workspace(tmp_path, {**BEFORE_CLUSTERS, **change}).require()
    assert caught.value.code == Code.CORRUPT_STATE
