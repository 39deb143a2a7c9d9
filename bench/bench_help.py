"""`migrator --help` start-up time against a bare `python -c pass` baseline in the same run.

Goal (issue 2): under 150 ms on this machine. Heavy libraries (boto3, redis, python_terraform, rich
console) must stay out of the import path of the CLI.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

RUNS = 15
GOAL_MS = 150.0


def median_ms(argv: list[str]) -> float:
    samples = []
    for _ in range(RUNS):
        begun = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        samples.append((time.perf_counter() - begun) * 1000)
    return statistics.median(samples)


def main() -> None:
    baseline = median_ms([sys.executable, "-c", "pass"])
    help_ms = median_ms([sys.executable, "-m", "migrator", "--help"])
    migrate_help_ms = median_ms([sys.executable, "-m", "migrator", "migrate", "--help"])
    print(f"python -c pass          {baseline:7.1f} ms (baseline)")
    verdict = "met" if help_ms < GOAL_MS else "NOT met"
    print(
        f"migrator --help         {help_ms:7.1f} ms  ({help_ms / baseline:.1f}x baseline)  "
        f"goal < {GOAL_MS:.0f} ms: {verdict}"
    )
    print(f"migrator migrate --help {migrate_help_ms:7.1f} ms  ({migrate_help_ms / baseline:.1f}x baseline)")


if __name__ == "__main__":
    main()
