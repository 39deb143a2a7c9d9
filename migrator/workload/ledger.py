"""The acknowledged-write ledger, and check_ledger(): is every acknowledged write on the target?

Every write the live writer makes is checkable in the final state, even with overwrites: SET uses a new key
each time (only EXPIRE and DEL touch it later), HSET/LPUSH/ZADD/XADD add a new field/element/member/entry,
and INCR counters are checked against the number of acknowledged increments. A write that got a reply is
`acked`. A write whose reply never came (connection lost) is recorded with `acked=False`: it may or may not
have been applied, so it is never required on the target, but it widens what the check accepts (a counter
may be higher; a key whose DEL was unanswered may exist or not).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from migrator.endpoints import Endpoint, connection_error, parse_url
from migrator.topology import SlotMap
from migrator.workload.routing import Router

if TYPE_CHECKING:
    import redis

CHECK_BATCH = 500
MAX_LISTED = 100


@dataclass
class WriteRecord:
    seq: int
    op: str  # set | incr | hset | lpush | zadd | xadd | expire | del
    db: int
    key: str
    member: str | None = None  # hash field, list element, zset member or stream entry id
    value: str | None = None  # string or field value, zset score, stream field value
    acked: bool = True


class Ledger:
    """Writes in order, in memory and optionally appended to a JSONL file (one record per line)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.records: list[WriteRecord] = []
        self.path = Path(path) if path else None
        self._file: IO[str] | None = self.path.open("w") if self.path else None  # one ledger per run

    def add(self, record: WriteRecord) -> None:
        self.records.append(record)
        if self._file:
            self._file.write(json.dumps(asdict(record)) + "\n")

    def flush(self) -> None:
        if self._file:
            self._file.flush()

    def close(self) -> None:
        if self._file:
            self._file.close()
            self._file = None

    @property
    def acked(self) -> int:
        return sum(r.acked for r in self.records)

    @classmethod
    def load(cls, path: str | Path) -> Ledger:
        ledger = cls()
        with Path(path).open() as lines:
            ledger.records = [WriteRecord(**json.loads(line)) for line in lines if line.strip()]
        return ledger


@dataclass
class LedgerProblem:
    op: str
    db: int
    key: str
    member: str | None
    expected: str
    found: str


@dataclass
class LedgerReport:
    ok: bool
    target: str
    acked_writes: int
    unacked_writes: int
    checked: int
    problem_count: int
    problems: list[LedgerProblem] = field(default_factory=list)

    def summary(self) -> str:
        if self.ok:
            return f"ledger: all {self.acked_writes} acknowledged writes are on {self.target}"
        return f"ledger: {self.problem_count} of {self.checked} expectations fail on {self.target}"


@dataclass
class _Expectation:
    """One fact about the final state; `judge` gets the replies to `commands` and returns what is wrong."""

    op: str
    db: int
    key: str
    member: str | None
    expected: str
    commands: list[tuple[Any, ...]]
    judge: Callable[[list[Any]], str | None]


def check_ledger(ledger: Ledger, target_url: str, slot_map: SlotMap | None = None) -> LedgerReport:
    """Read the target and list every acknowledged write that is missing or wrong there.

    A cluster target is read node by node, each key where its slot is served: as the cluster says, or as
    `slot_map` says (a migration's target shards, which do not run in cluster mode while they replicate).
    """
    import redis

    endpoint = parse_url(target_url, "target")
    expectations = _expectations(ledger.records)
    problems: list[LedgerProblem] = []
    routers: dict[int, Router] = {}
    by_node: dict[tuple[int, str], list[_Expectation]] = defaultdict(list)
    try:
        for expectation in expectations:
            db = expectation.db
            if db not in routers:
                routers[db] = Router.open(Endpoint(endpoint.host, endpoint.port, db).url, "target", slot_map)
            by_node[(db, routers[db].url_for(expectation.key))].append(expectation)
        for (db, url), items in by_node.items():
            client = routers[db].clients[url]
            try:
                problems += _problems(client, items)
            except redis.RedisError as exc:
                raise connection_error(exc, parse_url(url), "target") from None
    finally:
        for router in routers.values():
            router.close()
    return LedgerReport(
        ok=not problems,
        target=endpoint.url,
        acked_writes=ledger.acked,
        unacked_writes=len(ledger.records) - ledger.acked,
        checked=len(expectations),
        problem_count=len(problems),
        problems=problems[:MAX_LISTED],
    )


