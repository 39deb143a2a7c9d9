"""The command line's contract: fast lazy start, help everywhere, JSON and error shapes."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import typer.main

from migrator.cli import app
from tests.helpers.cli import invoke

CONTRACT = [
    ["up"],
    ["down"],
    ["status"],
    ["migrate", "preflight"],
    ["migrate", "start"],
    ["migrate", "status"],
    ["migrate", "verify"],
    ["migrate", "complete"],
]


def test_importing_the_cli_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys, migrator.cli; heavy = [m for m in ('boto3', 'botocore', 'redis', 'python_terraform', "
        "'rich.console') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = []
    for name, command in group.commands.items():
        found.append(((*prefix, name), command))
        if hasattr(command, "commands"):
            found += _commands(command, (*prefix, name))
    return found


def test_every_contract_command_exists_and_every_command_has_help_and_json_output() -> None:
    commands = dict(_commands(typer.main.get_command(app)))
    for path in CONTRACT:
        assert tuple(path) in commands, f"missing command: migrator {' '.join(path)}"
    for path, command in commands.items():
        assert command.help or command.short_help, f"migrator {' '.join(path)} has no help"
        if not hasattr(command, "commands"):
            options = {opt for p in command.params for opt in getattr(p, "opts", [])}
            assert "--output" in options, f"migrator {' '.join(path)} lacks --output"


def test_top_level_help_lists_the_contract(cli) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for name in ("up", "down", "status", "migrate"):
        assert f"  {name} " in result.stdout
    migrate = cli("migrate", "--help")
    for name in ("preflight", "start", "status", "verify", "complete"):
        assert f"  {name} " in migrate.stdout


def test_error_is_one_line_on_stderr_and_a_json_document_on_stdout(cli) -> None:
    result = cli("migrate", "start", "--output", "json")
    assert result.exit_code == 2
    assert json.loads(result.stdout) == {
        "ok": False,
        "error": {
            "code": "NoEnvironment",
            "message": result.json["error"]["message"],
            "hint": "run `migrator up` first (or pass --workspace PATH)",
        },
    }
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: no environment in ")
    assert "Traceback" not in result.stderr


def test_text_error_has_no_stdout(cli) -> None:
    result = cli("migrate", "status")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "run `migrator up` first" in result.stderr


def test_status_with_nothing_up_reports_and_exits_zero(cli) -> None:
    result = cli("status", "-o", "json")
    assert result.exit_code == 0
    assert result.json == {"target_kind": None, "source": None, "target": None, "migration": None}


def test_down_with_nothing_running(cli) -> None:
    result = cli("down")
    assert result.exit_code == 0
    assert "nothing to stop" in result.stdout


# ---- cli: a usage error is still one line, and one JSON document with --output json ----------------------
@pytest.mark.parametrize(
    "args",
    [
        ["migrate", "verify", "--rounds", "abc", "-o", "json"],
        ["migrate", "status", "--bogus", "--output", "json"],  # fails before --output's callback runs
        ["cost", "--output=json", "--nodes", "x"],
        ["migrate", "verify", "-ojson", "--rounds", "x"],
        ["migrate", "nosuchcommand", "-o", "json"],
    ],
)
def test_usage_error_is_one_line_and_json_with_output_json(args: list[str]) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["error"]["code"] == "UsageError"
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "-h`" in result.stderr and "Traceback" not in result.stderr


def test_usage_error_in_text_mode_is_one_line_and_help_still_shows() -> None:
    result = invoke("migrate", "verify", "--rounds", "abc")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "'--rounds'" in result.stderr
    assert " migrate verify -h`" in result.stderr
    bare = invoke("migrate")  # no arguments: the help, as before
    assert "Commands" in bare.output and "preflight" in bare.output
