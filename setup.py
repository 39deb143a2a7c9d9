"""Ships the Terraform root module inside the wheel (as migrator/terraform), so `migrator up --target aws`
works after `pip install .` as it does from a checkout. Everything else is in pyproject.toml."""

import importlib.util
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).parent
MODULE = HERE / "terraform"


def _module_files():
    """migrator/terraform_adapter/module_files.py, loaded by path: the one list of what is configuration (`up` uses it too)."""
    spec = importlib.util.spec_from_file_location("_module_files", HERE / "migrator" / "terraform_adapter" / "module_files.py")
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


class BuildPyWithTerraform(build_py):
    def run(self) -> None:
        super().run()
        destination = Path(self.build_lib) / "migrator" / "terraform"
        for relative in _module_files().config_files(MODULE):
            (destination / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(MODULE / relative, destination / relative)


setup(cmdclass={"build_py": BuildPyWithTerraform})
