"""Shared by the reliability, bad-input and soak tests: a local rehearsal driven through the CLI, the levers
that break it (signals, the TCP proxy), a live writer whose ledger knows when each write was acknowledged,
and the orphan-process check. Every wait here is bounded in time.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import redis

from migrator.workload import Ledger, LiveWriter, check_ledger
from tests.helpers.cli import CliResult

POLL = 0.1


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = POLL) -> Any:
    """Poll until `predicate()` is truthy and return its value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not reached within {timeout}s (last: {value!r})")
        time.sleep(interval)


class Rehearsal:
    """A local environment driven through the CLI the way a user does, plus direct levers for faults."""

    def __init__(self, cli: Callable[..., CliResult], tmp_path: Path) -> None:
        self.cli = cli
        self.tmp_path = tmp_path
        self.workspace = tmp_path / ".migrator"

    def run(self, *args: str, expect: int | None = 0) -> CliResult:
        result = self.cli(*args)
        if expect is not None:
            assert result.exit_code == expect, result
        return result

    def json(self, *args: str, expect: int | None = 0) -> dict[str, Any]:
        return self.run(*args, "-o", "json", expect=expect).json  # type: ignore[return-value]

    def state(self) -> dict[str, Any]:
        return json.loads((self.workspace / "state.json").read_text())

    def url(self, role: str) -> str:
        return f"redis://127.0.0.1:{self.state()['servers'][role]['port']}"

    def client(self, role: str, **kwargs: Any) -> redis.Redis:
        return redis.Redis.from_url(self.url(role), socket_timeout=10, **kwargs)

    def status(self) -> dict[str, Any]:
        """`migrate status -o json`; it reports, so it must exit 0 whatever the fault."""
        return self.json("migrate", "status")

    def wait_status(self, predicate: Callable[[dict[str, Any]], bool], timeout: float, what: str) -> dict:
        seen: list[dict[str, Any]] = []

        def check() -> bool:
            seen[:] = [self.status()]
            return predicate(seen[0])

        try:
            wait_for(check, timeout, what, interval=0.2)
        except AssertionError as err:
            raise AssertionError(f"{err}; last status: {json.dumps(seen[-1] if seen else None)}") from None
        return seen[0]

    def wait_in_sync(self, timeout: float = 60.0) -> dict[str, Any]:
        """The link is up again and the initial (re)sync is over."""
        return self.wait_status(
            lambda s: s["link"]["master_link_status"] == "up" and not s["link"]["sync_in_progress"],
            timeout,
            "link up and sync done",
        )

    def kill(self, role: str, sig: signal.Signals) -> int:
        """Send `sig` to the server and wait until it has exited; returns its pid."""
        pid = self.state()["servers"][role]["pid"]
        os.kill(pid, sig)
        wait_for(lambda: not _alive(pid), 30, f"{role} (pid {pid}) exit after {sig.name}")
        return pid

    def source_info(self, section: str) -> dict[str, Any]:
        client = self.client("source")
        try:
            return client.info(section)
        finally:
            client.close()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class StampedLedger(Ledger):
    """A ledger that also remembers when each write was acknowledged, to cut it at the promotion."""

    def __init__(self, path: Path | None = None) -> None:
        super().__init__(path)
        self.times: list[float] = []

    def add(self, record: Any) -> None:
        super().add(record)
        self.times.append(time.monotonic())

    def settled_before(self, moment: float) -> Ledger:
        """Writes answered before `moment` that no later write may undo: what a cut-over begun at `moment`
        must carry. Collection adds only accumulate; a string or counter written again later is left out,
        since that later write may legitimately have reached the target before the promotion too."""
        undoable = ("set", "expire", "del", "incr")
        late = {(r.db, r.key) for r, t in zip(self.records, self.times, strict=True) if t >= moment}
        cut = Ledger()
        cut.records = [
            r
            for r, t in zip(self.records, self.times, strict=True)
            if t < moment and not (r.op in undoable and (r.db, r.key) in late)
        ]
        return cut


@contextlib.contextmanager
def live_writes(url: str, rate: float, seed: int = 1) -> Iterator[LiveWriter]:
    """A LiveWriter in a background thread for the block; always stopped, even when the test fails."""
    writer = LiveWriter(url, rate=rate, ledger=StampedLedger(), seed=seed).start()
    try:
        yield writer
    finally:
        writer.stop()


def assert_acked_writes_on(ledger: Ledger, target_url: str) -> None:
    report = check_ledger(ledger, target_url)
    problems = "\n".join(f"  {p.op} db{p.db} {p.key} {p.member}: want {p.expected}, got {p.found}"
                         for p in report.problems[:20])  # fmt: skip
    assert report.ok, f"{report.summary()}\n{problems}"
    assert report.acked_writes > 0, "the writer acknowledged nothing: the test proved nothing"
