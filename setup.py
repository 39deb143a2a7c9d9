"""Ships the Terraform root module inside the wheel (as migrator/terraform), so `migrator up --target aws`
works after `pip install .` as it does from a checkout. Everything else is in pyproject.toml."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

MODULE = Path(__file__).parent / "terraform"
SKIP_PARTS = {".terraform", "tests"}


class BuildPyWithTerraform(build_py):
    def run(self) -> None:
        super().run()
        destination = Path(self.build_lib) / "migrator" / "terraform"
        for path in MODULE.rglob("*"):
            relative = path.relative_to(MODULE)
            if path.is_file() and not SKIP_PARTS & set(relative.parts) and ".tfstate" not in path.name:
                (destination / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, destination / relative)


setup(cmdclass={"build_py": BuildPyWithTerraform})
