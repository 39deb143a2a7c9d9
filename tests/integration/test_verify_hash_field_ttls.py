"""migrate verify and hash-field TTLs (Redis 7.4's HEXPIRE family), against real servers of the matrix.

A Redis 7.4 source whose hashes carry field TTLs, compared with a Valkey 9.1 copy made by replication (the
field TTLs written once the link is up: a Valkey full sync cannot load them) and with a Valkey 8.1 target
behind a Valkey 9.1 bridge, which keeps each field and drops its TTL. Each comparison runs once per way of
comparing a batch (`batch_compare`, tests/helpers/verify_data.py): digested, fetched, fetched capped.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import redis

from migrator.verify import TTL, verify
from tests.helpers.servers import ServerProcess, matrix_binary, promote, replicate
from tests.helpers.verify_data import KEYS_IN_DATA, add_data, force_compare

HOUR_MS = 3_600_000
TABLE, BIG = 600, 3000  # a hashtable hash digested whole; one too long for the script (compared in chunks)
FIELD_TTL_KEYS = ["hfe:big", "hfe:small", "hfe:table"]  # the keys given field TTLs, sorted
Start = Callable[..., ServerProcess]


@pytest.fixture
def start(pooled: Callable[..., ServerProcess]) -> Start:
    """start(engine, version, role="test"): an empty server of the matrix, from the session's pool."""
    return lambda engine, version, role="test": pooled(matrix_binary(engine, version), role)


def add_field_ttls(source: redis.Redis) -> int:
    """Hashes with field TTLs in every encoding (listpackex, hashtable, too long to digest); the deadline."""
    deadline = int(time.time() * 1000) + HOUR_MS
    source.hset("hfe:small", mapping={"a": "1", "b": "2", "c": "3"})
    source.execute_command("HPEXPIREAT", "hfe:small", deadline, "FIELDS", 2, "a", "b")
    source.pexpire("hfe:small", 2 * HOUR_MS)  # a key TTL as well
    source.hset("hfe:table", mapping={f"f{i}": i for i in range(TABLE)})
    source.execute_command("HPEXPIREAT", "hfe:table", deadline, "FIELDS", 1, "f7")
    source.hset("hfe:big", mapping={f"f{i}": i for i in range(BIG)})
    source.execute_command("HPEXPIREAT", "hfe:big", deadline, "FIELDS", 1, "f2500")
    return deadline


def field_expiry(client: redis.Redis, key: str, field: str) -> int:
    return int(client.execute_command("HPEXPIRETIME", key, "FIELDS", 1, field)[0])


@pytest.fixture
def pair(start: Start) -> tuple[ServerProcess, ServerProcess]:
    """Redis 7.4 with the test_verify dataset plus field TTLs; a Valkey 9.1 replica of it, then promoted."""
    source, target = start("redis", "7.4"), start("valkey", "9.1", role="bridge")  # relaxed: loads RDB 12
    add_data(source)
    source.client(1).hset("db1:hash", mapping={"x": "1"})
    replicate(target, source)
    add_field_ttls(source.client())  # reaches the replica as HPEXPIREAT
    replicate(target, source)
    promote(target)
    assert field_expiry(target.client(), "hfe:big", "f2500") == field_expiry(
        source.client(), "hfe:big", "f2500"
    )
    return source, target


def test_a_valkey_9_copy_with_the_same_field_ttls_reports_ok(
    pair: tuple[ServerProcess, ServerProcess], batch_compare: str
) -> None:
    source, target = pair
    assert source.client().info("keyspace")["db0"]["subexpiry"] == len(FIELD_TTL_KEYS)
    report = verify(source.url, target.url)
    assert report.ok, report.mismatches
    assert report.keys_checked == KEYS_IN_DATA + len(FIELD_TTL_KEYS) + 1


def _shift(key: str, field: str, ms: int) -> Callable[[Callable[..., redis.Redis]], object]:
    def plant(client: Callable[..., redis.Redis]) -> object:
        t = client()
        return t.execute_command("HPEXPIREAT", key, field_expiry(t, key, field) + ms, "FIELDS", 1, field)

    return plant


def _persist(key: str, field: str) -> Callable[[Callable[..., redis.Redis]], object]:
    return lambda client: client().execute_command("HPERSIST", key, "FIELDS", 1, field)


# (fault, plant it with the target's client(db) factory, the (db, key) verify reports as a TTL difference)
FIELD_FAULTS: list[tuple[str, Callable[[Callable[..., redis.Redis]], object], tuple[int, str]]] = [
    ("field TTL removed, small hash", _persist("hfe:small", "a"), (0, "hfe:small")),
    ("field TTL removed, hashtable", _persist("hfe:table", "f7"), (0, "hfe:table")),
    ("field TTL removed, hash too long to digest", _persist("hfe:big", "f2500"), (0, "hfe:big")),
    ("field TTL later than tolerance", _shift("hfe:small", "b", 5000), (0, "hfe:small")),
    ("field TTL earlier than tolerance", _shift("hfe:table", "f7", -1500), (0, "hfe:table")),
    (
        "field TTL only on target",
        lambda client: client().execute_command("HPEXPIRE", "hash", 60_000, "FIELDS", 1, "f1"),
        (0, "hash"),
    ),
    (
        "field TTL only on target, in a db without any on the source",
        lambda client: client(1).execute_command("HPEXPIRE", "db1:hash", 60_000, "FIELDS", 1, "x"),
        (1, "db1:hash"),
    ),
]


