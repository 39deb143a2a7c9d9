"""The JSON documents the CLI promises (SPEC.md), pinned as golden shapes and the same for both targets.

A shape is a document's keys, recursively (a list of objects is the shape of its first item; other lists,
and maps keyed by data such as metrics per node, are just "list" / "map"): values vary, keys may not.
Regenerate a golden file on purpose with MIGRATOR_WRITE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from migrator.aws import migration as aws_migration
from tests.aws_sim import LoopbackReplication, SimulatedElastiCache, install, tunnelled_workspace
from tests.conftest import CliResult
from tests.servers import ServerProcess

GOLDEN = Path(__file__).parent / "golden"


DATA_KEYED = {"metrics", "by_type", "shards"}


def shape(document: Any) -> Any:
    if isinstance(document, dict):
        return {key: "map" if key in DATA_KEYED else shape(value) for key, value in document.items()}
    if isinstance(document, list):
        return [shape(document[0])] if document and isinstance(document[0], dict) else "list"
    return None


def assert_golden(name: str, document: Any) -> None:
    path = GOLDEN / f"{name}.json"
    found = shape(document)
    if os.environ.get("MIGRATOR_WRITE_GOLDEN"):
        path.write_text(json.dumps(found, indent=2, sort_keys=True) + "\n")
    assert found == json.loads(path.read_text()), f"{name}: the JSON shape changed (see {path})"


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
