"""The whole local rehearsal, as `make demo` runs it: every step is a real `migrator` command.

up → load → preflight → start --wait → live writes (ledger) → status → verify → complete --pause-writes
→ down. Re-runnable: it clears its own workspace first. Prints a summary table at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

WORKSPACE = Path(os.environ.get("MIGRATOR_DEMO_WORKSPACE", ".migrator-demo")).absolute()
KEYS = int(os.environ.get("MIGRATOR_DEMO_KEYS", "50000"))
WRITE_SECONDS = 8
MIGRATOR = [sys.executable, "-m", "migrator", "--workspace", str(WORKSPACE)]

summary: list[tuple[str, float, str]] = []


def step(title: str, *args: str, json_result: bool = False) -> dict | None:
    """Run one command the way a user would, show its output, stop the rehearsal on failure."""
    print(f"\n\033[1m$ migrator {' '.join(args)}\033[0m", flush=True)
    begun = time.monotonic()
    argv = [*MIGRATOR, *args, *(["--output", "json"] if json_result else [])]
    proc = subprocess.run(argv, stdout=subprocess.PIPE if json_result else None, text=True)
    seconds = time.monotonic() - begun
    document = None
    if json_result and proc.stdout:
        document = json.loads(proc.stdout)
        print(json.dumps(document, indent=2)[:2000])
    summary.append((title, seconds, "ok" if proc.returncode == 0 else f"exit {proc.returncode}"))
    if proc.returncode != 0:
        print_summary()
        subprocess.run([*MIGRATOR, "down"], check=False)
        sys.exit(f"rehearsal stopped: `migrator {' '.join(args)}` exited {proc.returncode}")
    return document


def print_summary() -> None:
    print("\n\033[1mRehearsal summary\033[0m")
    for title, seconds, result in summary:
        print(f"  {title:<50} {seconds:6.2f}s  {result}")


def main() -> None:
    subprocess.run([*MIGRATOR, "down", "--purge", "--auto-approve"], check=True, stdout=subprocess.DEVNULL)
    begun = time.monotonic()
    step("up: redis-server source + valkey-server target", "up")
    step(f"load {KEYS} keys of every type into the source", "load", "--keys", str(KEYS), "--dbs", "0,1")
    step("preflight", "migrate", "preflight")
    step("start --wait (initial sync)", "migrate", "start", "--wait")

    ledger = WORKSPACE / "ledger.jsonl"
    print(
        f"\n\033[1m$ migrator write --rate 500 --duration {WRITE_SECONDS} --ledger {ledger} --check  "
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
            str(WRITE_SECONDS),
            "--ledger",
            str(ledger),
            "--check",
        ]
    )
    time.sleep(2)
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
