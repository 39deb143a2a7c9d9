"""Unit tests start no servers: a test that needs a real server is an integration test."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_servers_in_unit_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    from migrator.local import processes

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a unit test started a server: it belongs in tests/integration (see the README)")

    monkeypatch.setattr(processes, "_prepare", refuse)
