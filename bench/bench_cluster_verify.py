"""`migrate verify` on a 3-shard cluster pair next to the 1-shard pair, on the same data, in the same run.

The same dataset (workload.load, one seed) goes into a standalone Redis 7.0 (replicated to a standalone
Valkey 8.0 with REPLICAOF) and into a 3-master Redis 7.0 cluster (copied to a 3-shard Valkey 8.0 cluster of
the same layout, DUMP / RESTORE ABSTTL per shard). Then the real command verifies each pair; for the
clusters it prints each shard's rate (one worker process per shard) and the total. Figures only, never
assertions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]


from migrator.local import cluster  # noqa: E402
from migrator.workload import load  # noqa: E402
from tests.helpers.cluster_rehearsal import copy_shards  # noqa: E402
from tests.helpers.servers import ServerProcess, matrix_binary, replicate  # noqa: E402

KEYS = int(os.environ.get("BENCH_CLUSTER_KEYS", "600000"))
SHARDS = 3
RUNS = 2  # each verify runs twice; the better run is shown (a shared machine is noisy)


def verify_json(source_url: str, target_url: str) -> dict:
    argv = [sys.executable, "-m", "migrator", "migrate", "verify", "--source", source_url,
            "--target", target_url, "--rounds", "1", "--output", "json"]  # fmt: skip
    best: dict | None = None
    for _ in range(RUNS):
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            raise SystemExit(
                f"verify failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout[-500:]}"
            )
        report = json.loads(proc.stdout)
        if best is None or report["keys_per_s"] > best["keys_per_s"]:
            best = report
    assert best is not None
    return best


def show(name: str, report: dict, note: str) -> None:
    print(
        f"{name}  {report['keys_per_s']:9.0f} keys/s  {report['keys_checked']} keys in "
        f"{report['duration_s']:.2f}s (ok={report['ok']}{'; ' + note if note else ''})"
    )


def one_shard_alone(source_url: str, target_url: str):  # type: ignore[no-untyped-def]
    from migrator.verify.cluster import cluster_pairs, verify_shards

    pairs = cluster_pairs(source_url, target_url)
    assert pairs is not None
    best = None
    for _ in range(RUNS):
        report = verify_shards(pairs[:1], source_url, target_url, {"rounds": 1}).shards[0]
        best = report if best is None or report.keys_per_s > best.keys_per_s else best
    return best


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-cluster-verify-") as tmp:
        base = Path(tmp)
        redis70, valkey80 = matrix_binary("redis", "7.0"), matrix_binary("valkey", "8.0")
        source = ServerProcess(redis70, base / "source").start()
        target = ServerProcess(valkey80, base / "target").start()
        clusters: list[cluster.LocalCluster] = []
        try:
            loaded = load(source.url, keys=KEYS, ttl_fraction=0.1, value_size=200, seed=1)
            replicate(target, source, timeout=600)
            taken = {source.port, target.port}
            for role, binary in (("source", redis70), ("target", valkey80)):
                clusters.append(
                    cluster.start_cluster(role, binary, SHARDS, base / "clusters", base / "logs", taken=taken)
                )
                taken |= {port for spec in clusters[-1].specs for port in (spec.port, spec.cluster_port or 0)}
            begun = time.monotonic()
            load(clusters[0].urls[0], keys=KEYS, ttl_fraction=0.1, value_size=200, seed=1)
            copy_shards(clusters[0].urls, clusters[1].urls)
            print(f"{loaded.keys} keys, the same dataset on a 1-shard pair and a {SHARDS}-shard pair "
                  f"(cluster loaded and copied in {time.monotonic() - begun:.1f}s); "
                  f"{os.cpu_count()} cores")  # fmt: skip

            single = verify_json(source.url, target.url)
            sharded = verify_json(clusters[0].urls[0], clusters[1].urls[0])
            show("1 shard ", single, "")
            for shard in sharded["shards"]:
                slots = f"slots {shard['slots'][0][0]}-{shard['slots'][-1][1]}"
                show(f"  shard {shard['name']}", shard, slots)
            show(f"{SHARDS} shards", sharded, "one process per shard")
            mean = sum(s["keys_per_s"] for s in sharded["shards"]) / SHARDS
            print(
                f"ratio {SHARDS}-shard total / 1-shard: {sharded['keys_per_s'] / single['keys_per_s']:.2f}x; "
                f"mean shard / 1-shard: {mean / single['keys_per_s']:.2f}x"
            )
            # One shard with the machine to itself: what each shard gets once every worker and server has
            # a core of its own (a cluster node is read key by key: see verify/passes.py, _Fetch).
            alone = one_shard_alone(clusters[0].urls[0], clusters[1].urls[0])
            print(
                f"one shard alone {alone.keys_per_s:9.0f} keys/s ({alone.keys_checked} keys): "
                f"{alone.keys_per_s / single['keys_per_s']:.2f}x the 1-shard pair per key; with a core per "
                f"worker and server, {SHARDS} shards would total ~{SHARDS * alone.keys_per_s:.0f} keys/s "
                f"({SHARDS * alone.keys_per_s / single['keys_per_s']:.1f}x)"
            )
        finally:
            for local in clusters:
                local.stop()
            source.stop()
            target.stop()


if __name__ == "__main__":
    main()
