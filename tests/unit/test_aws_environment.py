"""`migrator up/down/status/plan/outputs --target aws` through the CLI, with the fake terraform and moto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from migrator.state import Workspace
from tests.helpers.aws import HOST_BUILT, OUTPUT_VALUES, FakeTerraform, write_host_log
from tests.helpers.cli import invoke


@pytest.fixture
def aws(moto: None) -> None:
    """...and the source host has built: its user-data stream ends with `user-data: done`."""
    write_host_log(HOST_BUILT)


def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / ".migrator")


def test_up_applies_and_records_outputs(fake_tf: FakeTerraform, aws: None, tmp_path: Path) -> None:
    result = invoke("up", "--target", "aws", "--auto-approve", "--region", "us-east-1", "-o", "json")
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
    result = invoke("up", "--target", "aws", "-o", "json")
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
    result = invoke("up", "--target", "aws", "--auto-approve")
    assert result.exit_code == 2
    assert "error: no AWS credentials found — run `aws configure`" in result.stderr
    assert fake_tf.commands() == ["version"]


def test_up_refuses_old_terraform_before_anything(
    fake_tf: FakeTerraform, aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_TF_VERSION", "1.3.9")
    result = invoke("up", "--target", "aws", "--auto-approve")
    assert result.exit_code == 2
    assert "terraform 1.3.9; migrator needs terraform >= 1.5" in result.stderr
    assert fake_tf.commands() == ["version"]


def test_up_with_missing_var_file(fake_tf: FakeTerraform, aws: None) -> None:
    result = invoke("up", "--target", "aws", "--auto-approve", "--var-file", "nope.tfvars")
    assert result.exit_code == 2 and "--var-file not found: nope.tfvars" in result.stderr


def test_failed_apply_leaves_enough_state_for_down(
    fake_tf: FakeTerraform, aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FAKE_TF_FAIL", "apply")
    result = invoke("up", "--target", "aws", "--auto-approve", "-o", "json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["code"] == "TerraformFailed"
    assert "InvalidParameterValue" in result.stderr
    state = workspace(tmp_path).require()
    assert state.target_kind == "aws" and state.aws.terraform_dir
    monkeypatch.delenv("FAKE_TF_FAIL")
    assert invoke("down", "--auto-approve").exit_code == 0
    assert "destroy" in fake_tf.commands()


def test_later_commands_remember_the_target(fake_tf: FakeTerraform, aws: None, tmp_path: Path) -> None:
    var_file = tmp_path / "small.tfvars"
    var_file.write_text('valkey_node_type = "cache.t3.small"\n')
    assert invoke("up", "--target", "aws", "--auto-approve", "--var-file", str(var_file)).exit_code == 0
    # `up` again with no flag acts on AWS with the recorded var file.
    assert invoke("up", "--auto-approve").exit_code == 0
    assert f"-var-file={var_file}" in fake_tf.argv("plan")
    result = invoke("down", "--auto-approve", "-o", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["destroyed"] is True and "migrator" in document["resources"]
    assert f"-var-file={var_file}" in fake_tf.argv("destroy")
    assert not workspace(tmp_path).exists()


def test_down_without_approval_destroys_nothing(fake_tf: FakeTerraform, aws: None) -> None:
    assert invoke("up", "--target", "aws", "--auto-approve").exit_code == 0
    result = invoke("down")
    assert result.exit_code == 2 and "--auto-approve" in result.stderr
    assert "destroy" not in fake_tf.commands()


def test_plan_shows_the_summary_and_records_nothing(
    fake_tf: FakeTerraform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_TF_PLAN", "2,1,0")
    result = invoke("plan", "--region", "eu-west-1", "-o", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "add": 2,
        "change": 1,
        "destroy": 0,
        "resources": ["aws_thing.r0", "aws_thing.r1"],
        "replaced": [],
    }
    assert "-var=region=eu-west-1" in fake_tf.argv("plan")
    assert not workspace(tmp_path).exists()
    text = invoke("plan")
    assert "Plan: 2 to add, 1 to change, 0 to destroy." in text.stdout


def test_outputs_all_and_one(fake_tf: FakeTerraform, aws: None) -> None:
    assert invoke("up", "--target", "aws", "--auto-approve").exit_code == 0
    result = invoke("outputs", "-o", "json")
    assert json.loads(result.stdout) == OUTPUT_VALUES
    one = invoke("outputs", "redis_private_ip", "-o", "json")
    assert json.loads(one.stdout) == "10.0.2.15"
    missing = invoke("outputs", "nope")
    assert missing.exit_code == 2 and "no terraform output named 'nope'" in missing.stderr


def test_outputs_need_an_aws_environment() -> None:
    result = invoke("outputs")
    assert result.exit_code == 2 and "run `migrator up` first" in result.stderr


def test_status_reports_the_live_group_and_survives_aws_errors(fake_tf: FakeTerraform, aws: None) -> None:
    import boto3

    assert invoke("up", "--target", "aws", "--auto-approve").exit_code == 0
    # The group does not exist in moto yet: status still reports what the workspace knows.
    result = invoke("status", "-o", "json")
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
    document = json.loads(invoke("status", "-o", "json").stdout)
    assert document["target"]["status"] == "available"
    assert document["migration"]["group_status"] == "available"
    assert "error" not in document["target"]


def test_refused_up_leaves_a_fresh_workspace_empty(fake_tf: FakeTerraform, aws: None, tmp_path: Path) -> None:
    """Without a terminal and --auto-approve nothing is applied; the workspace must not turn into an aws
    one either, or the next plain `migrator up` / `status` / `down` would act on AWS."""
    result = invoke("up", "--target", "aws")
    assert result.exit_code == 2 and "--auto-approve" in result.stderr
    assert "apply" not in fake_tf.commands()
    assert not workspace(tmp_path).exists()


# ---- the source host's build verdict ------------------------------------------------------------------
def test_up_waits_for_the_host_and_status_shows_the_version_it_reports(
    fake_tf: FakeTerraform, moto: None, tmp_path: Path
) -> None:
    # The host reports another version than the `redis_version` variable says: the host is the truth.
    write_host_log(
        ["user-data: start x", "user-data: redis-server v=7.2.9 answers PING", "user-data: done x"]
    )
    result = invoke("up", "--target", "aws", "--auto-approve", "-o", "json")
    assert result.exit_code == 0, result.output
    source = json.loads(result.stdout)["source"]
    assert (source["version"], source["configured_version"]) == ("7.2.9", "7.4.6")
    assert source["build"]["state"] == "done" and source["build"]["read_from"] == "CloudWatch Logs"
    host = workspace(tmp_path).require().aws.host
    assert host is not None and (host.instance_id, host.state) == ("i-0123456789abcdef0", "done")
    status = json.loads(invoke("status", "-o", "json").stdout)
    assert status["source"]["version"] == "7.2.9"


def test_a_failed_host_build_fails_up_with_its_last_line_and_the_log(
    fake_tf: FakeTerraform, moto: None, tmp_path: Path
) -> None:
    fatal = 'user-data: FATAL: "make -C /usr/local/src/redis-7.4.6 -j 2" failed with exit status 2 (line 101)'
    write_host_log(["user-data: start x", "cc1: out of memory", fatal])
    result = invoke("up", "--target", "aws", "--auto-approve", "-o", "json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "HostBuildFailed" and fatal in error["message"]
    assert "group /migrator/redis-source, stream i-0123456789abcdef0/user-data.log" in error["hint"]
    assert result.stderr.count("\n") == 1 and fatal in result.stderr  # one line
    # The environment exists (outputs recorded, `down` can destroy it) and status says what went wrong.
    state = workspace(tmp_path).require()
    assert (
        state.aws.outputs == OUTPUT_VALUES and state.aws.host is not None and state.aws.host.state == "failed"
    )
    status = invoke("status", "-o", "json")
    build = json.loads(status.stdout)["source"]["build"]
    assert build["state"] == "failed" and build["line"] == fatal
    assert json.loads(status.stdout)["source"]["version"] == ""  # not the variable's 7.4.6
    assert "source host build: failed" in invoke("status").stdout


def test_no_wait_host_skips_the_wait_and_status_reads_the_log_later(
    fake_tf: FakeTerraform, moto: None
) -> None:
    result = invoke("up", "--target", "aws", "--auto-approve", "--no-wait-host", "-o", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["source"]["build"]["state"] == "unknown"
    write_host_log(HOST_BUILT)  # the build finishes later
    status = json.loads(invoke("status", "-o", "json").stdout)
    assert status["source"]["build"]["state"] == "done" and status["source"]["version"] == "7.4.6"


def test_a_host_with_no_verdict_in_time_is_a_timeout(fake_tf: FakeTerraform, moto: None) -> None:
    write_host_log(["user-data: start x", "user-data: attempt 1 of 'curl -fsSL …' failed; retrying in 10 s"])
    result = invoke("up", "--target", "aws", "--auto-approve", "--host-timeout", "0.01", "-o", "json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "HostBuildTimeout" and "retrying in 10 s" in error["message"]
    bad = invoke("up", "--target", "aws", "--auto-approve", "--host-timeout", "0")
    assert bad.exit_code == 2 and "--host-timeout 0 is not a duration" in bad.stderr


def test_a_host_seen_built_is_not_waited_for_again(fake_tf: FakeTerraform, aws: None) -> None:
    import boto3

    assert invoke("up", "--target", "aws", "--auto-approve").exit_code == 0
    boto3.client("logs", region_name="us-east-1").delete_log_group(logGroupName="/migrator/redis-source")
    again = invoke("up", "--auto-approve", "--host-timeout", "0.01")  # its log aged out of CloudWatch
    assert again.exit_code == 0, again.output


def test_host_options_belong_to_the_aws_target() -> None:
    result = invoke("up", "--target", "local", "--no-wait-host")
    assert result.exit_code == 2 and "--no-wait-host apply to the aws target only" in result.stderr


def test_status_prints_the_dashboard_and_json_carries_it(fake_tf: FakeTerraform, aws: None) -> None:
    assert invoke("up", "--target", "aws", "--auto-approve").exit_code == 0
    document = json.loads(invoke("status", "-o", "json").stdout)
    url = OUTPUT_VALUES["dashboard_url"]
    assert document["migration"]["dashboard_url"] == url
    assert f"dashboard: {url}" in invoke("status").stdout


def test_no_dashboard_output_means_no_dashboard_line(
    fake_tf: FakeTerraform, aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`terraform output -json` leaves out outputs whose value is null (dashboard_enabled = false)."""
    from tests.helpers.aws import OUTPUTS

    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({k: v for k, v in OUTPUTS.items() if not k.startswith("dashboard_")}))
    monkeypatch.setenv("FAKE_TF_OUTPUTS", str(outputs))
    assert invoke("up", "--target", "aws", "--auto-approve").exit_code == 0
    assert json.loads(invoke("status", "-o", "json").stdout)["migration"]["dashboard_url"] is None
    assert "dashboard" not in invoke("status").stdout


