"""`pip install .` into a clean venv gives a working `migrator` (dependencies and data files)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_pip_install_gives_a_working_console_script(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(REPO)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    helped = subprocess.run([str(venv / "bin" / "migrator"), "--help"], capture_output=True, text=True)
    assert helped.returncode == 0, helped.stderr
    assert "migrate" in helped.stdout

    def installed_python(code: str) -> str:
        # cwd outside the checkout, so the import resolves to the installed package
        run = subprocess.run(
            [str(venv / "bin" / "python"), "-c", code],
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp_path,
        )
        return run.stdout.strip()

    shipped = installed_python(
        "import importlib.resources as r; print(sorted(p.name for p in r.files('migrator.verify').iterdir()))"
    )
    assert ".lua" in shipped
    # The Terraform root module travels with the package, so `up --target aws` finds it after install.
    found = installed_python("from migrator.infra import bundled_module; print(bundled_module())")
    assert found.startswith(str(venv)) and (Path(found) / "main.tf").exists()
    assert (Path(found) / "modules" / "redis_source" / "templates").is_dir()
    # The thin root calls the reusable, provider-free module, which must travel with it.
    assert (Path(found) / "modules" / "migrator" / "main.tf").is_file()
