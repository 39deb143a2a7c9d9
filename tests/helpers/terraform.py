"""`offline_terraform` (registered through `pytest_plugins`): real Terraform with tf-offline's AWS provider.

What a user's machine cannot have is skipped there with how to enable it; CI (MIGRATOR_NO_SKIPS=1) has it
and fails on any skip.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TF_OFFLINE_SETUP = REPO.parent / "shared" / "tools" / "tf-offline" / "setup"
HOW_TO_INSTALL = (
    "needs Terraform with the offline AWS provider (tf-offline): beside ../shared, run "
    '`eval "$(bash ../shared/tools/tf-offline/setup)"` before `make test`, as .ci/run does'
)


@pytest.fixture
def offline_terraform(monkeypatch: pytest.MonkeyPatch) -> None:
    """tf-offline's environment: taken as is when already exported, else from its setup script.

    A plain terraform is not enough: its real AWS provider would send requests to AWS, and none may leave.
    """
    if os.environ.get("TF_OFFLINE_PYTHON") and shutil.which("terraform"):
        return
    if not TF_OFFLINE_SETUP.exists():
        pytest.skip(HOW_TO_INSTALL)
    exports = subprocess.run(
        ["bash", str(TF_OFFLINE_SETUP)], capture_output=True, text=True, check=True
    ).stdout
    for name, value in re.findall(r'^export (\w+)="(.*)"$', exports, re.MULTILINE):
        monkeypatch.setenv(name, value.replace("$PATH", os.environ.get("PATH", "")))
    if not shutil.which("terraform"):
        pytest.skip(HOW_TO_INSTALL)
