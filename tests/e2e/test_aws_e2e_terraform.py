"""End to end with real Terraform: `migrator up --target aws`, `outputs`, `plan`, `down` on the real module.

Terraform and the offline AWS provider come from tf-offline (`eval "$(../shared/tools/tf-offline/setup)"`,
which CI runs before `make test`): real Terraform 1.15.5 whose fake provider applies with made-up values into
local state and never talks to AWS. STS is answered by moto, so no request leaves the machine.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.aws import HOST_BUILT, write_host_log
from tests.helpers.aws import OUTPUTS as FAKE_OUTPUTS
from tests.helpers.cli import invoke

REPO = Path(__file__).resolve().parents[2]
CONTRACT_OUTPUTS = [
    "vpc_id",
    "public_subnet_ids",
    "private_subnet_ids",
    "redis_private_ip",
    "redis_instance_id",
    "eic_endpoint_id",
    "eic_security_group_id",
    "redis_security_group_id",
    "valkey_security_group_id",
    "valkey_primary_endpoint",
    "valkey_reader_endpoint",
    "valkey_port",
    "replication_group_id",
    "region",
    "redis_log_group_name",
    "valkey_slow_log_group_name",
    "valkey_engine_log_group_name",
    "flow_log_group_name",
    "redis_instance_type",
    "valkey_node_type",
    "valkey_num_cache_clusters",
    "valkey_num_node_groups",
    "redis_port",
    "redis_version",
    "redis_node_ports",
    "redis_cluster_enabled",
    "redis_source_log_group",
    "redis_source_log_stream",
    "bridge_enabled",
    "bridge_port",
    "valkey_cluster_mode_enabled",
    "dashboard_url",
]


def run(*args: str) -> Any:
    result = invoke(*args)
    assert result.exit_code == 0, f"migrator {' '.join(args)} → {result.exit_code}: {result.stderr}"
    return json.loads(result.stdout) if "json" in args else result


def _resources(tfstate: Path) -> list[str]:
    state = json.loads(tfstate.read_text())
    return [
        f"{r.get('module', '')}.{r['type']}.{r['name']}[{i.get('index_key', '')}]".lstrip(".")
        for r in state.get("resources", [])
        if r["mode"] == "managed"
        for i in r["instances"]
    ]


def test_up_outputs_plan_down_with_real_terraform(
    offline_terraform: None, moto: None, tmp_path: Path
) -> None:
    module = tmp_path / "terraform"
    shutil.copytree(REPO / "terraform", module, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    workspace = tmp_path / ".migrator"

    # The fake provider's instance never boots: its build verdict is written into moto below, for the 2nd up.
    status = run(
        "up", "--target", "aws", "--auto-approve", "--region", "us-east-1", "--no-wait-host", "-o", "json"
    )
    assert status["target_kind"] == "aws"
    assert status["source"]["url"].startswith("redis://") and status["source"]["url"].endswith(":6379")
    assert status["target"]["url"].startswith("redis://")

    state = json.loads((workspace / "state.json").read_text())
    outputs = state["aws"]["outputs"]
    assert sorted(set(CONTRACT_OUTPUTS) - set(outputs)) == []
    # The fake terraform the other AWS tests use answers with exactly the real module's outputs.
    assert sorted(outputs) == sorted(FAKE_OUTPUTS), "tests/fake_terraform/outputs.json is out of step"
    assert outputs["redis_source_log_stream"] == f"{outputs['redis_instance_id']}/user-data.log"
    assert outputs["bridge_port"] == 6380 and outputs["redis_node_ports"] == [6379]
    assert outputs["region"] == "us-east-1" and outputs["valkey_num_cache_clusters"] == 2
    tfstate = workspace / "terraform" / "terraform.tfstate"
    created = _resources(tfstate)
    assert any("aws_elasticache_replication_group.this" in r for r in created), created
    assert not (REPO / "terraform" / "terraform.tfstate").exists()

    # `up` again (nothing to change) waits for the host's verdict in the stream the real module names.
    write_host_log(HOST_BUILT, outputs)
    again = run("up", "--auto-approve", "-o", "json")
    assert again["source"]["version"] == "7.4.6" and again["source"]["build"]["state"] == "done"

    assert run("outputs", "-o", "json") == outputs
    assert run("outputs", "replication_group_id", "-o", "json") == outputs["replication_group_id"]
    # After apply the configuration and the state agree: nothing left to do.
    assert run("plan", "--terraform-dir", str(module), "-o", "json")["add"] == 0
    assert run("plan", "--destroy", "-o", "json")["destroy"] == len(created)

    down = run("down", "--auto-approve", "-o", "json")
    assert down["destroyed"] is True
    assert not (workspace / "state.json").exists()
    assert _resources(tfstate) == []


def _rendered_user_data(tmp_path: Path, *variables: str) -> str:
    """The redis_source module's user data, rendered by Terraform itself (`terraform console`)."""
    module = tmp_path / "redis_source"
    shutil.copytree(REPO / "terraform" / "modules" / "redis_source", module)
    subprocess.run(
        ["terraform", f"-chdir={module}", "init", "-backend=false", "-input=false"],
        check=True,
        capture_output=True,
    )
    required = ["name=check", "subnet_id=subnet-0", "security_group_id=sg-0", "eic_security_group_id=sg-1"]
    argv = ["terraform", f"-chdir={module}", "console"] + [f"-var={v}" for v in [*required, *variables]]
    printed = subprocess.run(
        argv, input="base64encode(local.user_data)", capture_output=True, text=True, check=True
    )
    return base64.b64decode(printed.stdout.strip().strip('"')).decode()


