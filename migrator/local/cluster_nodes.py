"""A workspace's local cluster nodes: their specs and URLs, and the two moves a target node makes.

Facts this is built on (tests/integration/test_local_cluster.py): a node in cluster mode refuses REPLICAOF,
and CLUSTER REPLICATE follows only a node of its own cluster. So a target node follows its source master by
leaving cluster mode for the migration: restarted without `cluster-enabled` (its nodes.conf stays on disk)
it is a plain replica, which refuses client writes. To come back it saves what it holds and restarts with
its nodes.conf: the same node id, epoch and slots, now with the data. Valkey keeps, on load, only keys of
slots its nodes.conf gives it, so a node may only ever follow the source master of exactly its own slots
(`pairing`), and a drop on load is checked for rather than trusted away."""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from migrator.endpoints import Endpoint, connect
from migrator.errors import Code, MigratorError
from migrator.local import cluster, processes
from migrator.local.processes import LOOPBACK, ServerSpec
from migrator.state import ServerRecord, State, Workspace
from migrator.topology import cluster_enabled

ROLES = ("source", "target")
HANDOFF = "dump.rdb"  # the snapshot a target node saves to carry its data back into cluster mode
DROPPED_ON_LOAD = "but the slot is assigned to another node"  # Valkey's log line when it deletes keys

T = TypeVar("T")
R = TypeVar("R")


def node_spec(workspace: Workspace, name: str, record: ServerRecord) -> ServerSpec:
    """How node `name` (re)starts: in cluster mode, or standalone while it replicates."""
    return ServerSpec(
        record.role,
        record.binary,
        record.port,
        workspace.server_dir(name),
        workspace.logs_dir / f"{name}.log",
        None if record.standalone else record.cluster_port,
    )


def node_url(record: ServerRecord) -> str:
    return Endpoint(LOOPBACK, record.port).url


def urls(state: State, role: str) -> list[str]:
    return [node_url(record) for _, record in state.nodes(role)]


def each(work: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """`work` on every item at once (one node each: restarts overlap); the first failure is raised."""
    items = list(items)
    if not items:
        return []
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(items)) as pool:
        futures = [pool.submit(work, item) for item in items]
        concurrent.futures.wait(futures)
    return [future.result() for future in futures]


def pairing(state: State) -> list[tuple[str, str]]:
    """(target node, source node) per shard: the source master serving exactly the target node's slots."""
    sources = {_key(record.slots): name for name, record in state.nodes("source")}
    pairs = []
    for name, record in state.nodes("target"):
        source = sources.get(_key(record.slots))
        if source is None:
            raise MigratorError(
                f"no source master serves exactly the slots of {name} ({_text(record.slots)}): fed another "
                "shard's keys, the node would delete them when it loads",
                "give the source the even layout again (`migrator migrate preflight` shows it), or "
                "`migrator down` and `migrator up --shards N`",
                Code.SLOT_LAYOUT_CHANGED,
            )
        pairs.append((name, source))
    return pairs


def _key(slots: list[list[int]]) -> tuple[tuple[int, int], ...]:
    return tuple(sorted((int(a), int(b)) for a, b in slots))


def _text(slots: list[list[int]]) -> str:
    return ",".join(f"{a}-{b}" for a, b in slots)


def refresh_slots(workspace: Workspace, role: str) -> State:
    """Record the slots each node of `role` serves now, as its cluster says (the source may reshard)."""
    state = workspace.require()
    nodes = cluster.topology(urls(state, role)[0])
    served = {node.url: node.slots for node in nodes if node.role == "master"}

    def change(current: State) -> None:
        for _, record in current.nodes(role):
            record.slots = served.get(node_url(record), [])

    return workspace.update(change)


def _record(workspace: Workspace, changed: dict[str, ServerRecord]) -> State:
    return workspace.update(lambda current: current.servers.update(changed))


def _replicate(record: ServerRecord, master: ServerRecord) -> None:
    client = connect(node_url(record), "target")
    try:
        client.replicaof(LOOPBACK, master.port)
    finally:
        client.close()


def follow(workspace: Workspace, names: list[str], undo: bool = True) -> State:
    """Each target node leaves cluster mode (if in it) and replicates the source master of its slots.

    With `undo`, on a failure the nodes already moved come back (empty) into their cluster, and the error
    is raised.
    """
    state = workspace.require()
    masters = {target: state.servers[source] for target, source in pairing(state)}
    moved: dict[str, ServerRecord] = {}

    def one(name: str) -> None:
        record = state.servers[name]
        processes.stop(record.pid, node_spec(workspace, name, record))
        standalone = dataclasses.replace(record, standalone=True)
        spec = node_spec(workspace, name, standalone)
        (spec.workdir / HANDOFF).unlink(missing_ok=True)  # nothing from an earlier run may be loaded
        standalone.pid = processes.start(spec)
        moved[name] = standalone
        _replicate(standalone, masters[name])

    try:
        each(one, names)
    except MigratorError:
        _record(workspace, moved)
        if undo:
            with contextlib.suppress(MigratorError):
                rejoin(workspace, list(moved), keep_data=False)
        raise
    return _record(workspace, moved)


