"""Where a workspace's local servers live: their URLs, and the spec each one is (re)started with."""

from __future__ import annotations

from migrator.endpoints import Endpoint
from migrator.local.processes import LOOPBACK, ServerSpec
from migrator.state import ServerRecord, State, Workspace


def server_url(state: State, role: str) -> str:
    return Endpoint(LOOPBACK, state.servers[role].port).url


def spec_for(workspace: Workspace, record: ServerRecord) -> ServerSpec:
    return ServerSpec(
        record.role,
        record.binary,
        record.port,
        workspace.server_dir(record.role),
        workspace.logs_dir / f"{record.role}.log",
    )
