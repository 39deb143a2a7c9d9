"""The JSON documents the CLI promises (SPEC.md), pinned as golden shapes and the same for both targets.

What a shape is, and how to regenerate one on purpose: tests/helpers/golden.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from migrator.aws import migration as aws_migration
from tests.helpers.aws_sim import LoopbackReplication, SimulatedElastiCache, install, tunnelled_workspace
from tests.helpers.cli import CliResult
from tests.helpers.golden import assert_golden
from tests.helpers.servers import ServerProcess


def _json(cli: Callable[..., CliResult], *args: str) -> Any:
    result = cli(*args, "-o", "json")
    assert result.exit_code == 0, result
    return result.json


def _life_cycle(cli: Callable[..., CliResult]) -> dict[str, Any]:
    return {
        "preflight": _json(cli, "migrate", "preflight"),
        "start": _json(cli, "migrate", "start", "--wait"),
        "migrate-status": _json(cli, "migrate", "status"),
        "verify": _json(cli, "migrate", "verify"),
        "complete": _json(cli, "migrate", "complete", "--pause-writes"),
    }


def test_local_documents_keep_their_shape(cli: Callable[..., CliResult]) -> None:
    up = _json(cli, "up")
    try:
        cli_docs = _life_cycle(cli)
        status = _json(cli, "status")
    finally:
        cli("down")
    for name, document in cli_docs.items():
        assert_golden(name, document)
    assert set(up) >= {"target_kind", "source", "target", "migration", "started", "already_running"}
    # SPEC: `migrator status` carries at least these keys; the rehearsal adds what it knows.
    assert {"url", "version", "role"} <= set(status["source"])
    assert {"url", "reader_url", "version", "role"} <= set(status["target"])
    assert status["target_kind"] == "local" and status["migration"]["state"] == "available"


def test_aws_documents_have_the_same_shape(
    cli: Callable[..., CliResult],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    server_factory: Callable[..., ServerProcess],
) -> None:
    source = server_factory("redis-server", extra=["--protected-mode", "no"])
    target = server_factory("valkey-server")
    source.client().set("k", "v")
    monkeypatch.setattr(aws_migration, "POLL_SECONDS", 0.01)
    tunnelled_workspace(tmp_path / ".migrator", source.port, target.port)
    plane = LoopbackReplication(target.port, {("10.0.2.15", 6379): source.port})
    install(monkeypatch, SimulatedElastiCache(data_plane=plane))
    for name, document in _life_cycle(cli).items():
        assert_golden(name, document)
