"""`make bench` stays runnable: every benchmark imports (they run nothing at import; figures are bench's)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.glob("*.py")))
def test_the_benchmark_imports(script: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    namespace = runpy.run_path(str(BENCH / script), run_name="bench_import_check")
    assert callable(namespace.get("main")) or script in ("dataset.py", "verify_lean.py", "verify_naive.py")
