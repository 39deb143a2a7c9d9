"""`migrator cost`: the estimate from the price table, for the module's defaults and for scaled settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from migrator.aws import cost
from migrator.errors import Code, MigratorError
from migrator.state import AwsRecord, State, Workspace
from tests.helpers.cli import invoke

HOST_EXTRAS = 0.0022 + 0.0037  # EBS root volume + 9 CloudWatch metrics, each line rounded to 4 places


def test_default_environment_estimate() -> None:
    estimate = cost.estimate("t3.medium", "cache.t3.medium", 2)
    # EC2 0.0416 + 2 x Valkey (0.068 - 20%) + NAT 0.045 + one public IPv4 0.005
    # + 20 GiB gp3 (0.08/GiB-month) + 9 CloudWatch metrics (0.30/metric-month), per 730-hour month
    assert estimate.hourly == pytest.approx(HOST_EXTRAS + 0.0416 + 2 * 0.0544 + 0.045 + 0.005)
    assert estimate.hourly == pytest.approx(0.2063)  # the figure README's cost table shows
    assert estimate.monthly == pytest.approx(round(estimate.hourly * 730, 2))
    assert estimate.warnings == []


def test_unknown_types_and_other_regions() -> None:
    with pytest.raises(MigratorError, match=r"no price for EC2 instance type 'x9\.huge'") as err:
        cost.estimate("x9.huge", "cache.t3.medium", 2)
    assert err.value.code == Code.UNKNOWN_PRICE
    with pytest.raises(MigratorError) as err:
        cost.estimate("t3.medium", "cache.z1.tiny", 2)
    assert err.value.code == Code.UNKNOWN_PRICE and "cache.r6g.large" in err.value.hint
    assert cost.estimate("t3.medium", "cache.t3.medium", 2, "eu-west-1").warnings


def test_cli_cost_json_uses_flags_and_dates_the_prices() -> None:
    result = invoke(
        "cost", "--node-type", "cache.r6g.large", "--nodes", "3", "--instance-type", "c5.large", "-o", "json"
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["prices_as_of"] == cost.PRICES_AS_OF and document["currency"] == "USD"
    assert document["lines"][1] == {
        "item": "ElastiCache for Valkey cache.r6g.large",
        "quantity": 3,
        "unit_hourly": 0.1648,
        "hourly": 0.4944,
        "monthly": 360.91,
    }
    assert document["hourly"] == pytest.approx(HOST_EXTRAS + 0.085 + 0.4944 + 0.045 + 0.005)


def test_cli_cost_reads_the_workspace_outputs(tmp_path) -> None:
    Workspace(tmp_path / ".migrator").save(
        State(
            target_kind="aws",
            aws=AwsRecord(
                region="us-east-1",
                outputs={
                    "redis_instance_type": "c5.large",
                    "valkey_node_type": "cache.r6g.large",
                    "valkey_num_cache_clusters": 2,
                },
            ),
        )
    )
    text = invoke("cost").stdout
    assert "EC2 c5.large" in text and "cache.r6g.large" in text and "per month" in text


def test_a_cluster_costs_every_shard_s_nodes(tmp_path: Path) -> None:
    one = invoke("cost", "--node-type", "cache.r6g.large", "--nodes", "2", "-o", "json").json
    three = invoke(
        "cost", "--node-type", "cache.r6g.large", "--nodes", "2", "--shards", "3", "-o", "json"
    ).json
    assert (one["lines"][1]["quantity"], three["lines"][1]["quantity"]) == (2, 6)
    # After `up` of a 3-shard environment, its outputs say so without options.
    Workspace(tmp_path / ".migrator").save(
        State(
            target_kind="aws",
            aws=AwsRecord(
                region="us-east-1",
                outputs={"valkey_node_type": "cache.r6g.large", "valkey_num_cache_clusters": 2,
                         "valkey_num_node_groups": 3},
            ),
        )
    )  # fmt: skip
    assert invoke("cost", "-o", "json").json["lines"][1]["quantity"] == 6
