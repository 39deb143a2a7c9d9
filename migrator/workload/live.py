"""LiveWriter: paced writes of every kind, one at a time, each recorded in a Ledger once its reply arrives.

Ops go out one by one (no pipelining) so each reply acknowledges exactly one write; on a cluster each goes
to the master serving its key's slot. The writer survives its
server going away: the op in flight is recorded as unacknowledged, the writer waits for the server with a
short backoff, and carries on. Redis-py's automatic retries are off, because a silent retry could apply a
write twice (an INCR counted once in the ledger, twice on the server).
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from migrator.endpoints import Endpoint, connection_error, parse_url
from migrator.errors import Code, MigratorError
from migrator.topology import SlotMap
from migrator.workload.ledger import Ledger, WriteRecord
from migrator.workload.routing import Router

if TYPE_CHECKING:
    import redis

OPS = {"set": 30, "incr": 10, "hset": 15, "lpush": 10, "zadd": 10, "xadd": 10, "expire": 8, "del": 7}
SHARED_KEYS = 4  # hashes, lists, zsets, streams and counters per run, written over and over
EXPIRE_SECONDS = 86_400  # far beyond any rehearsal, so "has a TTL" stays checkable
FLUSH_EVERY = 0.5
RECONNECT_BACKOFF = (0.05, 1.0)


@dataclass
class WriterReport:
    url: str
    run_id: str
    acked: int
    failed: int  # error reply or no reply: not acknowledged
    unacked_unknown: int  # no reply: may or may not have been applied
    reconnects: int
    duration_s: float
    acked_per_s: float
    by_op: dict[str, int] = field(default_factory=dict)
    ledger: str | None = None
    last_error: str = ""


class LiveWriter:
    """Write at `rate` ops/s to `url` until `duration` elapses or `stop()` is called."""

    def __init__(
        self,
        url: str,
        *,
        rate: float = 200.0,
        ledger: Ledger | None = None,
        seed: int | None = None,
        slot_map: SlotMap | None = None,
    ):
        if rate <= 0:
            raise MigratorError(f"--rate must be positive, not {rate}", "e.g. --rate 200", Code.INVALID_VALUE)
        self.endpoint = parse_url(url, "source")
        self.slot_map = slot_map  # a cluster's masters as reached from here (else asked of `url`)
        self.rate = rate
        self.ledger = ledger or Ledger()
        self.rng = random.Random(seed)
        # Never from the seed: a re-run with the same seed would rewrite the same keys and values, so writes
        # lost on the target would pass the ledger check on the earlier run's data.
        self.run_id = secrets.token_hex(4)
        self.stop_event = threading.Event()
        self.report: WriterReport | None = None
        self._thread: threading.Thread | None = None
        self._thread_error: Exception | None = None
        self._live_strings: list[str] = []  # acked SET keys not deleted and never left uncertain
        self._seq = 0
        self._counts: Counter[str] = Counter()
        self._failed = self._unknown = self._reconnects = 0
        self._last_error = ""

    def _client(self, ep: Endpoint) -> redis.Redis:
        from migrator.endpoints import client

        return client(ep, db=self.endpoint.db, timeout=2.0)

    def run(self, duration: float | None = None) -> WriterReport:
        """Write until `duration` seconds pass or stop() is called; returns (and keeps) the report.

        On a cluster each write goes to the master serving its key's slot (found from the one URL given).
        """
        import redis

        router = Router.open(self.endpoint.url, "source", self.slot_map, make=self._client)
        for url, client in router.clients.items():
            try:
                client.ping()
            except redis.RedisError as exc:
                router.close()
                raise connection_error(exc, parse_url(url), "source") from None
        started = time.monotonic()
        deadline = None if duration is None else started + duration
        last_flush = started
        n = 0
        try:
            while not self.stop_event.is_set():
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    break
                # Pace by schedule, not by sleeping a fixed gap, so slow replies do not lower the rate.
                delay = started + n / self.rate - now
                if delay > 0 and self.stop_event.wait(min(delay, 0.2)):
                    break
                if delay > 0:
                    continue
                n += 1
                self._one_op(router)
                if now - last_flush > FLUSH_EVERY:
                    self.ledger.flush()
                    last_flush = now
        finally:
            router.close()
            self.ledger.flush()
        elapsed = time.monotonic() - started
        acked = sum(self._counts.values())
        self.report = WriterReport(
            url=self.endpoint.url,
            run_id=self.run_id,
            acked=acked,
            failed=self._failed,
            unacked_unknown=self._unknown,
            reconnects=self._reconnects,
            duration_s=round(elapsed, 3),
            acked_per_s=round(acked / elapsed, 1) if elapsed else 0.0,
            by_op=dict(self._counts),
            ledger=str(self.ledger.path) if self.ledger.path else None,
            last_error=self._last_error,
        )
        return self.report

    def start(self, duration: float | None = None) -> LiveWriter:
        """Run in a background thread; wait() or stop() returns the report."""

        def run() -> None:
            try:
                self.run(duration)
            except Exception as exc:  # handed to the thread that calls wait()
                self._thread_error = exc

        self._thread = threading.Thread(target=run, name="live-writer", daemon=True)
        self._thread.start()
        return self

    def wait(self) -> WriterReport:
        """Wait for a started writer to finish (duration elapsed or stopped) and return its report."""
        if self._thread:
            while self._thread.is_alive():
                self._thread.join(0.2)  # short joins keep Ctrl-C responsive
        if self._thread_error is not None:
            raise self._thread_error
        assert self.report is not None, "wait() before start()"
        return self.report

    def stop(self) -> WriterReport:
        self.stop_event.set()
        return self.wait()

    def _one_op(self, router: Router) -> None:
        import redis

        op = self.rng.choices(list(OPS), list(OPS.values()))[0]
        if op in ("expire", "del") and not self._live_strings:
            op = "set"
        record, command = self._plan(op)
        client = router.client_for(record.key)
        try:
            reply = client.execute_command(*command)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            # BusyLoadingError is a ConnectionError but an error reply: the server refused, nothing applied.
            if not isinstance(exc, redis.BusyLoadingError):
                record.acked = False
                self.ledger.add(record)
                self._unknown += 1
            self._fail(op, record, exc)
            self._wait_for_server(client)
            return
        except redis.ResponseError as exc:  # e.g. READONLY, MISCONF, OOM: refused, nothing applied
            self._fail(op, record, exc)
            self.stop_event.wait(0.05)
            return
        if op == "xadd":
            record.member = reply.decode()
        self.ledger.add(record)
        self._counts[op] += 1
        if op == "set":
            self._live_strings.append(record.key)

    def _plan(self, op: str) -> tuple[WriteRecord, tuple[Any, ...]]:
        """The record for this op (acked until proven otherwise) and the command that performs it."""
        self._seq += 1
        seq, prefix, db = self._seq, f"w:{self.run_id}", self.endpoint.db
        shared = f"{prefix}:{op}:{self.rng.randrange(SHARED_KEYS)}"
        value = f"v{seq}-{self.rng.getrandbits(32):08x}"
        if op == "set":
            key = f"{prefix}:s:{seq}"
            return WriteRecord(seq, op, db, key, value=value), ("SET", key, value)
        if op == "expire":
            key = self.rng.choice(self._live_strings)
            return WriteRecord(seq, op, db, key), ("EXPIRE", key, EXPIRE_SECONDS)
        if op == "del":
            key = self._live_strings.pop(self.rng.randrange(len(self._live_strings)))
            return WriteRecord(seq, op, db, key), ("DEL", key)
        if op == "incr":
            return WriteRecord(seq, op, db, shared), ("INCR", shared)
        member = f"m{seq}"
        if op == "hset":
            return WriteRecord(seq, op, db, shared, member, value), ("HSET", shared, member, value)
        if op == "lpush":
            return WriteRecord(seq, op, db, shared, member), ("LPUSH", shared, member)
        if op == "zadd":
            score = f"{seq}.5"
            return WriteRecord(seq, op, db, shared, member, score), ("ZADD", shared, score, member)
        return WriteRecord(seq, op, db, shared, None, value), ("XADD", shared, "*", "v", value)

    def _fail(self, op: str, record: WriteRecord, exc: Exception) -> None:
        self._failed += 1
        self._last_error = f"{type(exc).__name__}: {exc}"
        if op == "expire" and record.key in self._live_strings:
            self._live_strings.remove(record.key)  # its TTL is now unknown: leave it alone

    def _wait_for_server(self, client: redis.Redis) -> None:
        import redis

        self._reconnects += 1
        backoff = RECONNECT_BACKOFF[0]
        while not self.stop_event.is_set():
            try:
                client.ping()
                return
            except redis.RedisError:
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, RECONNECT_BACKOFF[1])
