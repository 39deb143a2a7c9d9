"""The workload generator on real servers: reproducible load, live writes, the acknowledged-write ledger."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from migrator.errors import Code, MigratorError
from migrator.verify import verify, wait_caught_up
from migrator.workload import TYPES, Ledger, LiveWriter, check_ledger, load
from migrator.workload.ledger import WriteRecord
from migrator.workload.live import OPS
from tests.helpers.cli import invoke
from tests.helpers.servers import ServerProcess, promote, replicate


def test_load_is_reproducible_across_engines(source: ServerProcess, target: ServerProcess) -> None:
    report = load(source.url, keys=3000, dbs=[0, 1], seed=5)
    load(target.url, keys=3000, dbs=[0, 1], seed=5)
    assert set(report.by_type) == set(TYPES)
    assert sum(report.by_type.values()) == 3000
    assert 200 < report.with_ttl < 400
    assert report.binary_names > 0
    assert source.client(0).dbsize() + source.client(1).dbsize() == 3000
    # Two separate loads, not a replica: same values, and expiries within the default tolerance.
    assert verify(source.url, target.url).ok


def test_load_with_another_seed_differs(source: ServerProcess, target: ServerProcess) -> None:
    load(source.url, keys=500, seed=1, types=["string", "hash"])
    load(target.url, keys=500, seed=2, types=["string", "hash"])
    report = verify(source.url, target.url)
    assert report.value_mismatch > 0


def test_load_rerun_rebuilds_instead_of_appending(source: ServerProcess, target: ServerProcess) -> None:
    load(source.url, keys=300, seed=3, types=["list", "stream", "set"])
    load(source.url, keys=300, seed=3, types=["list", "stream", "set"])
    load(target.url, keys=300, seed=3, types=["list", "stream", "set"])
    assert verify(source.url, target.url).ok


@pytest.mark.parametrize(
    "kwargs",
    [{"types": ["string", "json"]}, {"types": []}, {"keys": -1}, {"ttl_fraction": 2.0}, {"value_size": 0}],
)
def test_load_rejects_bad_arguments(source: ServerProcess, kwargs: dict) -> None:
    with pytest.raises(MigratorError) as caught:
        load(source.url, **kwargs)
    assert caught.value.code == Code.INVALID_VALUE


def test_acknowledged_writes_of_every_kind_reach_the_replica(
    source: ServerProcess, target: ServerProcess
) -> None:
    replicate(target, source)
    writer = LiveWriter(source.url, rate=800, seed=11)
    report = writer.run(duration=1.0)
    assert set(report.by_op) == set(OPS)
    assert report.acked == writer.ledger.acked > 500
    assert report.failed == 0
    assert wait_caught_up(source.client(), target.client(), 10)
    result = check_ledger(writer.ledger, target.url)
    assert result.ok, result.problems
    assert result.checked > 0


def _first(ledger: Ledger, op: str, deleted: set[str] = frozenset()) -> WriteRecord:
    return next(r for r in ledger.records if r.op == op and r.key not in deleted)


def test_check_ledger_lists_each_lost_write(source: ServerProcess, target: ServerProcess) -> None:
    replicate(target, source)
    writer = LiveWriter(source.url, rate=1000, seed=3)
    writer.run(duration=0.8)
    assert wait_caught_up(source.client(), target.client(), 10)
    promote(target)
    records = writer.ledger.records
    deleted = {r.key for r in records if r.op == "del"}
    expired = {r.key for r in records if r.op == "expire"}
    t = target.client()
    lost_set = next(r for r in records if r.op == "set" and r.key not in deleted | expired)
    t.delete(lost_set.key)
    hset = _first(writer.ledger, "hset")
    t.hdel(hset.key, hset.member)
    zadd = _first(writer.ledger, "zadd")
    t.zadd(zadd.key, {zadd.member: 0.25})
    xadd = _first(writer.ledger, "xadd")
    t.xdel(xadd.key, xadd.member)
    lpush = _first(writer.ledger, "lpush")
    t.lrem(lpush.key, 0, lpush.member)
    incr = _first(writer.ledger, "incr")
    t.decr(incr.key)
    expire = next(r for r in records if r.op == "expire" and r.key not in deleted)
    t.persist(expire.key)
    revived = next(iter(deleted))
    t.set(revived, "back")

    result = check_ledger(writer.ledger, target.url)
    found = {(p.op, p.key, p.member) for p in result.problems}
    assert found == {
        ("set", lost_set.key, None),
        ("hset", hset.key, hset.member),
        ("zadd", zadd.key, zadd.member),
        ("xadd", xadd.key, xadd.member),
        ("lpush", lpush.key, lpush.member),
        ("incr", incr.key, None),
        ("set", expire.key, None),
        ("del", revived, None),
    }
    assert not result.ok and result.problem_count == 8


def test_unacknowledged_writes_widen_what_the_check_accepts(target: ServerProcess) -> None:
    ledger = Ledger()
    records = [
        WriteRecord(1, "incr", 0, "c"),
        WriteRecord(2, "incr", 0, "c"),
        WriteRecord(3, "incr", 0, "c", acked=False),
        WriteRecord(4, "set", 0, "gone?", value="v"),
        WriteRecord(5, "del", 0, "gone?", acked=False),
        WriteRecord(6, "set", 0, "ttl?", value="v"),
        WriteRecord(7, "expire", 0, "ttl?", acked=False),
        WriteRecord(8, "set", 0, "never-acked", value="v", acked=False),
    ]
    for record in records:
        ledger.add(record)
    t = target.client()
    t.set("c", 3)  # the unacknowledged INCR was applied
    t.set("gone?", "v")  # the unacknowledged DEL was not
    t.set("ttl?", "v", ex=100)  # the unacknowledged EXPIRE was
    assert check_ledger(ledger, target.url).ok
    t.set("c", 1)  # an acknowledged INCR is lost
    t.delete("ttl?")  # the SET itself was acknowledged
    result = check_ledger(ledger, target.url)
    assert {(p.op, p.key, p.found) for p in result.problems} == {
        ("incr", "c", "1"),
        ("set", "ttl?", "nothing"),
    }
    assert (result.acked_writes, result.unacked_writes) == (4, 4)


def test_writer_survives_a_source_crash(server_factory: Callable[..., ServerProcess], tmp_path: Path) -> None:
    # appendfsync always: every acknowledged write is on disk, so it must survive SIGKILL.
    source = server_factory("redis-server", extra=["--appendonly", "yes", "--appendfsync", "always"])
    writer = LiveWriter(source.url, rate=400, seed=5, ledger=Ledger(tmp_path / "ledger.jsonl")).start()
    time.sleep(0.5)
    source.proc.kill()
    source.proc.wait()
    time.sleep(0.5)
    acked_before_restart = writer.ledger.acked
    source.start()
    time.sleep(0.8)
    report = writer.stop()
    assert report.reconnects >= 1 and report.failed >= 1
    assert report.acked > acked_before_restart + 100  # it carried on after the restart
    assert len(writer.ledger.records) == report.acked + report.unacked_unknown
    result = check_ledger(Ledger.load(tmp_path / "ledger.jsonl"), source.url)
    assert result.ok, result.problems


def test_writer_reports_an_unreachable_server_as_one_line_error() -> None:
    with pytest.raises(MigratorError) as caught:
        LiveWriter("redis://127.0.0.1:1", rate=10).run(duration=0.1)
    assert caught.value.code == "Unreachable"
    with pytest.raises(MigratorError) as caught:
        LiveWriter("redis://127.0.0.1:1", rate=0)
    assert caught.value.code == Code.INVALID_VALUE and "--rate" in caught.value.message


def test_cli_load_and_write(source: ServerProcess, tmp_path: Path) -> None:
    code, out, _ = invoke("load", "--url", source.url, "--keys", "200", "--dbs", "0,2", "-o", "json")
    assert code == 0 and json.loads(out)["keys"] == 200
    assert source.client(2).dbsize() == 100
    ledger = tmp_path / "ledger.jsonl"
    code, out, _ = invoke("write", "--url", source.url, "--rate", "200", "--duration", "0.5",
                        "--ledger", str(ledger), "-o", "json")  # fmt: skip
    document = json.loads(out)
    assert code == 0 and document["ok"] and document["check"] is None
    assert document["writer"]["acked"] == len(ledger.read_text().splitlines()) > 50


def test_cli_errors_are_one_line(source: ServerProcess) -> None:
    code, out, err = invoke("load", "--url", source.url, "--types", "string,json", "-o", "json")
    assert code == 2 and json.loads(out)["ok"] is False and err.count("\n") == 1
    code, _, err = invoke("write", "--url", "rediss://127.0.0.1:1", "--duration", "0.1")
    assert code == 2 and "TLS" in err
    code, _, err = invoke("write", "--url", source.url, "--duration", "0.1", "--check")
    assert code == 2 and err.startswith("error: ")  # --check needs the workspace's target


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