def reattach(state: State, names: list[str]) -> None:
    """A standalone target node restarted mid-migration replicates its source master again."""
    masters = {target: state.servers[source] for target, source in pairing(state)}
    for name in names:
        _replicate(state.servers[name], masters[name])


@dataclass
class Rejoined:
    """How a return into cluster mode went: its phases (seconds) and each node's keys before and after."""

    seconds: float
    save_s: float
    restart_s: float
    ready_s: float
    keys: dict[str, int]

    def describe(self) -> str:
        return (
            f"Target nodes back in cluster mode in {self.seconds:.2f}s (save {self.save_s:.2f}s, restart "
            f"{self.restart_s:.2f}s, cluster_state:ok after {self.ready_s:.2f}s more)"
        )


def rejoin(workspace: Workspace, names: list[str], keep_data: bool = True, undo: bool = False) -> Rejoined:
    """Standalone target nodes stop replicating and come back into their cluster, with their data or empty.

    Each node's mode is recorded the moment it changes, so a failure halfway leaves a true record (a node
    found in cluster mode already is only recorded so). With `undo`, a failure once nodes have stopped
    following puts every target node back to replicating its source master before the error is raised:
    half a cluster promoted would take writes for some shards while the others' sources still do.
    """
    try:
        return _rejoin(workspace, names, keep_data)
    except MigratorError as err:
        if not undo:
            raise
        try:
            follow(workspace, [name for name, _ in workspace.require().nodes("target")], undo=False)
        except MigratorError as again:
            raise MigratorError(
                f"{err.message}; putting the target nodes back to replicating failed too: {again.message}",
                "`migrator up` restarts what is down; then `migrator migrate complete` again",
                err.code,
            ) from None
        raise MigratorError(
            f"{err.message}; every target node replicates its source master again",
            "fix the cause (see the target nodes' logs) and run `migrator migrate complete` again",
            err.code,
        ) from None


def _rejoin(workspace: Workspace, names: list[str], keep_data: bool) -> Rejoined:
    state = workspace.require()
    records = {name: state.servers[name] for name in names}
    began = time.monotonic()
    clients = {name: connect(node_url(record), "target") for name, record in records.items()}
    keys: dict[str, int] = {}
    try:
        back = [name for name, client in clients.items() if cluster_enabled(client)]
        _record(workspace, {name: dataclasses.replace(records.pop(name), standalone=False) for name in back})
        for name in back:
            clients.pop(name).close()
        for client in clients.values():
            # No client write may land in the hand-off (a master with no replica refuses it: NOREPLICAS);
            # then every shard stops following at the offset the cut-over waited for.
            client.config_set("min-replicas-to-write", 1)
            client.replicaof("NO", "ONE")
        keys = {name: int(client.dbsize()) for name, client in clients.items()}
        if keep_data:
            each(lambda client: client.save(), clients.values())
    finally:
        for client in clients.values():
            client.close()
    saved = time.monotonic()
    logged = {name: log_size(workspace, name, record) for name, record in records.items()}

    def restart(name: str) -> None:
        record = records[name]
        processes.stop(record.pid, node_spec(workspace, name, record))
        clustered = dataclasses.replace(record, standalone=False, pid=None)
        spec = node_spec(workspace, name, clustered)
        if not keep_data:
            (spec.workdir / HANDOFF).unlink(missing_ok=True)
        try:
            clustered.pid = processes.start(spec)
        finally:
            # Stopped is recorded too: `up` restarts it in cluster mode, from the hand-off it saved.
            _record(workspace, {name: clustered if clustered.pid else dataclasses.replace(record, pid=None)})

    each(restart, list(records))
    started = time.monotonic()
    state = workspace.require()
    cluster.wait_ok(urls(state, "target"))
    ready = time.monotonic()
    if keep_data:
        _check_nothing_dropped(workspace, state, keys, logged)
    for name in records:  # loaded: a later restart must not resurrect the cut-over's data
        (workspace.server_dir(name) / HANDOFF).unlink(missing_ok=True)
    return Rejoined(
        round(ready - began, 3),
        round(saved - began, 3),
        round(started - saved, 3),
        round(ready - started, 3),
        keys,
    )


def log_size(workspace: Workspace, name: str, record: ServerRecord) -> int:
    try:
        return node_spec(workspace, name, record).logfile.stat().st_size
    except OSError:
        return 0


def _check_nothing_dropped(
    workspace: Workspace, state: State, before: dict[str, int], logged: dict[str, int]
) -> None:
    """A node with fewer keys than it saved, whose log says it deleted keys on load, lost them."""
    for name, count in before.items():
        record = state.servers[name]
        client = connect(node_url(record), "target")
        try:
            now = int(client.dbsize())
        finally:
            client.close()
        log = node_spec(workspace, name, record).logfile
        with log.open("rb") as text:
            text.seek(logged.get(name, 0))
            since_restart = text.read().decode(errors="replace")
        if now < count and DROPPED_ON_LOAD in since_restart:
            raise MigratorError(
                f"{name} deleted {count - now} of its {count} keys on load: they belong to slots its "
                "nodes.conf gives to another node",
                f"see {log}; the source still holds them: `migrator migrate verify` lists what is missing",
                Code.KEYS_DROPPED_ON_LOAD,
            )