# ---- a plan that replaces the source host or the target group -------------------------------------------
HOST = "module.migrator.module.redis_source.aws_instance.this"


def _replacing_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, address: str = HOST) -> None:
    """The fake terraform plans to replace `address` because its user_data changed (a new release)."""
    resource_type = address.split(".")[-2]
    plan = {
        "format_version": "1.2",
        "resource_changes": [
            {
                "address": address,
                "type": resource_type,
                "change": {"actions": ["delete", "create"], "replace_paths": [["user_data"]]},
                "action_reason": "replace_because_cannot_update",
            },
            {"address": "module.migrator.aws_cloudwatch_dashboard.this", "change": {"actions": ["update"]}},
        ],
    }
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    monkeypatch.setenv("FAKE_TF_SHOW", str(tmp_path / "plan.json"))
    monkeypatch.setenv("FAKE_TF_PLAN", "1,1,1")


def test_a_plan_replacing_the_host_is_refused_while_migrating(
    fake_tf: FakeTerraform, aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert invoke("up", "--target", "aws", "--auto-approve").exit_code == 0
    workspace(tmp_path).update(lambda state: setattr(state, "migration_state", "migrating"))
    _replacing_plan(tmp_path, monkeypatch)
    before = fake_tf.commands().count("apply")
    result = invoke("up", "--auto-approve", "--allow-replace", "-o", "json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "ReplaceWhileMigrating"
    assert HOST in error["message"] and "user_data changed" in error["message"]
    assert "Redis source host" in error["message"] and "nothing was applied" in error["hint"]
    assert fake_tf.argv("show")[-1].endswith("tfplan")
    assert fake_tf.commands().count("apply") == before


def test_a_plan_replacing_the_host_needs_allow_replace_even_with_auto_approve(
    fake_tf: FakeTerraform, aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert invoke("up", "--target", "aws", "--auto-approve").exit_code == 0
    _replacing_plan(tmp_path, monkeypatch)
    before = fake_tf.commands().count("apply")
    refused = invoke("up", "--auto-approve", "-o", "json")  # no terminal here
    assert refused.exit_code == 2
    error = json.loads(refused.stdout)["error"]
    assert error["code"] == "ConfirmationRequired" and "--allow-replace" in error["hint"]
    assert "REPLACES" in error["message"] and HOST in error["message"]
    assert fake_tf.commands().count("apply") == before
    assert invoke("up", "--auto-approve", "--allow-replace").exit_code == 0
    assert fake_tf.commands().count("apply") == before + 1


def test_the_replace_question_is_asked_even_under_auto_approve(
    fake_tf: FakeTerraform, aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a terminal, --auto-approve still asks this one question, naming what is replaced and why."""
    from migrator.aws.environment import up
    from migrator.lifecycle.protocol import UpRequest

    assert invoke("up", "--target", "aws", "--auto-approve").exit_code == 0
    _replacing_plan(
        tmp_path, monkeypatch, "module.migrator.module.valkey_target.aws_elasticache_replication_group.this"
    )
    asked: list[str] = []
    up(workspace(tmp_path), UpRequest(auto_approve=True, confirm=asked.append, confirm_replace=asked.append))
    assert len(asked) == 1 and asked[0].startswith("WARNING: the plan REPLACES")
    assert "aws_elasticache_replication_group.this, the ElastiCache target group" in asked[0]
    assert "user_data changed: cannot be updated in place" in asked[0] and "Apply?" in asked[0]


def test_migrator_plan_names_what_it_replaces(
    fake_tf: FakeTerraform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _replacing_plan(tmp_path, monkeypatch)
    document = json.loads(invoke("plan", "-o", "json").stdout)
    assert document["replaced"] == [
        {"address": HOST, "type": "aws_instance", "reason": "user_data changed: cannot be updated in place"}
    ]
    assert f"replaces {HOST} (user_data changed: cannot be updated in place)" in invoke("plan").stdout


def test_replacing_anything_else_is_an_ordinary_plan(
    fake_tf: FakeTerraform, aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert invoke("up", "--target", "aws", "--auto-approve").exit_code == 0
    workspace(tmp_path).update(lambda state: setattr(state, "migration_state", "migrating"))
    _replacing_plan(tmp_path, monkeypatch, "module.migrator.module.security.aws_security_group.eic")
    assert invoke("up", "--auto-approve").exit_code == 0
