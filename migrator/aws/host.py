"""The source host's build verdict: the last line of its user-data log, from CloudWatch Logs or the console.

User data (terraform/modules/redis_source) ends with `user-data: done …` or `user-data: FATAL: …`; the line
before `done` names the redis-server version that answers PING. The CloudWatch agent ships the log to the
stream `redis_source_log_stream`, and cloud-init copies the same lines to the instance's console output —
the only copy when the build fails before the agent runs (a package mirror or NAT failure). Terraform's apply
ends when the instance *runs*, not when Redis is built, so `up` waits for this line.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from migrator.errors import Code, MigratorError
from migrator.lifecycle.results import ProgressCallback
from migrator.state import HostRecord

MARK = "user-data: "
START = "user-data: start"
DONE = "user-data: done"
FATAL = "user-data: FATAL"
_VERSION = re.compile(r"user-data: redis-server v=(\S+) answers PING")
POLL_SECONDS = 5.0
DEFAULT_TIMEOUT = 900.0  # a t3.medium compiles Redis in ~3 min; dnf retries and a bridge build add minutes
CLOUDWATCH = "CloudWatch Logs"
CONSOLE = "console output"


@dataclass
class HostVerdict:
    state: str  # "done" | "failed" | "building" (lines, no verdict yet) | "unknown" (no line read)
    instance_id: str | None
    line: str | None = None  # the verdict, else the last line read
    version: str | None = None  # what the host's redis-server reported
    read_from: str | None = None  # CLOUDWATCH | CONSOLE
    location: str = ""  # where the whole log is
    error: str | None = None  # why the log could not be read, when it could not

    def record(self) -> HostRecord | None:
        """What `up` keeps in the workspace: only a verdict (a build in progress is not worth keeping)."""
        if self.state not in ("done", "failed") or not self.instance_id:
            return None
        return HostRecord(self.instance_id, self.state, self.line or "", self.version, self.read_from or "")

    def to_dict(self) -> dict[str, Any]:
        found = {"state": self.state, "line": self.line, "read_from": self.read_from, "log": self.location}
        return {**found, "error": self.error} if self.error else found

    def failure(self) -> MigratorError:
        return MigratorError(
            f"the Redis source host {self.instance_id} failed to build: {self.line}",
            f"the whole log: {self.location}; fix the cause (e.g. redis_version / redis_source_sha256) "
            "and run `migrator up` again, which rebuilds the host (after a passing fault, e.g. a package "
            "mirror, rerun the idempotent build on it: sudo bash /var/lib/cloud/instance/scripts/part-001)",
            Code.HOST_BUILD_FAILED,
        )


def from_record(record: HostRecord, location: str) -> HostVerdict:
    return HostVerdict(
        record.state, record.instance_id, record.line, record.version, record.read_from, location
    )


def scan(lines: list[str]) -> tuple[str, str | None, str | None]:
    """(state, verdict or last line, version) of the user-data lines read so far, oldest first.

    A later `start` (user data run again) makes the host building again until its own verdict.
    """
    state, last, version = "unknown", None, None
    for line in lines:
        last, state = line, "building"
        if (found := _VERSION.search(line)) is not None:
            version = found.group(1)
    for line in reversed(lines):
        if line.startswith(DONE):
            return "done", line, version
        if line.startswith(FATAL):
            return "failed", line, version
        if line.startswith(START):
            break
    return state, last, version


def console_lines(text: str) -> list[str]:
    """The user-data lines of a console output (cloud-init may prefix them; kernel lines are dropped)."""
    lines = []
    for raw in text.replace("\r", "").splitlines():
        at = raw.find(MARK)
        if at >= 0:
            lines.append(raw[at:].strip())
    return lines


class HostLog:
    """Reads the build log as it grows: CloudWatch Logs, and the console output while Logs has nothing."""

    def __init__(self, outputs: dict[str, Any], region: str | None) -> None:
        self.region = region
        self.instance_id: str | None = outputs.get("redis_instance_id")
        self.group: str | None = outputs.get("redis_source_log_group") or outputs.get("redis_log_group_name")
        default_stream = f"{self.instance_id}/user-data.log" if self.instance_id else None
        self.stream: str | None = outputs.get("redis_source_log_stream") or default_stream
        self._log_lines: list[str] = []
        self._console: list[str] = []
        self._start_ms = 0
        self._seen: dict[str, int] = {}  # event id → timestamp, for events at the resumed start time
        self._denied: dict[str, MigratorError] = {}
        self._latest = True  # GetConsoleOutput Latest=true (Nitro instances; the module's types all are)
        self.error: str | None = None

    @property
    def location(self) -> str:
        where = []
        if self.group and self.stream:
            where.append(f"{CLOUDWATCH} group {self.group}, stream {self.stream}")
        if self.instance_id:
            where.append(f"the {CONSOLE} of {self.instance_id} (aws ec2 get-console-output)")
        return " or ".join(where) or "the host's /var/log/user-data.log"

    def poll(self) -> HostVerdict:
        """Read what is new and judge it; raise only when neither copy of the log may be read."""
        if self.group and self.stream and CLOUDWATCH not in self._denied:
            self._read_logs()
        if not self._log_lines and self.instance_id and CONSOLE not in self._denied:
            self._read_console()
        if len(self._denied) == 2 or (CLOUDWATCH in self._denied and not self.instance_id):
            denied = "; ".join(err.message for err in self._denied.values())
            raise MigratorError(
                f"cannot read the Redis host's build log: {denied}",
                "grant logs:FilterLogEvents or ec2:GetConsoleOutput (README#iam-permissions), or pass "
                "--no-wait-host",
                Code.ACCESS_DENIED,
            )
        lines, read_from = (self._log_lines, CLOUDWATCH) if self._log_lines else (self._console, CONSOLE)
        state, line, version = scan(lines)
        return HostVerdict(
            state,
            self.instance_id,
            line,
            version,
            read_from if lines else None,
            self.location,
            None if lines else self.error,
        )

    def _failed(self, source: str, err: MigratorError) -> None:
        if err.code == Code.ACCESS_DENIED:
            self._denied[source] = err
        self.error = err.one_line()

    def _read_logs(self) -> None:
        from botocore.exceptions import ClientError

        from migrator.aws.clients import aws_errors, make_client

        client = make_client("logs", self.region)
        params: dict[str, Any] = {
            "logGroupName": self.group,
            "logStreamNames": [self.stream],
            "startTime": self._start_ms,
        }
        try:
            with aws_errors("logs:FilterLogEvents", self.region):
                while True:
                    try:
                        page = client.filter_log_events(**params)
                    except ClientError as exc:
                        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                            raise
                        self.error = f"{self.group} has no stream {self.stream} yet"
                        return
                    self._take(page.get("events") or [])
                    if not page.get("nextToken"):
                        return
                    params["nextToken"] = page["nextToken"]
        except MigratorError as err:
            self._failed(CLOUDWATCH, err)

    def _take(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            event_id, stamp = str(event.get("eventId")), int(event.get("timestamp") or 0)
            if event_id in self._seen:
                continue
            self._seen[event_id] = stamp
            self._log_lines += [ln.strip() for ln in str(event.get("message", "")).splitlines() if ln.strip()]
            self._start_ms = max(self._start_ms, stamp)
        # The next poll starts at the newest timestamp (inclusive): only events there can come again.
        self._seen = {k: v for k, v in self._seen.items() if v >= self._start_ms}

    def _read_console(self) -> None:
        from migrator.aws.clients import aws_errors, make_client

        params: dict[str, Any] = {"InstanceId": self.instance_id}
        if self._latest:
            params["Latest"] = True
        try:
            with aws_errors("ec2:GetConsoleOutput", self.region):
                reply = make_client("ec2", self.region).get_console_output(**params)
        except MigratorError as err:
            if "UnsupportedOperation" in err.message:
                self._latest = False  # not a Nitro instance: the buffered copy is all there is
            self._failed(CONSOLE, err)
            return
        encoded = reply.get("Output") or ""
        try:
            text = base64.b64decode(encoded).decode("utf-8", errors="replace")
        except ValueError:
            text = encoded
        self._console = console_lines(text)


def wait_for_build(
    log: HostLog,
    timeout: float = DEFAULT_TIMEOUT,
    *,
    poll_seconds: float | None = None,
    progress: ProgressCallback | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> HostVerdict:
    """Poll until the host says `done` or `FATAL` (returned either way); HostBuildTimeout after `timeout`."""
    poll = POLL_SECONDS if poll_seconds is None else poll_seconds
    began = clock()
    shown = 0
    while True:
        verdict = log.poll()
        elapsed = clock() - began
        if progress is not None:
            step = min(int(elapsed), int(timeout)) - shown
            progress(step, None)
            shown += step
        if verdict.state in ("done", "failed"):
            return verdict
        if elapsed >= timeout:
            said = f"its last line: {verdict.line}" if verdict.line else "no line from it yet"
            why = f" ({verdict.error})" if verdict.error else ""
            raise MigratorError(
                f"the Redis source host {log.instance_id} reported no build verdict within {timeout:.0f}s; "
                f"{said}{why}",
                f"see {log.location}; raise --host-timeout, or pass --no-wait-host and check later with "
                "`migrator status`",
                Code.HOST_BUILD_TIMEOUT,
            )
        sleep(min(poll, max(0.0, timeout - elapsed)))
