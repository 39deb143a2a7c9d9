"""The rehearsal's bridge: a Valkey >= 9 replica of the source (rdb-version-check relaxed) the target follows.

Redis 7.4 writes RDB 12, which Valkey 8 refuses; Valkey 9 relaxed loads it and serves its Valkey 8 replica
an RDB 11 (migrator.versions). The binary comes from `up --bridge-server PATH` (MIGRATOR_BRIDGE_SERVER),
else the matrix's Valkey 9.1 (`make servers`).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import replace

from migrator.endpoints import connect
from migrator.errors import Code, MigratorError
from migrator.local import matrix, processes
from migrator.local.binaries import binary_identity
from migrator.local.layout import server_url, spec_for
from migrator.local.processes import LOOPBACK
from migrator.state import ServerRecord, State, Workspace
from migrator.versions import BRIDGE

ROLE = "bridge"
ENV = "MIGRATOR_BRIDGE_SERVER"


def binary(state: State) -> str | None:
    """The bridge binary: the one `up` recorded, else $MIGRATOR_BRIDGE_SERVER, else the matrix's Valkey 9."""
    record = state.servers.get(ROLE)
    if record is not None:
        return record.binary
    if os.environ.get(ENV):
        return processes.resolve_binary("valkey-server", os.environ[ENV])
    with contextlib.suppress(MigratorError):
        return matrix.resolve(*BRIDGE)
    return None


def identity(state: State) -> tuple[str, str] | None:
    """(engine, version) of the bridge `start --bridge` would run; None when there is none to run."""
    found = binary(state)
    return binary_identity(found) if found else None


def running(workspace: Workspace, state: State) -> bool:
    record = state.servers.get(ROLE)
    return record is not None and processes.is_ours(record.pid, spec_for(workspace, record))


def record_for(workspace: Workspace, state: State, explicit: str | None) -> ServerRecord | None:
    """The bridge's record for `up`: an explicit binary (checked now), or what is recorded already.

    A running bridge keeps its record: swapping the binary under it would forget the process (`down`
    could no longer stop it) and start a second one on its port."""
    recorded = state.servers.get(ROLE)
    if explicit is None:
        return recorded
    path = processes.resolve_binary("valkey-server", explicit)
    if recorded is not None and running(workspace, state):
        if os.path.realpath(path) == os.path.realpath(recorded.binary):
            return recorded
        raise MigratorError(
            f"the bridge runs already (pid {recorded.pid}, {recorded.binary}): a new --bridge-server takes "
            "effect once it is stopped",
            "finish the migration (`migrator migrate complete`) or run `migrator down` first",
            Code.INVALID_VALUE,
        )
    version = binary_identity(path)[1]
    taken = {r.port for r in state.servers.values()}
    port = recorded.port if recorded is not None else processes.free_port(taken=taken)
    return ServerRecord(ROLE, path, port, version=version)


def start(workspace: Workspace, source_port: int) -> ServerRecord:
    """Start the bridge (if it is not running) as a replica of the source; record it in the workspace."""
    state = workspace.require()
    found = binary(state)
    if found is None:
        raise MigratorError(
            "no bridge server: it needs a valkey-server >= 9",
            f"{matrix.INSTALL_HINT}, or pass --bridge-server PATH to `migrator up` ({ENV})",
            "ServerBinaryMissing",
        )
    record = state.servers.get(ROLE)
    if record is None:
        taken = {r.port for r in state.servers.values()}
        record = ServerRecord(
            ROLE, found, processes.free_port(taken=taken), version=binary_identity(found)[1]
        )
    if not processes.is_ours(record.pid, spec_for(workspace, record)) and processes.port_in_use(record.port):
        # Its port is nobody's business but ours: the target follows whichever port the bridge has.
        taken = {r.port for r in state.servers.values()}
        record = replace(record, port=processes.free_port(taken=taken), pid=None)
    spec = spec_for(workspace, record)
    if not processes.is_ours(record.pid, spec):
        # A replica from its first moment: an empty primary, even briefly, is one its target could sync from.
        record.pid = processes.start(replace(spec, settings={"replicaof": (LOOPBACK, str(source_port))}))
    # Recorded before anything else can fail: `down` stops what the workspace knows of.
    workspace.update(lambda current: current.servers.__setitem__(ROLE, record))
    client = connect(server_url(_with(state, record), ROLE), ROLE)
    try:
        client.replicaof(LOOPBACK, source_port)  # one running already may be detached, or follow another
    finally:
        client.close()
    return record


def stop(workspace: Workspace) -> None:
    """Stop the bridge process; its record stays (binary and port) for the next bridged start."""
    state = workspace.load()
    record = state.servers.get(ROLE) if state else None
    if record is None:
        return
    processes.stop(record.pid, spec_for(workspace, record))

    def forget_pid(current: State) -> None:
        if ROLE in current.servers:
            current.servers[ROLE].pid = None

    workspace.update(forget_pid)


def _with(state: State, record: ServerRecord) -> State:
    state.servers[ROLE] = record
    return state
