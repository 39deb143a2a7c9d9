"""AWS fixtures: the fake terraform on PATH, moto (in-process and as a server), stubbed boto3 clients.

Registered through `pytest_plugins` (tests/conftest.py): a test asks for `fake_tf`, `moto`, `moto_server`
or `stubbed` by name and never imports them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# The fake `terraform` executable and the outputs it replays.
HERE = Path(__file__).resolve().parent / "fake_terraform"
OUTPUTS = json.loads((HERE / "outputs.json").read_text())
OUTPUT_VALUES = {name: entry["value"] for name, entry in OUTPUTS.items()}


@dataclass
class FakeTerraform:
    bin_dir: Path
    log: Path

    @property
    def path(self) -> str:
        return str(self.bin_dir / "terraform")

    def calls(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def commands(self) -> list[str]:
        return [call["argv"][0] for call in self.calls()]

    def argv(self, command: str) -> list[str]:
        """The argv (without the binary) of the last call of `command`."""
        found = [call["argv"] for call in self.calls() if call["argv"][0] == command]
        assert found, f"terraform {command} was never called; calls: {self.commands()}"
        return found[-1]


@pytest.fixture
def fake_tf(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeTerraform:
    """Only the fake terraform on PATH (plus the system's basics), every call logged."""
    log = tmp_path / "terraform-calls.jsonl"
    monkeypatch.setenv("FAKE_TF_LOG", str(log))
    monkeypatch.setenv("PATH", f"{HERE}{os.pathsep}/usr/bin{os.pathsep}/bin")
    monkeypatch.delenv("MIGRATOR_TERRAFORM", raising=False)
    monkeypatch.delenv("TF_CLI_CONFIG_FILE", raising=False)
    return FakeTerraform(HERE, log)


@pytest.fixture
def moto() -> Iterator[None]:
    """moto in-process: STS, ElastiCache, EC2 and CloudWatch Logs answer here; nothing leaves the machine."""
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Any]]:
    """`stubbed("elasticache")` → a Stubber on a real client built from botocore's service model.

    The code under test gets the same client from `clients.make_client`, so a wrong parameter name or a
    missing required one fails the test; `assert_no_pending_responses` runs at teardown.
    """
    import boto3
    from botocore.stub import Stubber

    from migrator.aws import clients

    stubs: dict[str, Stubber] = {}
    made: dict[str, Any] = {}

    def make_client(service: str, region: str | None) -> Any:
        if service not in made:
            made[service] = boto3.session.Session(region_name=region or "us-east-1").client(service)
            stubs[service] = Stubber(made[service])
            stubs[service].activate()
        return made[service]

    def stub(service: str) -> Any:
        make_client(service, "us-east-1")
        return stubs[service]

    monkeypatch.setattr(clients, "make_client", make_client)
    yield stub
    for stubber in stubs.values():
        stubber.assert_no_pending_responses()


# The last lines of a good build, as the module's user data writes them (its log, or the console output).
HOST_BUILT = [
    "user-data: start 2025-06-01T12:00:00Z",
    "user-data: redis-server v=7.4.6 answers PING",
    "user-data: done 2025-06-01T12:04:10Z",
]


def write_host_log(lines: list[str], outputs: dict[str, Any] | None = None) -> None:
    """Append lines to the host's user-data stream in (moto's) CloudWatch Logs, as the host's agent would."""
    import contextlib
    import time

    import boto3

    values = outputs or OUTPUT_VALUES
    logs = boto3.client("logs", region_name="us-east-1")
    group, stream = values["redis_source_log_group"], values["redis_source_log_stream"]
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=group)
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000)
    events = [{"timestamp": now + i, "message": line} for i, line in enumerate(lines)]
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto as a server on loopback, for AWS calls made by other processes (the tunnel's keeper).

    Child processes inherit AWS_ENDPOINT_URL (botocore >= 1.31 honours it); in-process moto could not
    answer them, and without it they would try AWS itself.
    """
    from moto.server import ThreadedMotoServer

    from migrator.local.processes import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    yield url
    server.stop()
