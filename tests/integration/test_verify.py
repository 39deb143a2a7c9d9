"""migrate verify against real servers: a Redis 7.0 source and a Valkey 8.0 target (cross-engine).

Each test replicates a dataset of every type, promotes the target so a fault can be planted on it, and checks
that verify reports exactly that fault with the right kind, or nothing on a clean copy. The fault and clean
tests run once per way of comparing a batch (`batch_compare` fixture): server-side digests, fetched values
(MGET), and fetched values capped per key (GETRANGE, once a server has shown large strings).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable

import pytest
import redis

from migrator.errors import Code, MigratorError
from migrator.verify import EXTRA, MISSING, TTL, VALUE, strategy, verify
from migrator.verify.report import key_text
from migrator.verify.server import LARGE_STRING
from migrator.workload import LiveWriter
from tests.helpers.cli import invoke
from tests.helpers.dataset import fill
from tests.helpers.servers import ServerProcess, promote, replicate
from tests.helpers.verify_data import BINARY_KEY, HOUR_MS, KEYS_IN_DATA, add_data, force_compare


@pytest.fixture
def pair(source: ServerProcess, target: ServerProcess) -> tuple[ServerProcess, ServerProcess]:
    """Source with the dataset; target a full copy made by replication, then promoted (writable)."""
    add_data(source)
    replicate(target, source)
    promote(target)
    return source, target


def test_clean_cross_engine_copy_reports_ok(
    pair: tuple[ServerProcess, ServerProcess], batch_compare: str
) -> None:
    source, target = pair
    report = verify(source.url, target.url)
    assert report.batches == {"digest" if batch_compare == "digest" else "fetch": 2}  # one per database
    assert report.ok, report.mismatches
    assert report.keys_checked == KEYS_IN_DATA == report.target_keys_scanned + report.target_keys_counted
    assert report.dbs == [0, 1]
    assert (report.missing_on_target, report.extra_on_target, report.value_mismatch, report.ttl_mismatch) == (
        0,
    ) * 4


def test_a_quiet_copy_rules_extra_keys_out_by_counting(pair: tuple[ServerProcess, ServerProcess]) -> None:
    source, target = pair
    report = verify(source.url, target.url)
    assert report.ok
    assert (report.target_keys_counted, report.target_keys_scanned) == (KEYS_IN_DATA, 0)


def test_equal_counts_do_not_hide_an_extra_key_when_one_is_missing(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    source, target = pair
    target.client().delete("str")
    target.client().set("only-here", 1)  # the target has as many keys as the source
    report = verify(source.url, target.url, rounds=1)
    assert sorted((m.key, m.kind) for m in report.mismatches) == [("only-here", EXTRA), ("str", MISSING)]
    assert (report.target_keys_scanned, report.target_keys_counted) == (18, 2)  # db 0 scanned, db 1 counted


def test_a_target_that_changes_during_the_run_is_scanned(pair: tuple[ServerProcess, ServerProcess]) -> None:
    source, target = pair
    planted = []

    def plant_once_scanning(by: int, total: int | None) -> None:
        if by and not planted:  # keys scanned, not yet compared: delete one, add one (same count)
            target.client().delete("int")
            target.client().set("late-extra", 1)
            planted.append(True)

    report = verify(source.url, target.url, rounds=1, progress=plant_once_scanning)
    assert sorted((m.key, m.kind) for m in report.mismatches) == [("int", MISSING), ("late-extra", EXTRA)]
    assert (report.target_keys_scanned, report.target_keys_counted) == (18, 2)  # db 1 did not change


def _swap_list_head(t: redis.Redis) -> None:
    t.lset("list", 0, "e1")
    t.lset("list", 1, "e0")


def _wrong_type(t: redis.Redis) -> None:
    t.delete("str")
    t.hset("str", "f", "v")


def _replace_member(key: str, old: str) -> Callable[[redis.Redis], None]:
    def plant(t: redis.Redis) -> None:
        t.srem(key, old)
        t.sadd(key, "other")

    return plant


def _shift_expiry(ms: int) -> Callable[[redis.Redis], None]:
    def plant(t: redis.Redis) -> None:
        t.pexpireat("ttl", t.pexpiretime("ttl") + ms)

    return plant


# (fault, plant it on db 0 of the target, the (db, key, kind) verify must report)
FAULTS: list[tuple[str, Callable[[redis.Redis], object], tuple[int, str, str]]] = [
    ("key deleted on target", lambda t: t.delete("str"), (0, "str", MISSING)),
    ("binary key deleted", lambda t: t.delete(BINARY_KEY), (0, key_text(BINARY_KEY), MISSING)),
    ("extra key on target", lambda t: t.set("only-here", 1), (0, "only-here", EXTRA)),
    ("string changed", lambda t: t.set("str", "hellp"), (0, "str", VALUE)),
    (
        "binary value changed",
        lambda t: t.setrange(BINARY_KEY, 100, b"\x00"),
        (0, key_text(BINARY_KEY), VALUE),
    ),
    ("large string changed", lambda t: t.setrange("large", 2_500_000, "!"), (0, "large", VALUE)),
    ("hash field changed", lambda t: t.hset("hash", "f3", "changed"), (0, "hash", VALUE)),
    ("big hash field changed", lambda t: t.hset("hash:big", "f7", "changed"), (0, "hash:big", VALUE)),
    ("big hash field added", lambda t: t.hset("hash:big", "new", "1"), (0, "hash:big", VALUE)),
    ("list element reordered", _swap_list_head, (0, "list", VALUE)),
    ("big list element changed", lambda t: t.lset("list:big", 2500, "x"), (0, "list:big", VALUE)),
    ("set member changed", _replace_member("set", "a"), (0, "set", VALUE)),
    ("intset member changed", _replace_member("set:int", "7"), (0, "set:int", VALUE)),
    ("big set member changed", _replace_member("set:big", "m5"), (0, "set:big", VALUE)),
    ("zset score changed", lambda t: t.zadd("zset", {"b": 2.3}), (0, "zset", VALUE)),
    ("big zset score changed", lambda t: t.zadd("zset:big", {"m2999": 299.8}), (0, "zset:big", VALUE)),
    ("stream entry missing", lambda t: t.xdel("stream", "1-3"), (0, "stream", VALUE)),
    ("big stream entry missing", lambda t: t.xdel("stream:big", "2-2999"), (0, "stream:big", VALUE)),
    ("consumer group missing", lambda t: t.xgroup_destroy("stream", "workers"), (0, "stream", VALUE)),
    (
        "consumer group behind",
        lambda t: t.xgroup_setid("stream:big", "workers", "2-1"),
        (0, "stream:big", VALUE),
    ),
    ("stream last id differs", lambda t: t.execute_command("XSETID", "stream", "9-9"), (0, "stream", VALUE)),
    (
        "idle consumer group moved",
        lambda t: t.xgroup_setid("stream:idle", "idle", "3-1"),
        (0, "stream:idle", VALUE),
    ),
    ("wrong type, same name", _wrong_type, (0, "str", VALUE)),
    ("TTL removed", lambda t: t.persist("ttl"), (0, "ttl", TTL)),
    ("TTL removed on a hash", lambda t: t.persist("hash:ttl"), (0, "hash:ttl", TTL)),
    ("TTL added", lambda t: t.pexpire("str", HOUR_MS), (0, "str", TTL)),
    ("TTL later than tolerance", _shift_expiry(5000), (0, "ttl", TTL)),
    ("TTL earlier than tolerance", _shift_expiry(-1500), (0, "ttl", TTL)),
]


@pytest.mark.parametrize(("plant", "expected"), [f[1:] for f in FAULTS], ids=[f[0] for f in FAULTS])
def test_planted_fault_is_reported_with_its_kind(
    pair: tuple[ServerProcess, ServerProcess],
    plant: Callable[[redis.Redis], object],
    expected: tuple,
    batch_compare: str,
) -> None:
    source, target = pair
    plant(target.client(0))
    report = verify(source.url, target.url)
    assert not report.ok
    assert [(m.db, m.key, m.kind) for m in report.mismatches] == [expected]
    kind = expected[2]
    assert getattr(report, kind) == 1
    assert sum(getattr(report, k) for k in (MISSING, EXTRA, VALUE, TTL)) == 1


def test_different_encodings_of_equal_values_are_not_differences(
    source: ServerProcess, server_factory: Callable[..., ServerProcess], batch_compare: str
) -> None:
    # Tiny listpack limits on the target: its hashes, zsets and lists load with other encodings (and DUMPs).
    limits = (
        "hash-max-listpack-entries",
        "zset-max-listpack-entries",
        "list-max-listpack-size",
        "set-max-intset-entries",
    )
    target = server_factory("valkey-server", extra=[arg for name in limits for arg in (f"--{name}", "2")])
    add_data(source)
    replicate(target, source)
    assert target.client().object("encoding", "hash") == b"hashtable"
    assert verify(source.url, target.url).ok
    promote(target)
    target.client().hset("hash", "f1", "changed")
    assert [m.key for m in verify(source.url, target.url).mismatches] == ["hash"]


def test_digest_calls_split_by_work_budget_give_the_same_answers(
    pair: tuple[ServerProcess, ServerProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("migrator.verify.server.SCRIPT_BUDGET", 10)  # about one key per call
    source, target = pair
    assert verify(source.url, target.url).ok
    target.client().zadd("zset", {"a": 1.2})
    target.client().persist("ttl")
    report = verify(source.url, target.url)
    assert sorted((m.key, m.kind) for m in report.mismatches) == [("ttl", TTL), ("zset", VALUE)]


def test_wrong_type_detail_names_both_types(pair: tuple[ServerProcess, ServerProcess]) -> None:
    source, target = pair
    _wrong_type(target.client())
    [mismatch] = verify(source.url, target.url).mismatches
    assert mismatch.detail == "type string on source, hash on target"


def test_difference_in_another_db_is_reported_with_its_db(pair: tuple[ServerProcess, ServerProcess]) -> None:
    source, target = pair
    target.client(1).zadd("db1:zset", {"x": 1.2})
    report = verify(source.url, target.url)
    assert [(m.db, m.key, m.kind) for m in report.mismatches] == [(1, "db1:zset", VALUE)]
    assert verify(source.url, target.url, dbs=[0]).ok  # --dbs limits the comparison


def test_expiry_within_tolerance_is_not_a_difference(pair: tuple[ServerProcess, ServerProcess]) -> None:
    source, target = pair
    _shift_expiry(800)(target.client())
    assert verify(source.url, target.url).ok
    assert verify(source.url, target.url, ttl_tolerance_ms=500).ttl_mismatch == 1


def test_200k_element_hash_with_one_changed_field(source: ServerProcess, target: ServerProcess) -> None:
    fields = {f"field:{i}": f"value:{i}" for i in range(200_000)}
    source.client().hset("huge", mapping=fields)
    replicate(target, source)
    promote(target)
    assert verify(source.url, target.url).ok
    target.client().hset("huge", "field:123456", "changed")
    report = verify(source.url, target.url)
    assert [(m.db, m.key, m.kind) for m in report.mismatches] == [(0, "huge", VALUE)]


def test_report_list_is_capped_but_counts_are_complete(pair: tuple[ServerProcess, ServerProcess]) -> None:
    source, target = pair
    target.client().set("extra", 1)
    target.client().delete("str", "int", "list", "set", "zset", "hash")
    report = verify(source.url, target.url, max_report=3)
    assert (report.missing_on_target, report.extra_on_target) == (6, 1)
    assert len(report.mismatches) == 3
    assert report.mismatches_truncated


def test_sample_checks_a_stable_fraction(source: ServerProcess, target: ServerProcess) -> None:
    source.client().mset({f"k{i}": i for i in range(4000)})
    replicate(target, source)
    report = verify(source.url, target.url, sample=0.25)
    assert report.ok
    assert 700 < report.keys_checked < 1300
    assert report.keys_checked == report.target_keys_scanned  # the same keys in both directions


def test_difference_that_converges_before_the_last_round_is_not_reported(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    source, target = pair

    def repair_after_first_pass() -> Callable[[int, int | None], None]:
        seen = {"keys": 0, "total": -1}

        def advance(by: int, total: int | None) -> None:
            seen["total"] = seen["total"] if total is None else total
            seen["keys"] += by
            if seen["keys"] == seen["total"]:  # both directions scanned: the re-check rounds come next
                target.client().set("str", "hello")

        return advance

    target.client().set("str", "changing")
    report = verify(source.url, target.url, rounds=2, progress=repair_after_first_pass())
    assert report.ok
    assert report.rounds_run == 2
    target.client().set("str", "changing")
    assert verify(source.url, target.url, rounds=1, progress=repair_after_first_pass()).value_mismatch == 1


def test_live_writes_during_verify_are_not_reported(
    source: ServerProcess, target: ServerProcess, batch_compare: str
) -> None:
    add_data(source)
    replicate(target, source)
    writer = LiveWriter(source.url, rate=400, seed=7).start()
    try:
        threading.Event().wait(0.5)
        report = verify(source.url, target.url, rounds=5)
    finally:
        writer_report = writer.stop()
    assert writer_report.acked > 100
    assert report.ok, report.mismatches
    assert report.target_keys_scanned > 0  # writes moved the change counters: no counting shortcut


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("rediss://127.0.0.1:1", "TLSNotSupported"),
        ("redis://user:pw@127.0.0.1:1", "AuthNotSupported"),
        ("http://127.0.0.1:1", "InvalidURL"),
        ("redis://127.0.0.1:1", "Unreachable"),
    ],
)
def test_bad_endpoints_raise_one_line_errors(target: ServerProcess, url: str, code: str) -> None:
    with pytest.raises(MigratorError) as caught:
        verify(url, target.url)
    assert caught.value.code == code


def test_target_lost_mid_run_is_a_one_line_error(source: ServerProcess, target: ServerProcess) -> None:
    source.client().mset({f"k{i}": i for i in range(20_000)})
    replicate(target, source)

    def stop_target(by: int, total: int | None) -> None:
        if by:
            target.stop()

    started = time.monotonic()
    with pytest.raises(MigratorError) as caught:
        verify(source.url, target.url, progress=stop_target)
    assert caught.value.code == "Unreachable" and "target" in caught.value.message
    assert time.monotonic() - started < 10


def test_invalid_options_are_errors(source: ServerProcess, target: ServerProcess) -> None:
    for kwargs in ({"rounds": 0}, {"sample": 0.0}, {"sample": 1.5}, {"ttl_tolerance_ms": -1}):
        with pytest.raises(MigratorError) as caught:
            verify(source.url, target.url, **kwargs)
        assert caught.value.code == Code.INVALID_VALUE, kwargs
    with pytest.raises(MigratorError, match="same server") as caught:
        verify(source.url, source.url.replace("127.0.0.1", "localhost"))
    assert caught.value.code == Code.SAME_SERVER


def test_cli_json_clean_and_with_differences(pair: tuple[ServerProcess, ServerProcess]) -> None:
    source, target = pair
    code, out, _ = invoke("migrate", "verify", "--source", source.url, "--target", target.url, "-o", "json")
    document = json.loads(out)
    assert code == 0 and document["ok"] is True
    for field in ("keys_checked", "missing_on_target", "extra_on_target", "value_mismatch", "ttl_mismatch",
                  "mismatches", "duration_s", "keys_per_s"):  # fmt: skip
        assert field in document
    target.client().delete(BINARY_KEY)
    code, out, err = invoke("migrate", "verify", "--source", source.url, "--target", target.url, "-o", "json")
    document = json.loads(out)
    assert code == 1 and document["ok"] is False
    assert document["mismatches"] == [{"db": 0, "key": "bin:\\xff\x00\n key", "kind": MISSING, "detail": ""}]
    assert err.strip().count("\n") == 0 and "1 missing_on_target" in err


def test_cli_text_and_error_exit_codes(pair: tuple[ServerProcess, ServerProcess]) -> None:
    source, target = pair
    target.client().delete("str")
    code, out, err = invoke(
        "migrate", "verify", "--source", source.url, "--target", target.url, "--rounds", "1"
    )
    assert code == 1 and "str" in out and "missing_on_target" in out
    code, out, err = invoke(
        "migrate", "verify", "--source", "rediss://x:1", "--target", target.url, "-o", "json"
    )
    assert code == 2 and json.loads(out)["error"]["code"] == "TLSNotSupported"
    assert err.startswith("error: ") and err.count("\n") == 1
    code, _, err = invoke("migrate", "verify", "--source", source.url, "--target", target.url, "--dbs", "x")
    assert code == 2 and "--dbs" in err


def test_a_database_in_the_urls_limits_the_comparison_to_it(source, target) -> None:
    source.client(db=2).set("in-two", 1)
    target.client(db=2).set("in-two", 1)
    source.client(db=0).set("only-on-source-db0", 1)
    report = verify(f"{source.url}/2", f"{target.url}/2")
    assert report.ok and report.keys_checked == 1
    with pytest.raises(MigratorError, match="names database 2 and the target URL database 0") as caught:
        verify(f"{source.url}/2", target.url)
    assert caught.value.code == Code.INVALID_URL
    assert verify(source.url, target.url).missing_on_target == 1


def _simulate(
    cost_ms: Callable[[int, str], float], batches: int = 1000, depth: int = 4
) -> strategy.StrategyChooser:
    """Drive a chooser with a simulated pipeline: `depth` batches in flight, each taking cost_ms(i, s)."""
    chooser, now, in_flight = strategy.StrategyChooser(), 0.0, []
    chooser.warmup = depth
    for i in range(batches + depth):
        if i < batches:
            in_flight.append((i, chooser.next()))
        if len(in_flight) > depth or i >= batches:
            done, chosen = in_flight.pop(0)
            now += cost_ms(done, chosen) / 1000
            chooser.completed(chosen, 1000, now)
    return chooser


def test_the_faster_strategy_takes_most_batches_and_probes_stay_cheap() -> None:
    loopback = _simulate(lambda i, s: 5.0 if s == strategy.FETCH else 8.0)  # fetching is cheaper
    assert loopback.batches[strategy.FETCH] > 0.9 * 1000
    slow_link = _simulate(lambda i, s: 30.0 if s == strategy.FETCH else 10.0)  # bytes are the limit
    assert slow_link.batches[strategy.DIGEST] > 0.95 * 1000
    assert slow_link.batches[strategy.FETCH] <= 6 * 4  # each probe of a 3x slower strategy stops early


def test_a_change_of_conditions_is_noticed_by_the_next_probes() -> None:
    # Fetching wins for 300 batches, then the link slows down (a tunnel's throttle starts, say).
    chooser = _simulate(lambda i, s: (5.0 if i < 300 else 40.0) if s == strategy.FETCH else 10.0)
    assert chooser._current == strategy.DIGEST
    assert chooser.batches[strategy.DIGEST] > 1000 - 300 - strategy.MAX_EXPLORE_GAP


def test_a_link_with_latency_gets_more_in_flight_within_bounds() -> None:
    from migrator.verify.passes import BATCH, DEPTH, MAX_DEPTH, MAX_SCAN_COUNT, pipeline_size

    assert pipeline_size(0.0001) == (DEPTH, BATCH)  # loopback
    depth, count = pipeline_size(0.02)  # a 20 ms tunnel
    assert DEPTH < depth < MAX_DEPTH and BATCH < count <= MAX_SCAN_COUNT
    assert pipeline_size(10.0) == (MAX_DEPTH, MAX_SCAN_COUNT)


@pytest.mark.parametrize("seed", range(4))
def test_noisy_windows_do_not_keep_the_slower_strategy(seed: int) -> None:
    """A shared machine: one batch in ten takes five times as long, whichever strategy it uses."""
    import random

    rng = random.Random(seed)
    burst = lambda: 5 if rng.random() < 0.1 else 1  # noqa: E731
    loopback = _simulate(lambda i, s: (5.0 if s == strategy.FETCH else 8.0) * burst())
    assert loopback.batches[strategy.FETCH] > 0.75 * 1000
    slow_link = _simulate(lambda i, s: (30.0 if s == strategy.FETCH else 10.0) * burst())
    assert slow_link.batches[strategy.DIGEST] > 0.95 * 1000


@pytest.mark.usefixtures("batch_compare")
def test_key_changing_type_during_the_logical_compare_is_a_difference_not_an_error(
    source: ServerProcess, target: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live write that deletes a key or gives it another type between digest and compare is normal."""
    from migrator.verify import verifier

    s, t = source.client(), target.client()
    s.xadd("stream", {"a": 1}, id="1-1")
    t.xadd("stream", {"a": 2}, id="1-1")
    s.hset("hash", "a", 1)
    t.hset("hash", "a", 2)
    s.set("gone", "x" * 100)
    t.set("gone", "y" * 100)
    compare = verifier.values_equal

    def racing(src, tgt, key, type_name):
        if key == b"gone":
            t.delete(key)  # vanished: a stream compare reads XINFO, which errors on a missing key
        else:
            t.delete(key)
            t.set(key, "now a string")  # WRONGTYPE for the hash/stream commands
        return compare(src, tgt, key, type_name)

    monkeypatch.setattr(verifier, "values_equal", racing)
    report = verify(source.url, target.url, rounds=1)
    assert sorted((m.key, m.kind) for m in report.mismatches) == [
        ("gone", VALUE),
        ("hash", VALUE),
        ("stream", VALUE),
    ]


