"""`migrator up/down/status/plan/outputs --target aws` through the CLI, with the fake terraform and moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from migrator.cli import app
from migrator.state import Workspace
from tests.fake_terraform.fixtures import OUTPUT_VALUES, FakeTerraform, fake_tf

__all__ = ["fake_tf"]


@pytest.fixture
def aws() -> Iterator[None]:
    """moto in-process: STS and ElastiCache answer locally; nothing leaves the machine."""
    from moto import mock_aws

    with mock_aws():
        yield


def run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / ".migrator")


def test_up_applies_and_records_outputs(fake_tf: FakeTerraform, aws: None, tmp_path: Path) -> None:
    result = run("up", "--target", "aws", "--auto-approve", "--region", "us-east-1", "-o", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["target_kind"] == "aws"
    assert document["source"]["url"] == "redis://10.0.2.15:6379"
    assert document["target"]["url"] == "redis://migrator.abc123.ng.0001.use1.cache.amazonaws.com:6379"
    assert document["target"]["reader_url"].startswith("redis://migrator-ro.")
    assert document["migration"]["state"] == "available"
    assert fake_tf.commands() == ["version", "version", "init", "plan", "apply", "output"]
    state = workspace(tmp_path).require()
    assert state.target_kind == "aws"
    assert state.aws.outputs == OUTPUT_VALUES
    assert state.aws.region == "us-east-1"
    assert state.aws.account == "123456789012"
    # Terraform ran in the workspace's copy of the module, so its state lives in the workspace.
    work = Path(state.aws.terraform_dir or "")
    assert work == tmp_path / ".migrator" / "terraform" and (work / "main.tf").exists()
    assert {c["cwd"] for c in fake_tf.calls() if c["argv"][0] != "version"} == {str(work)}


def test_up_without_approval_and_without_a_terminal_applies_nothing(
    fake_tf: FakeTerraform, aws: None
) -> None:
    result = run("up", "--target", "aws", "-o", "json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "ConfirmationRequired" and "--auto-approve" in error["hint"]
    assert "3 to add, 0 to change, 0 to destroy" in error["message"]
    assert "apply" not in fake_tf.commands()


def test_up_checks_credentials_before_terraform_runs(
    fake_tf: FakeTerraform, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata probe off the machine
    result = run("up", "--target", "aws", "--auto-approve")
    assert result.exit_code == 2
    assert "error: no AWS credentials found — run `aws configure`" in result.stderr
    assert fake_tf.commands() == ["version"]


def test_up_refuses_old_terraform_before_anything(
    fake_tf: FakeTerraform, aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_TF_VERSION", "1.3.9")
    result = run("up", "--target", "aws", "--auto-approve")
    assert result.exit_code == 2
    assert "terraform 1.3.9; migrator needs terraform >= 1.5" in result.stderr
    assert fake_tf.commands() == ["version"]


def test_up_with_missing_var_file(fake_tf: FakeTerraform, aws: None) -> None:
    result = run("up", "--target", "aws", "--auto-approve", "--var-file", "nope.tfvars")
    assert result.exit_code == 2 and "--var-file not found: nope.tfvars" in result.stderr


def test_failed_apply_leaves_enough_state_for_down(
    fake_tf: FakeTerraform, aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FAKE_TF_FAIL", "apply")
    result = run("up", "--target", "aws", "--auto-approve", "-o", "json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["code"] == "TerraformFailed"
    assert "InvalidParameterValue" in result.stderr
    state = workspace(tmp_path).require()
    assert state.target_kind == "aws" and state.aws.terraform_dir
    monkeypatch.delenv("FAKE_TF_FAIL")
    assert run("down", "--auto-approve").exit_code == 0
    assert "destroy" in fake_tf.commands()


def test_later_commands_remember_the_target(fake_tf: FakeTerraform, aws: None, tmp_path: Path) -> None:
    var_file = tmp_path / "small.tfvars"
    var_file.write_text('valkey_node_type = "cache.t3.small"\n')
    assert run("up", "--target", "aws", "--auto-approve", "--var-file", str(var_file)).exit_code == 0
    # `up` again with no flag acts on AWS with the recorded var file.
    assert run("up", "--auto-approve").exit_code == 0
    assert f"-var-file={var_file}" in fake_tf.argv("plan")
    result = run("down", "--auto-approve", "-o", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["destroyed"] is True and "migrator" in document["resources"]
    assert f"-var-file={var_file}" in fake_tf.argv("destroy")
    assert not workspace(tmp_path).exists()


def test_down_without_approval_destroys_nothing(fake_tf: FakeTerraform, aws: None) -> None:
    assert run("up", "--target", "aws", "--auto-approve").exit_code == 0
    result = run("down")
    assert result.exit_code == 2 and "--auto-approve" in result.stderr
    assert "destroy" not in fake_tf.commands()


def test_plan_shows_the_summary_and_records_nothing(
    fake_tf: FakeTerraform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_TF_PLAN", "2,1,0")
    result = run("plan", "--region", "eu-west-1", "-o", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "add": 2,
        "change": 1,
        "destroy": 0,
        "resources": ["aws_thing.r0", "aws_thing.r1"],
    }
    assert "-var=region=eu-west-1" in fake_tf.argv("plan")
    assert not workspace(tmp_path).exists()
    text = run("plan")
    assert "Plan: 2 to add, 1 to change, 0 to destroy." in text.stdout


def test_outputs_all_and_one(fake_tf: FakeTerraform, aws: None) -> None:
    assert run("up", "--target", "aws", "--auto-approve").exit_code == 0
    result = run("outputs", "-o", "json")
    assert json.loads(result.stdout) == OUTPUT_VALUES
    one = run("outputs", "redis_private_ip", "-o", "json")
    assert json.loads(one.stdout) == "10.0.2.15"
    missing = run("outputs", "nope")
    assert missing.exit_code == 2 and "no terraform output named 'nope'" in missing.stderr


def test_outputs_need_an_aws_environment() -> None:
    result = run("outputs")
    assert result.exit_code == 2 and "run `migrator up` first" in result.stderr


def test_status_reports_the_live_group_and_survives_aws_errors(fake_tf: FakeTerraform, aws: None) -> None:
    import boto3

    assert run("up", "--target", "aws", "--auto-approve").exit_code == 0
    # The group does not exist in moto yet: status still reports what the workspace knows.
    result = run("status", "-o", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["target_kind"] == "aws"
    assert "not found in region us-east-1" in document["target"]["error"]

    boto3.client("elasticache", region_name="us-east-1").create_replication_group(
        ReplicationGroupId="migrator",
        ReplicationGroupDescription="t",
        Engine="valkey",
        EngineVersion="8.2",
        CacheNodeType="cache.t3.medium",
        NumCacheClusters=2,
    )
    document = json.loads(run("status", "-o", "json").stdout)
    assert document["target"]["status"] == "available"
    assert document["migration"]["group_status"] == "available"
    assert "error" not in document["target"]


def test_refused_up_leaves_a_fresh_workspace_empty(fake_tf: FakeTerraform, aws: None, tmp_path: Path) -> None:
    """Without a terminal and --auto-approve nothing is applied; the workspace must not turn into an aws
    one either, or the next plain `migrator up` / `status` / `down` would act on AWS."""
    result = run("up", "--target", "aws")
    assert result.exit_code == 2 and "--auto-approve" in result.stderr
    assert "apply" not in fake_tf.commands()
    assert not workspace(tmp_path).exists()
