"""The one Terraform adapter: find a binary, check its version, run it with argv valid for Terraform >= 1.5.

python-terraform 0.10.1 (2019) builds argv for Terraform < 0.15: its `apply`/`plan`/`init`/`destroy` helpers
add `-force`, a positional directory and `-state`, all rejected or legacy today. So this module never calls
those helpers: it builds every command through `Terraform.generate_cmd_string` / `Terraform.cmd` with
explicit options, runs in `working_dir` (never `dir_or_plan`, `state` or `force`), and always raises. Tests
assert the exact argv against a fake `terraform` executable."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migrator.errors import MigratorError
from migrator.terraform_adapter.binary import INSTALL_HINT, TerraformBinary
from migrator.terraform_adapter.plan import PlanSummary, json_lines, json_type, replacements

if TYPE_CHECKING:
    from python_terraform import Terraform as PythonTerraform

ResourceProgress = Callable[[int, int | None], None]


def _diagnostics(stdout: str | None, stderr: str | None) -> str:
    """The first error Terraform reported: a JSON `diagnostic` line (-json runs) or the stderr text."""
    for line in (stdout or "").splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        diag = message.get("diagnostic") if isinstance(message, dict) else None
        if diag and diag.get("severity") == "error":
            detail = " ".join(str(diag.get("detail", "")).split())
            return f"{diag.get('summary', 'error')}: {detail}".rstrip(": ")
    lines = [ln.strip(" │╷╵") for ln in (stderr or "").splitlines()]
    lines = [ln for ln in lines if ln.strip()]
    for i, line in enumerate(lines):
        if line.startswith("Error:"):
            return " ".join([line, *lines[i + 1 : i + 2]])
    return lines[-1] if lines else "no error message"


class Terraform:
    """Runs one root module in `working_dir`; every method raises MigratorError on a non-zero exit."""

    def __init__(
        self,
        binary: TerraformBinary,
        working_dir: Path,
        *,
        var_files: list[Path] | None = None,
        variables: dict[str, str] | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.binary = binary
        self.working_dir = Path(working_dir)
        self.var_files = [str(Path(f).absolute()) for f in var_files or []]
        self.variables = dict(variables or {})
        self.log_dir = log_dir

    def _tf(self) -> PythonTerraform:
        from python_terraform import Terraform as PythonTerraform

        return PythonTerraform(working_dir=str(self.working_dir), terraform_bin_path=self.binary.path)

    def _var_options(self) -> dict[str, Any]:
        # Lists, not python-terraform's `var={}`: a dict goes to a temp file that it also logs.
        return {
            "var_file": self.var_files or None,
            "var": [f"{k}={v}" for k, v in self.variables.items()] or None,
        }

    def argv(self, command: str, *args: str, **options: Any) -> list[str]:
        """The exact argv (python-terraform's option encoding: `no_color=IsFlagged` → -no-color)."""
        return self._tf().generate_cmd_string(command, *args, **options)

    def _log(self, command: str, out: str | None, err: str | None) -> str:
        if self.log_dir is None:
            return ""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        path = self.log_dir / f"terraform-{command}.log"
        path.write_text((out or "") + (err or ""))
        return f" (full output: {path})"

    def _run(self, command: str, *args: str, **options: Any) -> str:
        from python_terraform import TerraformCommandError

        try:
            with warnings.catch_warnings():
                # python-terraform 0.10.1 calls the deprecated `log.warn` on every failure.
                warnings.simplefilter("ignore", DeprecationWarning)
                _, out, err = self._tf().cmd(command, *args, raise_on_error=True, **options)
        except TerraformCommandError as exc:
            raise self._failure(command, exc.returncode, exc.out, exc.err) from None
        except OSError as exc:
            raise MigratorError(
                f"cannot run {self.binary.path} ({exc.strerror})", INSTALL_HINT, "TerraformNotFound"
            ) from None
        self._log(command, out, err)
        return out or ""

    def _failure(self, command: str, code: int, out: str | None, err: str | None) -> MigratorError:
        where = self._log(command, out, err)
        return MigratorError(
            f"terraform {command} failed (exit {code}): {_diagnostics(out, err)}",
            f"fix the cause and re-run{where}",
            "TerraformFailed",
        )

    def init(self) -> None:
        from python_terraform import IsFlagged

        self._run("init", input=False, no_color=IsFlagged)

    def plan(self, plan_file: Path, destroy: bool = False) -> PlanSummary:
        """Plan into a file, so `apply` does exactly what the user confirmed."""
        from python_terraform import IsFlagged, IsNotFlagged

        out = self._run(
            "plan",
            input=False,
            no_color=IsFlagged,
            json=IsFlagged,
            destroy=IsFlagged if destroy else IsNotFlagged,
            out=str(plan_file),
            **self._var_options(),
        )
        summary = PlanSummary(plan_file=str(plan_file))
        for message in json_lines(out):
            if message.get("type") == "change_summary":
                changes = message.get("changes", {})
                summary.add, summary.change = int(changes.get("add", 0)), int(changes.get("change", 0))
                summary.destroy = int(changes.get("remove", 0))
            elif message.get("type") == "planned_change":
                summary.resources.append(message.get("change", {}).get("resource", {}).get("addr", ""))
        # A replacement counts as one add and one destroy: only then is the saved plan worth reading.
        if summary.destroy:
            summary.replaced = replacements(self.show(plan_file))
        return summary

    def show(self, plan_file: Path) -> dict[str, Any]:
        """`show -json <plan>`: the saved plan as Terraform's JSON plan representation."""
        from python_terraform import IsFlagged

        out = self._run("show", str(plan_file), no_color=IsFlagged, json=IsFlagged)
        try:
            document = json.loads(out or "{}")
        except ValueError:
            raise MigratorError(
                "terraform show -json printed something that is not JSON",
                f"run `terraform show -json {plan_file}` in the module directory to see why",
                "TerraformFailed",
            ) from None
        return document if isinstance(document, dict) else {}

    def apply(
        self, plan_file: Path, progress: ResourceProgress | None = None, total: int | None = None
    ) -> None:
        """Apply a saved plan (no -var: Terraform refuses variables with a saved plan)."""
        from python_terraform import IsFlagged

        argv = self.argv(
            "apply", str(plan_file), input=False, no_color=IsFlagged, json=IsFlagged, auto_approve=IsFlagged
        )
        self._stream("apply", argv, progress, total)

    def destroy(self, progress: ResourceProgress | None = None, total: int | None = None) -> None:
        from python_terraform import IsFlagged

        argv = self.argv(
            "destroy",
            input=False,
            no_color=IsFlagged,
            json=IsFlagged,
            auto_approve=IsFlagged,
            **self._var_options(),
        )
        self._stream("destroy", argv, progress, total)

    def output(self) -> dict[str, Any]:
        """`output -json` as {name: value}."""
        from python_terraform import IsFlagged

        out = self._run("output", no_color=IsFlagged, json=IsFlagged)
        try:
            raw = json.loads(out or "{}")
        except ValueError:
            raise MigratorError(
                "terraform output -json printed something that is not JSON",
                "run `terraform output -json` in the module directory to see why",
                "TerraformFailed",
            ) from None
        return {name: entry.get("value") for name, entry in raw.items()}

    def _stream(
        self, command: str, argv: list[str], progress: ResourceProgress | None, total: int | None
    ) -> None:
        """Run a long command, reporting each finished resource (python-terraform's cmd waits to the end)."""
        env = {**os.environ, "TF_IN_AUTOMATION": "1"}
        # stderr goes to a file, not a pipe: read only after stdout ends, a full stderr pipe (TF_LOG, many
        # warnings) would block Terraform while we wait for stdout, forever.
        with tempfile.TemporaryFile(mode="w+") as errors:
            try:
                proc = subprocess.Popen(
                    argv, cwd=self.working_dir, env=env, stdout=subprocess.PIPE, stderr=errors, text=True
                )
            except OSError as exc:
                raise MigratorError(
                    f"cannot run {self.binary.path} ({exc.strerror})", INSTALL_HINT, "TerraformNotFound"
                ) from None
            lines: list[str] = []
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line)
                if progress is not None and json_type(line) == "apply_complete":
                    progress(1, total)
            code = proc.wait()
            errors.seek(0)
            err = errors.read()
        out = "".join(lines)
        if code != 0:
            raise self._failure(command, code, out, err)
        self._log(command, out, err)
