"""`make demo`, `make demo-seed` and `make demo-cluster` as the README promises them: examples/rehearsal.py
run as a user runs it (a subprocess calling `python -m migrator`), smaller (2000 keys, 2 s of writes).
That `down` left nothing running is the orphan detector's check (tests/helpers/isolation.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STEPS_OK = ("  ok", "as predicted")


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [[], ["--source-version", "7.4", "--target-version", "8.1", "--bridge"], ["--shards", "3"]],
    ids=["demo", "demo-seed", "demo-cluster"],
)
def test_the_rehearsal_runs_every_step_and_loses_no_write(args: list[str], tmp_path: Path) -> None:
    env = {
        **os.environ,
        "MIGRATOR_DEMO_WORKSPACE": str(tmp_path / "workspace"),
        "MIGRATOR_DEMO_KEYS": "2000",
        "MIGRATOR_DEMO_WRITE_SECONDS": "2",
    }
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / "rehearsal.py"), *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    summary = proc.stdout.split("Rehearsal summary", 1)[1].splitlines()[1:]
    steps = [line for line in summary if line.startswith("  ")]
    assert len(steps) >= 10 and all(line.rstrip().endswith(STEPS_OK) for line in steps), summary
    if "--bridge" in args:  # the direct start is refused first, as preflight predicts
        assert sum("as predicted" in line for line in steps) == 2
    assert "zero acknowledged writes lost" in proc.stdout
