"""Every test, everywhere: an isolated environment, loopback only, catalogued error codes, no orphans.

Registered through `pytest_plugins` (tests/conftest.py). CI (MIGRATOR_NO_SKIPS=1, set by .ci/run) also
fails the run when any test was skipped.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """CI runs everything: a skipped test fails the run there. And when every fixture is finalized
    (module- and session-scoped ones too: the server pool, shared clusters), nothing started under the
    run's temporary directory may still be running."""
    if os.environ.get("MIGRATOR_NO_SKIPS") == "1" and _skipped and exitstatus == 0:
        session.exitstatus = 1
        print(f"\nMIGRATOR_NO_SKIPS=1: {len(_skipped)} test(s) skipped, which CI does not allow:")
        for nodeid in _skipped:
            print(f"  {nodeid}")
    factory = getattr(session.config, "_tmp_path_factory", None)
    leaked = our_processes(factory.getbasetemp()) if factory is not None else []
    if leaked:
        _kill(leaked)
        session.exitstatus = 1
        print("\nprocesses left running after the session (killed now):\n  " + "\n  ".join(leaked))


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


def our_processes(tmp_path: Path) -> list[str]:
    """Live processes started for this test: cwd or argv inside its tmp dir."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            zombie = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            continue
        if not zombie and (cwd.startswith(str(tmp_path)) or str(tmp_path) in argv):
            found.append(f"{entry.name}: {argv.strip()}")
    return found


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A private workspace and fake AWS credentials; afterwards, nothing this test started may live on.

    Autouse fixtures are set up first and torn down last, so every other fixture has stopped its servers
    by the time the orphan check runs: what is left is a leak, killed here and reported as an error.
    """
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("MIGRATOR_WORKSPACE", str(tmp_path / ".migrator"))
    # No test may reach AWS: fake credentials and no shared config files.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    yield
    leaked = our_processes(tmp_path)
    _kill(leaked)
    if leaked:
        pytest.fail("processes left running after the test (killed now):\n  " + "\n  ".join(leaked))


def _kill(found: list[str]) -> None:
    for line in found:
        with contextlib.suppress(OSError):
            os.kill(int(line.split(":", 1)[0]), signal.SIGKILL)


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
