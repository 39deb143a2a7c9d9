"""verify() for clusters: every source master against the target node serving the same slots.

Both clusters are discovered from one URL each (or the target's shards are given as a slot map: while they
replicate they do not run in cluster mode). Each pair is verified in its own process, one worker per shard,
so the work spreads over the machine's cores; the reports merge into one, the same document as for a
single pair, with each shard's counts under `shards`. Pairs never mix slots: a key of one shard is only
ever looked for on the node that serves its slot, so "extra on the target" stays per shard too.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from dataclasses import dataclass
from typing import Any

from migrator.errors import Code, MigratorError
from migrator.lifecycle.results import ProgressCallback
from migrator.topology import SlotMap, discover
from migrator.verify.report import KINDS, ShardCounts, VerifyReport
from migrator.verify.strategy import STRATEGIES

POLL_SECONDS = 0.1


def verify(
    source_url: str,
    target_url: str,
    *,
    source_map: SlotMap | None = None,
    target_map: SlotMap | None = None,
    progress: ProgressCallback | None = None,
    **options: Any,
) -> VerifyReport:
    """Compare source and target: one pair of servers, or two clusters shard by shard (options as
    `verifier.verify`'s). The maps give a cluster's shards where asking would not do: target nodes that
    replicate (out of cluster mode), or nodes whose own addresses are not reachable from here (a tunnel)."""
    from migrator.verify.verifier import check_options
    from migrator.verify.verifier import verify as verify_pair

    check_options(**{k: v for k, v in options.items() if k in ("rounds", "ttl_tolerance_ms", "sample")})
    pairs = cluster_pairs(source_url, target_url, source_map, target_map)
    if pairs is None:
        return verify_pair(source_url, target_url, progress=progress, **options)
    return verify_shards(pairs, source_url, target_url, options, progress)


@dataclass(frozen=True)
class ShardPair:
    name: str
    source_url: str
    target_url: str
    slots: tuple[tuple[int, int], ...]


def cluster_pairs(
    source_url: str, target_url: str, source_map: SlotMap | None = None, target_map: SlotMap | None = None
) -> list[ShardPair] | None:
    """The shards to compare, paired by their slots; None when neither side is a cluster."""
    source = source_map or discover(source_url, "source")
    target = target_map or discover(target_url, "target")
    if source is None and target is None:
        return None
    if source is None or target is None:
        which, other = ("source", "target") if source is not None else ("target", "source")
        raise MigratorError(
            f"the {which} runs in cluster mode and the {other} does not: there are no shards to pair",
            "verify a cluster against a cluster (a shard's node against a standalone server: pass both "
            "nodes' URLs of one shard, each server outside cluster mode)",
            Code.INVALID_COMBINATION,
        )
    serving = {_key(slots): url for url, slots in target.nodes}
    pairs = []
    for i, (url, slots) in enumerate(source.nodes):
        if _key(slots) not in serving:
            raise MigratorError(
                f"no target node serves exactly the slots of source master {url} "
                f"({','.join(f'{a}-{b}' for a, b in slots)}): the clusters are sharded differently",
                "compare clusters of the same layout (`migrator migrate preflight` shows both)",
                Code.INVALID_COMBINATION,
            )
        pairs.append(ShardPair(f"{i + 1:04d}", url, serving[_key(slots)], tuple(slots)))
    return pairs


def _key(slots: Any) -> tuple[tuple[int, int], ...]:
    return tuple(sorted((int(a), int(b)) for a, b in slots))


def verify_shards(
    pairs: list[ShardPair],
    source_url: str,
    target_url: str,
    options: dict[str, Any],
    progress: ProgressCallback | None = None,
) -> VerifyReport:
    """Each pair in a process of its own, at once; one report with every shard's counts."""
    if options.get("dbs") not in (None, [0]):
        raise MigratorError(
            f"--dbs {','.join(map(str, options['dbs']))}: a cluster serves database 0 only",
            "drop --dbs (or pass --dbs 0)",
            Code.INVALID_VALUE,
        )
    # Forked from a clean server process: nothing of this one (threads, sockets) is inherited, and verify's
    # modules are imported there once for every later worker.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["migrator.verify.verifier"])
    results: Any = context.Queue()
    counters = [context.Value("q", 0) for _ in pairs]
    workers = [
        context.Process(target=_worker, args=(i, pair, options, counters[i], results), daemon=True)
        for i, pair in enumerate(pairs)
    ]
    began = time.monotonic()
    for worker in workers:
        worker.start()
    reports: dict[int, VerifyReport] = {}
    failure: dict[str, str] | None = None
    seen = 0
    try:
        while len(reports) < len(pairs) and failure is None:
            try:
                index, outcome = results.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if not any(w.is_alive() for w in workers) and results.empty():
                    failure = {"message": "a shard's verify worker died", "hint": "run it again", "code": ""}
            else:
                if isinstance(outcome, VerifyReport):
                    reports[index] = outcome
                else:
                    failure = outcome
            done = sum(counter.value for counter in counters)
            if progress and done > seen:
                progress(done - seen, None)
                seen = done
    finally:
        for worker in workers:
            if failure is not None and worker.is_alive():
                worker.terminate()
            worker.join(5)
    if failure is not None:
        raise MigratorError(failure["message"], failure["hint"], failure["code"] or Code.INTERNAL_ERROR)
    return merge([reports[i] for i in range(len(pairs))], pairs, source_url, target_url, began, options)


def _worker(index: int, pair: ShardPair, options: dict[str, Any], counter: Any, results: Any) -> None:
    """One shard's verify, in its own process: its report, or its error as plain data (always picklable)."""
    from migrator.verify.verifier import verify as verify_pair

    def advance(by: int, total: int | None = None) -> None:
        with counter.get_lock():
            counter.value += by

    try:
        report = verify_pair(pair.source_url, pair.target_url, progress=advance, **options)
    except MigratorError as err:
        results.put((index, err.to_dict()))
    except Exception as exc:  # reported to the parent, which raises it as one line
        results.put((index, {"message": f"{type(exc).__name__}: {exc}", "hint": "", "code": ""}))
    else:
        results.put((index, report))


def merge(
    reports: list[VerifyReport],
    pairs: list[ShardPair],
    source_url: str,
    target_url: str,
    began: float,
    options: dict[str, Any],
) -> VerifyReport:
    """The shards' reports as one: counts added up, differences listed up to --max-report in shard order."""
    duration = time.monotonic() - began
    limit = int(options.get("max_report", 100))
    mismatches = [m for report in reports for m in report.mismatches]
    checked = sum(report.keys_checked for report in reports)
    merged = VerifyReport(
        ok=all(report.ok for report in reports),
        keys_checked=checked,
        **{kind: sum(getattr(report, kind) for report in reports) for kind in KINDS},
        mismatches=mismatches[:limit],
        duration_s=round(duration, 3),
        keys_per_s=round(checked / duration, 1) if duration else 0.0,
        source=source_url,
        target=target_url,
        dbs=[0],
        target_keys_scanned=sum(report.target_keys_scanned for report in reports),
        target_keys_counted=sum(report.target_keys_counted for report in reports),
        rounds_run=max((report.rounds_run for report in reports), default=1),
        sample=options.get("sample"),
        mismatches_truncated=len(mismatches) > limit or any(r.mismatches_truncated for r in reports),
        # Every strategy named, as for one pair (a cluster node's batches are all fetched: see passes._Fetch).
        batches={name: sum(report.batches.get(name, 0) for report in reports) for name in STRATEGIES},
    )
    merged.shards = [
        ShardCounts(
            name=pair.name,
            source=pair.source_url,
            target=pair.target_url,
            slots=[list(span) for span in pair.slots],
            ok=report.ok,
            keys_checked=report.keys_checked,
            **{kind: getattr(report, kind) for kind in KINDS},
            duration_s=report.duration_s,
            keys_per_s=report.keys_per_s,
        )
        for pair, report in zip(pairs, reports, strict=True)
    ]
    return merged