def _problems(client: redis.Redis, items: list[_Expectation]) -> list[LedgerProblem]:
    """Each expectation judged against one server, CHECK_BATCH at a time in a pipeline."""
    problems = []
    for start in range(0, len(items), CHECK_BATCH):
        batch = items[start : start + CHECK_BATCH]
        pipe = client.pipeline(transaction=False)
        for expectation in batch:
            for command in expectation.commands:
                pipe.execute_command(*command)
        replies = iter(pipe.execute())
        for e in batch:
            found = e.judge([next(replies) for _ in e.commands])
            if found is not None:
                problems.append(LedgerProblem(e.op, e.db, e.key, e.member, e.expected, found))
    return problems


def _expectations(records: list[WriteRecord]) -> list[_Expectation]:
    """Fold the ledger into facts about the final state that hold whatever happened to unacked writes."""
    strings: dict[tuple[int, str], dict[str, Any]] = {}
    uncertain: set[tuple[int, str]] = set()
    counters: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])  # [acked, unacked]
    out: list[_Expectation] = []
    for r in records:
        k = (r.db, r.key)
        if r.op == "incr":
            counters[k][0 if r.acked else 1] += 1
        elif r.op in ("set", "expire", "del"):
            if not r.acked and r.op != "expire":
                uncertain.add(k)
            elif r.op == "set":
                strings[k] = {"value": r.value, "ttl": False, "deleted": False}
            elif k in strings and r.op == "expire":
                strings[k]["ttl"] = True if r.acked else None  # None: unknown
            elif k in strings:
                strings[k]["deleted"] = True
        elif r.acked:
            out.append(_collection_expectation(r))
    for (db, key), state in strings.items():
        if (db, key) not in uncertain:
            out.append(_string_expectation(db, key, state))
    for (db, key), (acked, unacked) in counters.items():
        out.append(_counter_expectation(db, key, acked, unacked))
    return out


def _string_expectation(db: int, key: str, state: dict[str, Any]) -> _Expectation:
    if state["deleted"]:
        return _Expectation(
            "del", db, key, None, "absent", [("EXISTS", key)], lambda r: "present" if r[0] else None
        )
    value, ttl = state["value"], state["ttl"]

    def judge(replies: list[Any]) -> str | None:
        found, expiry = replies
        if found is None or found.decode() != value:
            return _describe(found)
        if ttl is not None and (expiry > 0) != ttl:
            return "a TTL" if expiry > 0 else "no TTL"
        return None

    expected = value + {True: " with a TTL", False: " without TTL", None: ""}[ttl]
    return _Expectation("set", db, key, None, expected, [("GET", key), ("PEXPIRETIME", key)], judge)


def _counter_expectation(db: int, key: str, acked: int, unacked: int) -> _Expectation:
    def judge(replies: list[Any]) -> str | None:
        value = int(replies[0] or 0)
        return None if acked <= value <= acked + unacked else str(value)

    expected = f"{acked}" + (f"..{acked + unacked}" if unacked else "")
    return _Expectation("incr", db, key, None, expected, [("GET", key)], judge)


_READS: dict[str, Callable[[WriteRecord], tuple[Any, ...]]] = {
    "hset": lambda r: ("HGET", r.key, r.member),
    "lpush": lambda r: ("LPOS", r.key, r.member),
    "zadd": lambda r: ("ZSCORE", r.key, r.member),
    "xadd": lambda r: ("XRANGE", r.key, r.member, r.member),
}


def _collection_expectation(r: WriteRecord) -> _Expectation:
    def judge(replies: list[Any]) -> str | None:
        return None if _matches(r, replies[0]) else _describe(replies[0])

    return _Expectation(r.op, r.db, r.key, r.member, r.value or "present", [_READS[r.op](r)], judge)


def _matches(r: WriteRecord, found: Any) -> bool:
    if found is None or found == []:
        return False
    value = r.value or ""  # every hset, zadd and xadd record carries its value
    if r.op == "hset":
        return bool(found.decode() == value)
    if r.op == "zadd":
        return bool(found == float(value))
    if r.op == "xadd":
        return bool(found[0][1] == {b"v": value.encode()})
    return True  # lpush: the element is in the list


def _describe(reply: Any) -> str:
    if reply is None or reply == []:
        return "nothing"
    return reply.decode("utf-8", "backslashreplace") if isinstance(reply, bytes) else str(reply)
