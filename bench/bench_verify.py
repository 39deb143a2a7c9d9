"""`migrate verify` against a naive DUMP-compare verifier, on 1M mixed keys, in the same run.

Loads 1M keys (mostly 50-200 B strings, some small collections, 10% with TTL) into a local redis-server,
replicates them to a local valkey-server with REPLICAOF, then times both verifiers over the same data.
Goal (issue 4): verify >= 3x the naive keys/s, verifier peak RSS <= 200 MB.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from verify_naive import naive_verify  # noqa: E402

from migrator.workload import load  # noqa: E402
from tests.servers import ServerProcess, replicate, server_binary  # noqa: E402

KEYS = int(os.environ.get("BENCH_VERIFY_KEYS", "1000000"))
GOAL_RATIO = 3.0
GOAL_RSS_MB = 200.0


def run_verify(source: ServerProcess, target: ServerProcess) -> tuple[dict, float]:
    """Run the real command in a child process, so its peak RSS is measurable on its own."""
    argv = [sys.executable, "-m", "migrator", "migrate", "verify", "--source", source.url,
            "--target", target.url, "--output", "json"]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"verify failed: {proc.stderr.strip()}")
    # Servers are children too but still running; only waited-for children count in RUSAGE_CHILDREN.
    peak_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return json.loads(proc.stdout), peak_rss_mb


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        source = ServerProcess(server_binary("redis-server"), Path(tmp, "source")).start()
        target = ServerProcess(server_binary("valkey-server"), Path(tmp, "target")).start()
        try:
            loaded = load(source.url, keys=KEYS, ttl_fraction=0.1, value_size=200, seed=1)
            print(f"loaded {loaded.keys} keys in {loaded.duration_s:.1f}s: {loaded.by_type}")
            begun = time.monotonic()
            replicate(target, source, timeout=300)
            print(f"replicated to valkey-server (REPLICAOF) in {time.monotonic() - begun:.1f}s")

            begun = time.monotonic()
            checked, different = naive_verify(source.client(), target.client())
            naive_s = time.monotonic() - begun
            naive_rate = checked / naive_s
            print(f"naive (SCAN + DUMP/PTTL)  {naive_rate:9.0f} keys/s  {checked} keys in {naive_s:.1f}s "
                  f"({different} false differences across engines)")  # fmt: skip

            report, rss_mb = run_verify(source, target)
            rate = report["keys_per_s"]
            ratio = rate / naive_rate
            print(f"migrate verify            {rate:9.0f} keys/s  {report['keys_checked']} keys in "
                  f"{report['duration_s']:.1f}s  ok={report['ok']}")  # fmt: skip
            print(f"ratio                     {ratio:9.2f}x  goal >= {GOAL_RATIO:.0f}x: "
                  f"{'met' if ratio >= GOAL_RATIO else 'NOT met'}")  # fmt: skip
            print(f"verify peak RSS           {rss_mb:9.1f} MB  goal <= {GOAL_RSS_MB:.0f} MB: "
                  f"{'met' if rss_mb <= GOAL_RSS_MB else 'NOT met'}")  # fmt: skip
        finally:
            source.stop()
            target.stop()


if __name__ == "__main__":
    main()
