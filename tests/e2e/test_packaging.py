"""`pipx install .` gives a working `migrator` (dependencies from the ranges, data files, the module)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_pipx_install_gives_a_working_console_script(tmp_path: Path) -> None:
    """As the README says to install it: `pipx install .`, the ranges of pyproject.toml resolved by pip."""
    env = {
        **os.environ,
        "PIPX_HOME": str(tmp_path / "pipx"),
        "PIPX_BIN_DIR": str(tmp_path / "bin"),
        "PIPX_MAN_DIR": str(tmp_path / "man"),
    }
    install = subprocess.run(
        [sys.executable, "-m", "pipx", "install", str(REPO)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    venv = tmp_path / "pipx" / "venvs" / "migrator"
    helped = subprocess.run([str(tmp_path / "bin" / "migrator"), "--help"], capture_output=True, text=True)
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
    found = installed_python("from migrator.terraform_adapter import bundled_module; print(bundled_module())")
    assert found.startswith(str(venv)) and (Path(found) / "main.tf").exists()
    assert (Path(found) / "modules" / "redis_source" / "templates").is_dir()
    # The thin root calls the reusable, provider-free module, which must travel with it.
    assert (Path(found) / "modules" / "migrator" / "main.tf").is_file()
