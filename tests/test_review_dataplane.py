"""Data-plane defects found in review, each pinned by a test against real servers."""

from __future__ import annotations

import os

import pytest

from migrator.verify import VALUE, verify
from migrator.verify.server import LARGE_STRING
from migrator.workload import LiveWriter, check_ledger
from tests.dataset import fill
from tests.servers import ServerProcess, promote, replicate
from tests.test_verify import batch_compare, force_compare  # noqa: F401  (a fixture, used by name)


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


def test_a_rerun_with_the_same_seed_cannot_hide_lost_writes(
    source: ServerProcess, target: ServerProcess
) -> None:
    """Same seed, same op sequence; but new keys, or the first run's data passes for the second's."""
    first = LiveWriter(source.url, rate=2000, seed=42)
    first.run(duration=0.3)
    replicate(target, source)
    promote(target)  # the target has the first run's data and will get none of the second's
    second = LiveWriter(source.url, rate=2000, seed=42)
    second.run(duration=0.3)
    assert second.ledger.acked > 50
    report = check_ledger(second.ledger, target.url)
    assert not report.ok
    deletions = sum(r.op == "del" for r in second.ledger.records)  # "absent" holds on the target too
    assert report.problem_count == report.checked - deletions


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