@pytest.mark.parametrize(
    ("plant", "expected"), [f[1:] for f in FIELD_FAULTS], ids=[f[0] for f in FIELD_FAULTS]
)
def test_a_field_ttl_changed_on_the_target_is_a_ttl_difference(
    pair: tuple[ServerProcess, ServerProcess],
    plant: Callable[[Callable[..., redis.Redis]], object],
    expected: tuple[int, str],
    batch_compare: str,
) -> None:
    source, target = pair
    assert plant(target.client) in ([1], 1)
    report = verify(source.url, target.url)
    assert [(m.db, m.key, m.kind) for m in report.mismatches] == [(*expected, TTL)]
    assert report.ttl_mismatch == 1 and not report.ok


def test_field_ttl_details_name_the_field(pair: tuple[ServerProcess, ServerProcess]) -> None:
    source, target = pair
    _persist("hfe:small", "a")(target.client)
    _shift("hfe:table", "f7", 5000)(target.client)
    details = {m.key: m.detail for m in verify(source.url, target.url).mismatches}
    assert details == {
        "hfe:small": "field a: persistent on target only",
        "hfe:table": "field f7: expiry differs by 5000 ms",
    }


def test_a_field_ttl_within_the_tolerance_is_not_a_difference(
    pair: tuple[ServerProcess, ServerProcess], batch_compare: str
) -> None:
    source, target = pair
    _shift("hfe:small", "a", 800)(target.client)
    assert verify(source.url, target.url).ok
    report = verify(source.url, target.url, ttl_tolerance_ms=500)
    assert [(m.key, m.kind) for m in report.mismatches] == [("hfe:small", TTL)]


def test_a_valkey_8_target_behind_a_bridge_loses_every_field_ttl(start: Start, batch_compare: str) -> None:
    """The measured fault: an HEXPIRE during a bridged migration reaches Valkey 8.1 as an unknown
    HPEXPIREAT; the target keeps the field, drops its TTL, and has no HPEXPIRETIME to ask."""
    source, target = start("redis", "7.4"), start("valkey", "8.1")
    bridge = start("valkey", "9.1", role="bridge")
    add_data(source)
    replicate(bridge, source)
    replicate(target, bridge)
    add_field_ttls(source.client())
    replicate(bridge, source)
    replicate(target, bridge)
    assert target.client().hlen("hfe:big") == BIG  # every field arrived
    promote(target)
    promote(bridge)
    assert verify(source.url, bridge.url).ok  # Valkey 9.1 kept them
    report = verify(source.url, target.url)
    assert [(m.key, m.kind) for m in sorted(report.mismatches, key=lambda m: m.key)] == [
        (key, TTL) for key in FIELD_TTL_KEYS
    ]
    assert (
        report.ttl_mismatch
        == len(FIELD_TTL_KEYS)
        == sum(
            getattr(report, kind)
            for kind in ("missing_on_target", "extra_on_target", "value_mismatch", "ttl_mismatch")
        )
    )
    assert all("no HPEXPIRETIME" in m.detail for m in report.mismatches), report.mismatches


def _commands_served(server: ServerProcess) -> dict[str, int]:
    """Calls per command since the last CONFIG RESETSTAT (commands run by scripts count too)."""
    stats = server.client().info("commandstats")
    return {name.removeprefix("cmdstat_"): int(fields["calls"]) for name, fields in stats.items()}


def _source_cost(
    source: ServerProcess, target: ServerProcess, field_ttls: bool, mp: pytest.MonkeyPatch
) -> dict[str, int]:
    with mp.context() as scoped:
        if not field_ttls:  # as verify was before hash-field TTLs: no server is asked about them
            scoped.setattr("migrator.verify.server.keeps_hash_field_ttls", lambda engine, version: False)
        source.client().config_resetstat()
        assert verify(source.url, target.url).ok
        served = _commands_served(source)
    return {name: calls for name, calls in served.items() if not name.startswith("config")}


@pytest.mark.parametrize("mode", ["digest", "fetch", "fetch-capped"])
def test_a_source_without_field_ttls_serves_no_extra_command_per_key(
    start: Start, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    source, target = start("redis", "7.4"), start("valkey", "9.1", role="bridge")
    add_data(source)
    client = source.client()
    for i in range(400):  # hashes in both encodings, none with a field TTL
        client.hset(f"h:{i}", mapping={f"f{j}": j for j in range(TABLE if i % 40 == 0 else 5)})
    replicate(target, source)
    promote(target)
    force_compare(monkeypatch, mode)
    before = _source_cost(source, target, False, monkeypatch)
    after = _source_cost(source, target, True, monkeypatch)
    assert "hpexpiretime" not in after
    # The same commands, but for one INFO keyspace when the run opens (a Redis 7.4 source may hold some).
    assert after.pop("info") - before.pop("info") <= 1
    assert after == before
    # The measure sees per-key work: one field TTL and every hash's field TTLs are read.
    client.execute_command("HPEXPIRE", "h:1", 60_000, "FIELDS", 1, "f1")
    target.client().execute_command("HPEXPIRE", "h:1", 60_000, "FIELDS", 1, "f1")
    assert _source_cost(source, target, True, monkeypatch).get("hpexpiretime", 0) >= 10
