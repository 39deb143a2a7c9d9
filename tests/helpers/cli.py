"""The one way tests run the CLI: `invoke(*args)` in-process, as a user would, returning a CliResult.

Tests ask for it as the `cli` fixture (registered through `pytest_plugins`, tests/conftest.py) or import
`invoke` for module-level helpers. Exceptions are not caught: a traceback fails the test.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest


class CliResult:
    """One CLI run: exit code, stdout, stderr, and stdout parsed as the one JSON document (if any)."""

    def __init__(self, exit_code: int, stdout: str, stderr: str) -> None:
        self.exit_code, self.stdout, self.stderr = exit_code, stdout, stderr

    @property
    def output(self) -> str:
        """Both streams, for assertions that do not care which one a line went to."""
        return self.stdout + self.stderr

    @property
    def json(self) -> object:
        return json.loads(self.stdout)

    def __iter__(self) -> Iterator[object]:
        """Unpacks as `code, out, err = invoke(...)`."""
        return iter((self.exit_code, self.stdout, self.stderr))

    def __repr__(self) -> str:
        tail = {"stdout": self.stdout[-2000:], "stderr": self.stderr[-800:]}
        return f"CliResult(exit={self.exit_code}, {tail!r})"


Cli = Callable[..., CliResult]


def invoke(*args: str, input: str | None = None) -> CliResult:
    """Run `migrator ARGS...` with stdin `input`; the output format is reset first, as in a fresh process."""
    from typer.testing import CliRunner

    from migrator import render
    from migrator.cli import app

    render.set_format("text")  # the --output callback sets it per run; reset between runs
    result = CliRunner().invoke(app, list(args), input=input, catch_exceptions=False)
    return CliResult(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def cli() -> Cli:
    """`invoke`, as a fixture."""
    return invoke