@pytest.mark.usefixtures("batch_compare")
def test_stream_deleted_on_the_target_during_the_compare_is_a_difference(
    source: ServerProcess, target: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    from migrator.verify import verifier

    s, t = source.client(), target.client()
    s.xadd("stream", {"a": 1}, id="1-1")
    t.xadd("stream", {"a": 2}, id="1-1")
    compare = verifier.values_equal

    def racing(src, tgt, key, type_name):
        t.delete(key)
        return compare(src, tgt, key, type_name)

    monkeypatch.setattr(verifier, "values_equal", racing)
    report = verify(source.url, target.url, rounds=1)
    assert [(m.key, m.kind) for m in report.mismatches] == [("stream", VALUE)]


@pytest.mark.parametrize("capped", [False, True], ids=["chosen-by-verify", "fetch-capped"])
def test_digest_of_many_large_strings_stays_within_its_budget(
    source: ServerProcess, target: ServerProcess, monkeypatch: pytest.MonkeyPatch, capped: bool
) -> None:
    """Verify must not make the source hold a whole batch of large values at once (server memory).

    Chosen by verify: the first batches are digests, which size strings before MGET is ever used. Fetched
    with a cap (once a server has shown a large string): GETRANGE reads at most FETCH_LIMIT per key.
    """
    if capped:
        force_compare(monkeypatch, "fetch-capped")
    value = os.urandom(1 << 20)
    pipe = source.client().pipeline(transaction=False)
    for i in range(120):
        pipe.set(f"big:{i}", value)
    pipe.execute()
    replicate(target, source)
    promote(target)
    target.client().setrange("big:77", 1000, b"changed")
    before = source.client().info("memory")["used_memory_peak"]
    report = verify(source.url, target.url, rounds=1)
    assert [(m.key, m.kind) for m in report.mismatches] == [("big:77", VALUE)]
    grown = source.client().info("memory")["used_memory_peak"] - before
    # About 120 MB of values; one script call reads at most ~SCRIPT_BUDGET KB (50 MB) of them.
    assert grown < 80 * (1 << 20), f"source peak memory grew by {grown >> 20} MiB during verify"


@pytest.mark.usefixtures("batch_compare")
@pytest.mark.parametrize("entries", [2, 1500], ids=["small", "compared-in-chunks"])
def test_pending_entries_owned_by_another_consumer_are_a_difference(
    source: ServerProcess, target: ServerProcess, entries: int
) -> None:
    for client, consumer in ((source.client(), "alice"), (target.client(), "bob")):
        pipe = client.pipeline(transaction=False)
        for i in range(entries):
            pipe.xadd("stream", {"n": i}, id=f"1-{i + 1}")
        pipe.execute()
        client.xgroup_create("stream", "workers", id="0")
        client.xreadgroup("workers", consumer, {"stream": ">"}, count=1)
    report = verify(source.url, target.url, rounds=1)
    assert [(m.key, m.kind) for m in report.mismatches] == [("stream", VALUE)]


def test_fast_and_careful_string_reads_give_identical_digests(source: ServerProcess) -> None:
    """The digest script's two string paths (MGET chunks / sized first) must agree on every kind of key."""
    from migrator.verify.server import Side

    fill(lambda db: source.client(db))
    source.client().set("large", os.urandom(LARGE_STRING + 1))
    keys = [*sorted(source.client().keys("*")), b"no-such-key"]
    with Side.open(source.url, "source") as fast, Side.open(source.url, "source") as careful:
        careful.careful = True
        fast_blob, fast_big = fast.digest(0, keys, 1000)
        careful_blob, careful_big = careful.digest(0, keys, 1000)
        assert fast.careful  # it saw the large string: later calls size strings first
    assert fast_blob == careful_blob and fast_big == careful_big
    assert len(fast_blob.split(b"\n")) == len(keys)
