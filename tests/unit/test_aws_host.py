"""The source host's build verdict: CloudWatch Logs through moto, the console output through a Stubber."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

from migrator.aws import host
from migrator.errors import Code, MigratorError
from tests.helpers.aws import HOST_BUILT, OUTPUT_VALUES, write_host_log

FATAL = "user-data: FATAL: sha256 of /usr/local/src/redis-7.4.6.tar.gz does not match the pinned 73b9…"


def test_scan_reads_the_last_verdict_and_the_reported_version() -> None:
    assert host.scan([]) == ("unknown", None, None)
    assert host.scan(["user-data: start x", "CC server.o"]) == ("building", "CC server.o", None)
    assert host.scan(HOST_BUILT) == ("done", HOST_BUILT[-1], "7.4.6")
    assert host.scan(["user-data: start x", FATAL]) == ("failed", FATAL, None)
    # User data run again: building again until its own verdict.
    assert host.scan([*HOST_BUILT, "user-data: start y"])[0] == "building"


def test_console_lines_keep_only_user_data_lines_without_prefixes() -> None:
    text = (
        "[    0.000000] Linux version 6.1\r\n"
        "[   92.1] cloud-init[1500]: user-data: start 2025-06-01T12:00:00Z\r\n"
        "user-data: redis-server v=7.4.6 answers PING\n"
        "[  250.3] cloud-init[1500]: user-data: done 2025-06-01T12:04:10Z\n"
    )
    assert host.console_lines(text) == [
        "user-data: start 2025-06-01T12:00:00Z",
        "user-data: redis-server v=7.4.6 answers PING",
        "user-data: done 2025-06-01T12:04:10Z",
    ]


def test_the_log_is_read_as_it_grows_and_each_event_once(moto: None) -> None:
    log = host.HostLog(OUTPUT_VALUES, "us-east-1")
    first = log.poll()  # no group, no stream yet (the agent is not installed yet); moto has no instance
    assert first.state == "unknown" and first.line is None
    write_host_log(["user-data: start 2025-06-01T12:00:00Z", "CC adlist.o"])
    assert (log.poll().state, log.poll().line) == ("building", "CC adlist.o")
    write_host_log(HOST_BUILT[1:])
    verdict = log.poll()
    assert (verdict.state, verdict.line, verdict.version) == ("done", HOST_BUILT[-1], "7.4.6")
    assert verdict.read_from == "CloudWatch Logs"
    assert log._log_lines.count("CC adlist.o") == 1  # resumed polls never repeat an event
    assert "group /migrator/redis-source, stream i-0123456789abcdef0/user-data.log" in verdict.location


def test_a_failed_build_is_the_fatal_line_with_where_the_log_is(moto: None) -> None:
    write_host_log(["user-data: start 2025-06-01T12:00:00Z", FATAL])
    verdict = host.wait_for_build(host.HostLog(OUTPUT_VALUES, "us-east-1"), timeout=5, sleep=lambda s: None)
    assert verdict.state == "failed"
    error = verdict.failure()
    assert error.code == Code.HOST_BUILD_FAILED
    assert FATAL in error.message and "i-0123456789abcdef0" in error.message
    assert "/migrator/redis-source" in error.hint and "user-data.log" in error.hint


def _console(lines: list[str]) -> dict[str, Any]:
    text = "\n".join(f"[  1.0] cloud-init[1]: {line}" for line in lines)
    return {
        "InstanceId": OUTPUT_VALUES["redis_instance_id"],
        "Output": base64.b64encode(text.encode()).decode(),
    }


def test_without_logs_permission_the_console_output_tells(stubbed: Callable[[str], Any]) -> None:
    """The agent never ran (the package mirror failed): only the console has the verdict."""
    logs, ec2 = stubbed("logs"), stubbed("ec2")
    logs.add_client_error("filter_log_events", "AccessDeniedException", "not authorized", 400)
    ec2.add_response(
        "get_console_output",
        _console(["user-data: start x", 'user-data: FATAL: "dnf install -y" failed with exit status 1']),
        {"InstanceId": "i-0123456789abcdef0", "Latest": True},
    )
    verdict = host.HostLog(OUTPUT_VALUES, "us-east-1").poll()
    assert (verdict.state, verdict.read_from) == ("failed", "console output")
    assert verdict.line == 'user-data: FATAL: "dnf install -y" failed with exit status 1'


def test_neither_copy_readable_is_access_denied(stubbed: Callable[[str], Any]) -> None:
    stubbed("logs").add_client_error("filter_log_events", "AccessDeniedException", "not authorized", 400)
    stubbed("ec2").add_client_error("get_console_output", "UnauthorizedOperation", "not authorized", 403)
    with pytest.raises(MigratorError) as err:
        host.HostLog(OUTPUT_VALUES, "us-east-1").poll()
    assert err.value.code == Code.ACCESS_DENIED
    assert "logs:FilterLogEvents" in err.value.message and "ec2:GetConsoleOutput" in err.value.message
    assert "--no-wait-host" in err.value.hint


def test_no_verdict_in_time_is_a_timeout_with_the_last_line(moto: None) -> None:
    write_host_log(
        ["user-data: start x", "user-data: attempt 3 of 'dnf install -y …' failed; retrying in 10 s"]
    )
    now = iter(range(0, 1000, 5))
    advanced: list[int] = []
    with pytest.raises(MigratorError) as err:
        host.wait_for_build(
            host.HostLog(OUTPUT_VALUES, "us-east-1"),
            timeout=20,
            sleep=lambda s: None,
            clock=lambda: float(next(now)),
            progress=lambda by, total: advanced.append(by),
        )
    assert err.value.code == Code.HOST_BUILD_TIMEOUT
    assert "within 20s" in err.value.message and "attempt 3 of 'dnf install" in err.value.message
    assert "--host-timeout" in err.value.hint and "/migrator/redis-source" in err.value.hint
    assert sum(advanced) == 20  # the bar fills as the time runs out, never past it
