"""Shared fixtures: real servers on free loopback ports, an isolated environment for CLI runs."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.servers import ServerProcess, server_binary

_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """CI (MIGRATOR_NO_SKIPS=1, set by .ci/run) runs everything: a skipped test fails the run there."""
    import os

    if os.environ.get("MIGRATOR_NO_SKIPS") == "1" and _skipped and exitstatus == 0:
        session.exitstatus = 1
        print(f"\nMIGRATOR_NO_SKIPS=1: {len(_skipped)} test(s) skipped, which CI does not allow:")
        for nodeid in _skipped:
            print(f"  {nodeid}")


@pytest.fixture(autouse=True, scope="session")
def _only_catalogued_error_codes() -> Iterator[None]:
    """Any MigratorError raised during any test must carry a code from the catalogue (errors.Code)."""
    from migrator.errors import CATALOGUE, MigratorError

    original = MigratorError.__init__

    def checked(self: MigratorError, message: str, hint: str = "", code: object = "InternalError") -> None:
        assert str(code) in CATALOGUE, f"MigratorError code {code!r} is not in the catalogue ({message})"
        original(self, message, hint, code)  # type: ignore[arg-type]

    MigratorError.__init__ = checked  # type: ignore[method-assign]
    yield
    MigratorError.__init__ = original  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("MIGRATOR_WORKSPACE", str(tmp_path / ".migrator"))
    # No test may reach AWS: fake credentials and no shared config files.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))


LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _is_local(host: object) -> bool:
    if host is None:
        return True
    name = host.decode() if isinstance(host, bytes) else str(host)
    if name in LOCAL_NAMES:
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@pytest.fixture(autouse=True)
def _no_name_lookups_off_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests talk to loopback only: a DNS query for any other name would leave the machine, so it fails."""
    real = socket.getaddrinfo

    def guarded(host: object, *args: object, **kwargs: object) -> object:
        if not _is_local(host):
            raise socket.gaierror(
                socket.EAI_NONAME, f"name lookups off this machine are blocked in tests: {host}"
            )
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers by binary name ("redis-server" or "valkey-server"); all are stopped at teardown."""
    started: list[ServerProcess] = []

    def start(name: str = "redis-server", extra: list[str] | None = None) -> ServerProcess:
        server = ServerProcess(server_binary(name), tmp_path / f"{name}-{len(started)}", extra=extra or [])
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def source(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    """A Redis 7.0 source, as on the local rehearsal."""
    return server_factory("redis-server")


@pytest.fixture
def target(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    """A Valkey 8.0 target, as on the local rehearsal."""
    return server_factory("valkey-server")


class CliResult:
    """One CLI run: exit code, stdout, stderr, and stdout parsed as the one JSON document (if any)."""

    def __init__(self, exit_code: int, stdout: str, stderr: str) -> None:
        self.exit_code, self.stdout, self.stderr = exit_code, stdout, stderr

    @property
    def json(self) -> object:
        import json

        return json.loads(self.stdout)

    def __repr__(self) -> str:
        tail = {"stdout": self.stdout[-2000:], "stderr": self.stderr[-800:]}
        return f"CliResult(exit={self.exit_code}, {tail!r})"


@pytest.fixture
def cli() -> Callable[..., CliResult]:
    """Run `migrator ARGS...` in-process the way a user would (no exception catching by the runner)."""
    from typer.testing import CliRunner

    from migrator import render
    from migrator.cli import app

    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> CliResult:
        render.set_format("text")  # the --output callback sets it per run; reset between runs
        result = runner.invoke(app, list(args), input=input, catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return run
