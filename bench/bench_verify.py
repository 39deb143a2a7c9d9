"""`migrate verify` against two baselines measured in the same run, in two regimes (issue 12).

Loopback: 1M keys (bench/dataset.py: 95% strings of 50-200 B, 5% small collections, 10% with TTL) in
redis-server 7.0, replicated to valkey-server 8.0 with REPLICAOF. Times the naive verifier (redis-py,
pipelined DUMP/PTTL), the lean bound (bench/verify_lean.py) and `migrate verify` (a child process, so its
peak RSS is its own). Goals: verify >= 0.85x the lean bound, >= 100k keys/s, peak RSS <= 200 MB.

Shaped link: 300k keys, inside a private network namespace (`unshare --net`) whose loopback has MTU 1500
and a 100 Mbit/s token bucket (`tc qdisc ... tbf`); both servers and both verifiers run inside it, so every
byte between them crosses the throttle. Goal: verify >= 2.5x the lean bound through the same link. Needs
root, unshare and tc; without them it prints one line saying why it was skipped.

The machine is shared: lean and verify run alternately, REPEATS times each, and the best of each counts.
Benchmarks print; they never assert.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from dataset import load_dataset  # noqa: E402
from verify_lean import lean_verify  # noqa: E402
from verify_naive import naive_verify  # noqa: E402

from tests.helpers.servers import ServerProcess, replicate, server_binary  # noqa: E402

LOOPBACK_KEYS = int(os.environ.get("BENCH_VERIFY_KEYS", "1000000"))
SHAPED_KEYS = int(os.environ.get("BENCH_SHAPED_KEYS", "300000"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
GOAL_LOOPBACK, GOAL_RATE, GOAL_RSS_MB, GOAL_SHAPED = 0.85, 100_000, 200.0, 2.5
SHAPE = ["tbf", "rate", "100mbit", "burst", "64kb", "latency", "200ms"]
INSIDE = "--inside-shaped-namespace"


def run_verify(source: ServerProcess, target: ServerProcess) -> tuple[dict, float]:
    """The real command in a child process; its report and the peak RSS of the largest child so far."""
    argv = [sys.executable, "-m", "migrator", "migrate", "verify", "--source", source.url,
            "--target", target.url, "--output", "json"]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"verify failed: {proc.stderr.strip()}")
    # Servers are children too but still running; only waited-for children count in RUSAGE_CHILDREN.
    return json.loads(proc.stdout), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def prepare(tmp: str, keys: int) -> tuple[ServerProcess, ServerProcess]:
    source = ServerProcess(server_binary("redis-server"), Path(tmp, "source")).start()
    target = ServerProcess(server_binary("valkey-server"), Path(tmp, "target")).start()
    begun = time.monotonic()
    counts = load_dataset(source.client(), keys)
    print(f"loaded {keys} keys in {time.monotonic() - begun:.1f}s: {counts}")
    begun = time.monotonic()
    replicate(target, source, timeout=300)
    print(f"replicated to valkey-server (REPLICAOF) in {time.monotonic() - begun:.1f}s", flush=True)
    return source, target


def compare(source: ServerProcess, target: ServerProcess) -> tuple[float, float, dict, float]:
    """Lean bound and verify, alternately; (best lean keys/s, best verify keys/s, a report, peak RSS)."""
    lean_rates, verify_rates = [], []
    report: dict = {}
    rss_mb = 0.0
    for _ in range(REPEATS):
        checked, differing, seconds = lean_verify("127.0.0.1", source.port, target.port)
        lean_rates.append(checked / seconds)
        print(f"  lean bound       {checked / seconds:9.0f} keys/s  {checked} keys in {seconds:.1f}s "
              f"({differing} batches differ)", flush=True)  # fmt: skip
        report, rss_mb = run_verify(source, target)
        verify_rates.append(report["keys_per_s"])
        print(f"  migrate verify   {report['keys_per_s']:9.0f} keys/s  {report['keys_checked']} keys in "
              f"{report['duration_s']:.1f}s  ok={report['ok']}  batches {report['batches']}  "
              f"target keys counted {report['target_keys_counted']}, scanned "
              f"{report['target_keys_scanned']}", flush=True)  # fmt: skip
    return max(lean_rates), max(verify_rates), report, rss_mb


def loopback() -> None:
    print(f"--- loopback: {LOOPBACK_KEYS} keys, Redis 7.0 -> Valkey 8.0")
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        source, target = prepare(tmp, LOOPBACK_KEYS)
        try:
            begun = time.monotonic()
            checked, different = naive_verify(source.client(), target.client())
            naive_rate = checked / (time.monotonic() - begun)
            print(
                f"  naive (DUMP/PTTL){naive_rate:9.0f} keys/s  ({different} false differences across engines)"
            )
            lean, rate, report, rss_mb = compare(source, target)
        finally:
            source.stop()
            target.stop()
    print(f"loopback: verify / lean bound {rate / lean:5.2f}x  goal >= {GOAL_LOOPBACK}x: "
          f"{verdict(rate >= GOAL_LOOPBACK * lean)}")  # fmt: skip
    print(
        f"loopback: verify / naive      {rate / naive_rate:5.2f}x  (not portable: DUMP's cost varies by CPU)"
    )
    print(f"loopback: verify keys/s   {rate:9.0f}  goal >= {GOAL_RATE}: {verdict(rate >= GOAL_RATE)}")
    print(f"loopback: verify peak RSS {rss_mb:9.1f} MB  goal <= {GOAL_RSS_MB:.0f} MB: "
          f"{verdict(rss_mb <= GOAL_RSS_MB)}  false differences: "
          f"{0 if report['ok'] else 'SOME'}")  # fmt: skip


def shaped_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "needs root (unshare --net, tc)"
    missing = [tool for tool in ("unshare", "tc", "ip") if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not found (apt-get install util-linux iproute2)"
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"unshare --net failed: {probe.stderr.strip() or probe.returncode}"
    return None


def shaped() -> int:
    reason = shaped_unavailable()
    if reason:
        print(f"--- shaped link skipped: {reason}")
        return 0
    return subprocess.run(["unshare", "--net", sys.executable, __file__, INSIDE]).returncode


def inside_shaped_namespace() -> None:
    """Runs in the new namespace: loopback up at MTU 1500; the throttle goes on after loading."""
    subprocess.run(["ip", "link", "set", "lo", "up", "mtu", "1500"], check=True)
    print(f"--- shaped link: {SHAPED_KEYS} keys through loopback at MTU 1500, {' '.join(SHAPE)}")
    with tempfile.TemporaryDirectory(prefix="bench-verify-shaped-") as tmp:
        source, target = prepare(tmp, SHAPED_KEYS)
        try:
            subprocess.run(["tc", "qdisc", "add", "dev", "lo", "root", *SHAPE], check=True)
            lean, rate, report, _ = compare(source, target)
        finally:
            source.stop()
            target.stop()
    print(f"shaped: verify / lean bound {rate / lean:5.2f}x  goal >= {GOAL_SHAPED}x: "
          f"{verdict(rate >= GOAL_SHAPED * lean)}  ({rate:.0f} vs {lean:.0f} keys/s, "
          f"ok={report['ok']})")  # fmt: skip


def main() -> int:
    if INSIDE in sys.argv:
        inside_shaped_namespace()
        return 0
    loopback()
    return shaped()


if __name__ == "__main__":
    sys.exit(main())
