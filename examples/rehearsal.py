"""The whole local rehearsal, as `make demo` and `make demo-seed` run it: each step a real `migrator` command.

up → load → preflight → start --wait → live writes (ledger) → status → verify → complete --pause-writes
→ down. Re-runnable: it clears its own workspace first. Prints a summary table at the end.

`make demo` rehearses Debian's pair (Redis 7.0 → Valkey 8.0). `make demo-seed` rehearses the architecture's
(`--source-version 7.4 --target-version 8.1 --bridge`: Redis 7.4 → Valkey 8.1, what ElastiCache's "8.2"
runs): its RDB 12 cannot sync directly, so preflight fails and `start --wait` refuses in one line, both as
predicted, and the migration goes through a Valkey 9 bridge instead. `make demo-cluster` (`--shards 3`)
rehearses a Redis Cluster of 3 masters into a 3-shard Valkey cluster: every step the same commands.

MIGRATOR_DEMO_KEYS and MIGRATOR_DEMO_WRITE_SECONDS make it smaller (the end-to-end test runs it so).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

WORKSPACE = Path(os.environ.get("MIGRATOR_DEMO_WORKSPACE", ".migrator-demo")).absolute()
KEYS = int(os.environ.get("MIGRATOR_DEMO_KEYS", "50000"))
WRITE_SECONDS = float(os.environ.get("MIGRATOR_DEMO_WRITE_SECONDS", "8"))
MIGRATOR = [sys.executable, "-m", "migrator", "--workspace", str(WORKSPACE)]

summary: list[tuple[str, float, str]] = []


def step(title: str, *args: str, json_result: bool = False, expect: int = 0) -> dict | None:
    """Run one command the way a user would, show its output, stop the rehearsal unless it exits `expect`."""
    print(f"\n\033[1m$ migrator {' '.join(args)}\033[0m", flush=True)
    begun = time.monotonic()
    argv = [*MIGRATOR, *args, *(["--output", "json"] if json_result else [])]
    proc = subprocess.run(argv, stdout=subprocess.PIPE if json_result else None, text=True)
    seconds = time.monotonic() - begun
    document = None
    if json_result and proc.stdout:
        document = json.loads(proc.stdout)
        print(json.dumps(document, indent=2)[:2000])
    outcome = f"exit {proc.returncode}" + (", as predicted" if expect and proc.returncode == expect else "")
    summary.append((title, seconds, "ok" if proc.returncode == 0 else outcome))
    if proc.returncode != expect:
        print_summary()
        subprocess.run([*MIGRATOR, "down"], check=False)
        sys.exit(f"rehearsal stopped: `migrator {' '.join(args)}` exited {proc.returncode}, not {expect}")
    return document


def print_summary() -> None:
    print("\n\033[1mRehearsal summary\033[0m")
    for title, seconds, result in summary:
        print(f"  {title:<50} {seconds:6.2f}s  {result}")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-version", help="Redis from the server matrix (7.0, 7.4); default: Debian's")
    parser.add_argument(
        "--target-version", help="Valkey from the server matrix (8.0, 8.1, 9.1); default: Debian's"
    )
    parser.add_argument(
        "--bridge",
        action="store_true",
        help="migrate through a Valkey 9 bridge (after the direct start is refused)",
    )
    parser.add_argument(
        "--shards", type=int, default=1, help="N >= 2: a Redis Cluster of N masters into N Valkey shards"
    )
    options = parser.parse_args()
    if options.shards > 1 and options.bridge:
        parser.error("--bridge is for one shard: migrator refuses a bridge per shard (see the README)")
    return options


def main() -> None:
    options = arguments()
    versions = [
        *(["--source-version", options.source_version] if options.source_version else []),
        *(["--target-version", options.target_version] if options.target_version else []),
        *(["--shards", str(options.shards)] if options.shards > 1 else []),
    ]
    subprocess.run([*MIGRATOR, "down", "--purge", "--auto-approve"], check=True, stdout=subprocess.DEVNULL)
    begun = time.monotonic()
    source, target = options.source_version or "(Debian)", options.target_version or "(Debian)"
    pair = f"redis {source} source + valkey {target} target"
    if options.shards > 1:
        pair = f"{options.shards}-master redis {source} cluster + {options.shards}-shard valkey {target}"
    step(f"up: {pair}", "up", *versions)
    dbs = "0" if options.shards > 1 else "0,1"  # a cluster serves database 0 only
    step(f"load {KEYS} keys of every type into the source", "load", "--keys", str(KEYS), "--dbs", dbs)
    if options.bridge:
        # The pair's RDB format cannot sync directly: preflight says so, and start refuses before any change.
        step("preflight (rdb_format fails: predicted)", "migrate", "preflight", expect=1)
        step("start --wait (refused in one line)", "migrate", "start", "--wait", expect=2)
        step("preflight --bridge (source → bridge → target)", "migrate", "preflight", "--bridge")
        step("start --bridge --wait (both hops' initial sync)", "migrate", "start", "--bridge", "--wait")
    else:
        step("preflight", "migrate", "preflight")
        step("start --wait (initial sync)", "migrate", "start", "--wait")

    ledger = WORKSPACE / "ledger.jsonl"
    print(
        f"\n\033[1m$ migrator write --rate 500 --duration {WRITE_SECONDS:g} --ledger {ledger} --check  "
        "(in the background)\033[0m",
        flush=True,
    )
    writer_begun = time.monotonic()
    writer = subprocess.Popen(
        [
            *MIGRATOR,
            "write",
            "--rate",
            "500",
            "--duration",
            f"{WRITE_SECONDS:g}",
            "--ledger",
            str(ledger),
            "--check",
        ]
    )
    time.sleep(min(2, WRITE_SECONDS / 2))
    step("status while live writes flow", "migrate", "status")
    step("verify under live writes (re-check rounds)", "migrate", "verify", "--rounds", "5")
    writer_code = writer.wait(timeout=WRITE_SECONDS + 120)
    summary.append(
        (
            "live writes: every acknowledged write on target",
            time.monotonic() - writer_begun,
            "ok" if writer_code == 0 else f"exit {writer_code}",
        )
    )
    if writer_code != 0:
        print_summary()
        sys.exit("rehearsal stopped: acknowledged writes are missing on the target")

    step("complete --pause-writes (+ post-cut-over verify)", "migrate", "complete", "--pause-writes")
    step("status after cut-over", "status")
    step("down", "down")
    print_summary()
    print(f"\nrehearsal finished in {time.monotonic() - begun:.1f}s: zero acknowledged writes lost")


if __name__ == "__main__":
    main()
