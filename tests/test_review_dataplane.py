"""Data-plane defects found in review, each pinned by a test against real servers."""

from __future__ import annotations

import pytest

from migrator.verify import VALUE, verify
from migrator.workload import LiveWriter, check_ledger
from tests.servers import ServerProcess, promote, replicate


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