@pytest.mark.parametrize("masters", [2, 3])
def test_rendered_cluster_user_data_forms_the_cluster(
    offline_terraform: None, tmp_path: Path, masters: int
) -> None:
    """Section 6 of the cluster user data, run as rendered against real redis-server nodes in a private
    network namespace (the ports are the module's own, 6379..): every slot assigned, every node met,
    and a second run changes nothing."""
    user_data = _rendered_user_data(tmp_path, f"cluster_masters={masters}")
    start, end = user_data.index("owns_slots() {"), user_data.index('echo "user-data: Redis Cluster ok')
    forming = user_data[start:end].replace("/usr/local/bin/redis-cli", "redis-cli")
    ports = " ".join(str(6379 + i) for i in range(masters))
    script = tmp_path / "form.sh"
    script.write_text(
        f"""set -Eeuo pipefail
ip link set lo up
for p in {ports}; do
  redis-server --port $p --cluster-enabled yes --cluster-config-file {tmp_path}/nodes-$p.conf \\
    --dir {tmp_path} --dbfilename $p.rdb --daemonize yes --save '' --appendonly no --logfile {tmp_path}/$p.log
done
for p in {ports}; do until redis-cli -p $p ping >/dev/null 2>&1; do sleep 0.1; done; done
PRIVATE_IP=127.0.0.1
NODE_PORTS="{ports}"
{forming}
# Twice: the second run must find the cluster formed and change nothing.
{forming}
redis-cli -p 6379 cluster info | tr -d '\\r' | grep -E '^cluster_(state|slots_assigned|known_nodes):'
redis-cli -p 6379 cluster nodes | awk '{{print $2, $9}}' | sort
for p in {ports}; do redis-cli -p $p shutdown nosave >/dev/null 2>&1 || true; done
"""
    )
    ran = subprocess.run(
        ["unshare", "--net", "bash", str(script)], capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "FATAL" not in ran.stdout + ran.stderr
    assert f"cluster_state:ok\ncluster_slots_assigned:16384\ncluster_known_nodes:{masters}" in ran.stdout
    layout = [line.split() for line in ran.stdout.splitlines() if line.startswith("127.0.0.1:")]
    expected = {2: ["0-8191", "8192-16383"], 3: ["0-5460", "5461-10922", "10923-16383"]}[masters]
    assert [slots for _, slots in layout] == expected, ran.stdout
