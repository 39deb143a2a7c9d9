"""The ElastiCache life cycle: Stubber (botocore's real model) for the migration APIs and every error code."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import ANY
from typer.testing import CliRunner

from migrator.aws import clients, migration
from migrator.aws.migration import AwsMigration, group_checks
from migrator.cli import app
from migrator.errors import MigratorError
from migrator.lifecycle import FAIL, OK
from migrator.state import State, Workspace
from tests.fake_terraform.fixtures import OUTPUT_VALUES, stubbed

__all__ = ["stubbed"]

Stub = Callable[[str], Any]
GROUP = "migrator"
SOURCE = [{"Address": "10.0.2.15", "Port": 6379}]
NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A workspace as `migrator up --target aws` leaves it; polls do not sleep."""
    monkeypatch.setattr(migration, "POLL_SECONDS", 0.0)
    workspace = Workspace(tmp_path / ".migrator")
    workspace.save(
        State(
            target_kind="aws",
            aws={
                "region": "us-east-1",
                "outputs": dict(OUTPUT_VALUES),
                "terraform_dir": str(tmp_path / "tf"),
            },
        )
    )
    return workspace


def backend(ws: Workspace) -> AwsMigration:
    return AwsMigration(ws, ws.require())


def group(status: str = "available", **overrides: Any) -> dict[str, Any]:
    """A DescribeReplicationGroups entry shaped like the module's target (valkey, 2 nodes, Multi-AZ)."""
    return {
        "ReplicationGroupId": GROUP,
        "Status": status,
        "Engine": "valkey",
        "CacheNodeType": "cache.t3.medium",
        "MemberClusters": ["migrator-001", "migrator-002"],
        "ClusterEnabled": False,
        "MultiAZ": "enabled",
        "AutomaticFailover": "enabled",
        "TransitEncryptionEnabled": False,
        "AtRestEncryptionEnabled": False,
        "DataTiering": "disabled",
        "NodeGroups": [
            {
                "NodeGroupId": "0001",
                "NodeGroupMembers": [
                    {"CacheClusterId": "migrator-001", "CurrentRole": "primary"},
                    {"CacheClusterId": "migrator-002", "CurrentRole": "replica"},
                ],
            }
        ],
        **overrides,
    }


def describe(stub: Any, status: str = "available", **overrides: Any) -> None:
    stub.add_response(
        "describe_replication_groups",
        {"ReplicationGroups": [group(status, **overrides)]},
        {"ReplicationGroupId": GROUP},
    )


def events(stub: Any, *messages: str) -> None:
    stub.add_response(
        "describe_events",
        {
            "Events": [
                {
                    "SourceIdentifier": GROUP,
                    "SourceType": "replication-group",
                    "Message": m,
                    "Date": NOW + dt.timedelta(seconds=i),
                }
                for i, m in enumerate(messages)
            ]
        },
        {"SourceIdentifier": GROUP, "SourceType": "replication-group", "StartTime": ANY},
    )


def metrics(stub: Any, link_health: float | None = None) -> None:
    results = [
        {"Id": f"m{i}_{j}", "Label": "x", "StatusCode": "Complete", "Timestamps": [], "Values": []}
        for i in range(2)
        for j in range(3)
    ]
    if link_health is not None:
        results[0].update(
            Timestamps=[NOW], Values=[link_health]
        )  # m0_0: PrimaryLinkHealthStatus on the primary
    stub.add_response(
        "get_metric_data",
        {"MetricDataResults": results},
        {"MetricDataQueries": ANY, "StartTime": ANY, "EndTime": ANY, "ScanBy": "TimestampDescending"},
    )


# ---- start ----------


def expect_start_migration(ec: Any) -> None:
    """StartMigration must be called with exactly the group and the Redis host from the outputs."""
    ec.add_response(
        "start_migration",
        {"ReplicationGroup": group("modifying")},
        {"ReplicationGroupId": GROUP, "CustomerNodeEndpointList": SOURCE},
    )


def test_start_calls_start_migration_with_the_source_host(ws: Workspace, stubbed: Stub) -> None:
    ec = stubbed("elasticache")
    expect_start_migration(ec)
    result = backend(ws).start()
    assert (result.state, result.waited) == ("migrating", False)
    assert "10.0.2.15:6379" in result.message and "modifying" in result.message
    state = ws.require()
    assert state.migration_state == "migrating"
    assert "StartMigration requested" in state.events[-1]["message"]


def test_start_wait_returns_once_the_group_is_migrating(ws: Workspace, stubbed: Stub) -> None:
    ec = stubbed("elasticache")
    expect_start_migration(ec)
    describe(ec, "modifying")
    events(ec)
    describe(ec, "migrating")
    events(ec, "Migration started for replication group migrator")
    result = backend(ws).start(wait=True, timeout=30)
    assert result.state == "migrating" and result.waited
    assert "open `migrator tunnel`" in result.message


def test_start_wait_reports_the_failure_event(ws: Workspace, stubbed: Stub) -> None:
    ec = stubbed("elasticache")
    expect_start_migration(ec)
    describe(ec, "modifying")
    events(ec)
    describe(ec, "available")
    events(ec, "Failed to start migration: unable to connect to 10.0.2.15:6379")
    with pytest.raises(MigratorError) as err:
        backend(ws).start(wait=True, timeout=30)
    assert err.value.code == "MigrationFailed"
    assert (
        err.value.message
        == "StartMigration failed: Failed to start migration: unable to connect to 10.0.2.15:6379"
    )
    state = ws.require()
    assert state.migration_state == "available" and "StartMigration failed" in state.events[-1]["message"]


def test_start_wait_times_out(ws: Workspace, stubbed: Stub) -> None:
    ec = stubbed("elasticache")
    expect_start_migration(ec)
    describe(ec, "modifying")
    events(ec)
    with pytest.raises(MigratorError, match=r"not established within 0s \(group status modifying\)"):
        backend(ws).start(wait=True, timeout=0)


def test_test_first_runs_test_migration_and_stops_on_its_failure(ws: Workspace, stubbed: Stub) -> None:
    ec = stubbed("elasticache")
    ec.add_response(
        "test_migration",
        {"ReplicationGroup": group("modifying")},
        {"ReplicationGroupId": GROUP, "CustomerNodeEndpointList": SOURCE},
    )
    events(ec)  # nothing yet: keep polling
    events(ec, "Test migration failed: source has AUTH enabled")
    describe(ec, "available")
    with pytest.raises(MigratorError, match="TestMigration failed: Test migration failed: source has AUTH"):
        backend(ws).start(test_first=True)


def test_test_first_then_start(ws: Workspace, stubbed: Stub) -> None:
    ec = stubbed("elasticache")
    ec.add_response(
        "test_migration",
        {"ReplicationGroup": group("modifying")},
        {"ReplicationGroupId": GROUP, "CustomerNodeEndpointList": SOURCE},
    )
    events(ec, "Test migration completed for replication group migrator")
    describe(ec, "available")
    expect_start_migration(ec)
    assert backend(ws).start(test_first=True).state == "migrating"


# ---- errors ----------
ERROR_CASES = [
    ("ReplicationGroupNotFoundFault", 404, "not found in region us-east-1", "searched us-east-1"),
    (
        "InvalidReplicationGroupState",
        400,
        "not in a state that allows StartMigration",
        "wait until it is available",
    ),
    (
        "ReplicationGroupAlreadyUnderMigrationFault",
        400,
        "already under migration",
        "migrator migrate complete",
    ),
    ("InvalidParameterValue", 400, "rejected a parameter of StartMigration", "redis_private_ip"),
    ("InvalidParameterCombination", 400, "rejected the parameters", "migrator migrate preflight"),
    ("InvalidCacheClusterState", 400, "node of 'migrator' is not available", "wait until every node"),
    ("MigrationHealthFault", 400, "judged the source unhealthy", "protected-mode no"),
    (
        "ThrottlingException",
        400,
        "AWS throttled StartMigration in us-east-1 even after retries",
        "wait a minute",
    ),
    ("AccessDeniedException", 403, "not allowed to call StartMigration", "IAM"),
    ("ExpiredToken", 403, "AWS rejected the credentials", "aws sso login"),
]


@pytest.mark.parametrize(("code", "http", "message", "hint"), ERROR_CASES)
def test_start_errors_are_one_line_with_the_fix(
    ws: Workspace, stubbed: Stub, code: str, http: int, message: str, hint: str
) -> None:
    stubbed("elasticache").add_client_error(
        "start_migration", service_error_code=code, http_status_code=http, service_message="detail from AWS"
    )
    with pytest.raises(MigratorError) as err:
        backend(ws).start()
    assert err.value.code == code
    assert message in err.value.message and hint in err.value.hint
    assert "\n" not in err.value.one_line()
    assert ws.require().migration_state == "available"


def test_complete_when_not_migrating(ws: Workspace, stubbed: Stub) -> None:
    ec = stubbed("elasticache")
    describe(ec, "available")
    metrics(stubbed("cloudwatch"))
    ec.add_response(
        "describe_events",
        {"Events": []},
        {"SourceIdentifier": GROUP, "SourceType": "replication-group", "Duration": 180},
    )
    ec.add_client_error(
        "complete_migration",
        service_error_code="ReplicationGroupNotUnderMigrationFault",
        http_status_code=400,
    )
    with pytest.raises(MigratorError) as err:
        backend(ws).complete()
    assert err.value.code == "ReplicationGroupNotUnderMigrationFault"
    assert "migrator migrate start" in err.value.hint


def test_no_credentials(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(MigratorError) as err:
        backend(ws).start()
    assert err.value.code == "NoCredentials" and "aws configure" in err.value.hint


def test_clients_use_standard_retry_mode() -> None:
    client = clients.make_client("elasticache", "us-east-1")
    assert client.meta.config.retries["mode"] == "standard"
    assert client.meta.config.retries["total_max_attempts"] == 8


def test_throttling_is_retried_with_backoff(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real HTTP endpoint (AWS_ENDPOINT_URL) throttles twice, then answers: standard mode retries."""
    import http.server
    import threading

    answers = [400, 400, 200]
    seen: list[int] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            status = answers[len(seen)]
            seen.append(status)
            body = (
                b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded"
                b"</Message></Error><RequestId>1</RequestId></ErrorResponse>"
                if status == 400
                else b"<StartMigrationResponse><StartMigrationResult><ReplicationGroup>"
                b"<ReplicationGroupId>migrator"
                b"</ReplicationGroupId><Status>modifying</Status></ReplicationGroup></StartMigrationResult>"
                b"</StartMigrationResponse>"
            )
            self.send_response(status)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_address[1]}")
    try:
        assert backend(ws).start().state == "migrating"
    finally:
        server.shutdown()
    assert seen == [400, 400, 200]


# ---- status ----------
def test_status_from_group_events_and_cloudwatch(ws: Workspace, stubbed: Stub) -> None:
    ec = stubbed("elasticache")
    describe(ec, "migrating")
    metrics(stubbed("cloudwatch"), link_health=1.0)
    ec.add_response(
        "describe_events",
        {
            "Events": [
                {
                    "SourceIdentifier": GROUP,
                    "SourceType": "replication-group",
                    "Message": "Migration started",
                    "Date": NOW,
                }
            ]
        },
        {"SourceIdentifier": GROUP, "SourceType": "replication-group", "Duration": 180},
    )
    status = backend(ws).status()
    assert status.state == "migrating"
    assert status.link is not None and status.link.master_link_status == "up"
    assert status.events == [{"date": NOW.isoformat(), "message": "Migration started"}]
    assert status.details["group_status"] == "migrating"
    assert status.details["metrics"] == {"migrator-001": {"PrimaryLinkHealthStatus": 1.0}}
    assert status.details["link_from"] == "cloudwatch"
    assert ws.require().migration_state == "migrating"  # learned from ElastiCache


def test_status_with_moto_and_cloudwatch_metrics(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto implements DescribeReplicationGroups and GetMetricData; the migration calls need the Stubber."""
    import boto3
    from moto import mock_aws

    monkeypatch.setattr(AwsMigration, "_events", lambda self, **_: [])  # moto has no DescribeEvents

    with mock_aws():
        ec = boto3.client("elasticache", region_name="us-east-1")
        ec.create_replication_group(
            ReplicationGroupId=GROUP,
            ReplicationGroupDescription="t",
            Engine="valkey",
            CacheNodeType="cache.t3.medium",
            NumCacheClusters=2,
        )
        boto3.client("cloudwatch", region_name="us-east-1").put_metric_data(
            Namespace="AWS/ElastiCache",
            MetricData=[
                {
                    "MetricName": "PrimaryLinkHealthStatus",
                    "Value": 0.0,
                    "Dimensions": [{"Name": "CacheClusterId", "Value": "migrator-001"}],
                }
            ],
        )
        status = backend(ws).status()
    assert status.state == "available"
    assert status.link is not None and status.link.master_link_status == "down"


# ---- complete ----------
def _complete_prelude(ec: Any, cw: Any, link_health: float | None) -> None:
    describe(ec, "migrating")
    metrics(cw, link_health)
    ec.add_response(
        "describe_events",
        {"Events": []},
        {"SourceIdentifier": GROUP, "SourceType": "replication-group", "Duration": 180},
    )


def test_complete_waits_for_available_and_the_success_event(ws: Workspace, stubbed: Stub) -> None:
    ec, cw = stubbed("elasticache"), stubbed("cloudwatch")
    _complete_prelude(ec, cw, 1.0)
    ec.add_response(
        "complete_migration",
        {"ReplicationGroup": group("modifying")},
        {"ReplicationGroupId": GROUP, "Force": False},
    )
    describe(ec, "available")  # the replication_group_available waiter
    events(ec, "Complete Migration successful for migrator")
    result = backend(ws).complete()
    assert result.state == "available" and not result.forced and result.caught_up
    assert result.message == "Complete Migration successful for migrator"
    assert result.warnings == [
        "no tunnel: the catch-up check is left to ElastiCache (CompleteMigration without Force)"
    ]
    assert ws.require().migration_state == "available"


def test_complete_refuses_when_the_link_is_down(ws: Workspace, stubbed: Stub) -> None:
    _complete_prelude(stubbed("elasticache"), stubbed("cloudwatch"), 0.0)
    with pytest.raises(MigratorError) as err:
        backend(ws).complete()
    assert err.value.code == "LinkDown" and "--force" in err.value.hint


def test_complete_force_skips_the_check(ws: Workspace, stubbed: Stub) -> None:
    ec, cw = stubbed("elasticache"), stubbed("cloudwatch")
    _complete_prelude(ec, cw, 0.0)
    ec.add_response(
        "complete_migration",
        {"ReplicationGroup": group("modifying")},
        {"ReplicationGroupId": GROUP, "Force": True},
    )
    result = backend(ws).complete(force=True, wait=False)
    assert result.forced and result.state == "migrating"


def test_complete_that_never_finishes_reports_the_event(
    ws: Workspace, stubbed: Stub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(migration, "COMPLETE_WAIT_SECONDS", 2.0)
    ec, cw = stubbed("elasticache"), stubbed("cloudwatch")
    _complete_prelude(ec, cw, 1.0)
    ec.add_response(
        "complete_migration",
        {"ReplicationGroup": group("migrating")},
        {"ReplicationGroupId": GROUP, "Force": False},
    )
    describe(ec, "migrating")
    describe(ec, "migrating")
    events(ec, "Complete Migration failed for migrator: replication is not in sync")
    with pytest.raises(MigratorError) as err:
        backend(ws).complete()
    assert err.value.code == "CompleteFailed"
    assert "replication is not in sync" in err.value.message


def test_pause_writes_needs_the_tunnel(ws: Workspace, stubbed: Stub) -> None:
    _complete_prelude(stubbed("elasticache"), stubbed("cloudwatch"), 1.0)
    with pytest.raises(MigratorError, match="--pause-writes needs the source reachable"):
        backend(ws).complete(pause_writes=True)


# ---- preflight (control plane) ----------
def test_group_checks_all_ok_for_the_module_target() -> None:
    rows = group_checks(group())
    assert [r.status for r in rows] == [OK] * len(rows)
    assert [r.name for r in rows] == [
        "target_group",
        "target_engine",
        "encryption_in_transit",
        "encryption_at_rest",
        "multi_az",
        "cluster_mode",
        "global_datastore",
        "data_tiering",
        "node_type",
    ]


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        ({"Status": "modifying"}, "target_group"),
        ({"Engine": "redis"}, "target_engine"),
        ({"TransitEncryptionEnabled": True}, "encryption_in_transit"),
        ({"AtRestEncryptionEnabled": True}, "encryption_at_rest"),
        ({"MultiAZ": "disabled"}, "multi_az"),
        ({"ClusterEnabled": True}, "cluster_mode"),
        ({"NodeGroups": [{"NodeGroupId": "1"}, {"NodeGroupId": "2"}]}, "cluster_mode"),
        ({"GlobalReplicationGroupInfo": {"GlobalReplicationGroupId": "ldgnf-global"}}, "global_datastore"),
        ({"DataTiering": "enabled"}, "data_tiering"),
        ({"CacheNodeType": "cache.r6gd.xlarge"}, "node_type"),
    ],
)
def test_group_checks_find_each_planted_fault(fault: dict[str, Any], check: str) -> None:
    rows = {r.name: r for r in group_checks(group(**fault))}
    assert rows[check].status == FAIL and rows[check].fix
    assert [name for name, r in rows.items() if r.status == FAIL] == [check]


def test_preflight_without_tunnel_reports_control_plane_and_says_how_to_check_the_source(
    ws: Workspace, stubbed: Stub
) -> None:
    ec = stubbed("elasticache")
    describe(ec)
    ec.add_response(
        "describe_cache_clusters",
        {
            "CacheClusters": [
                {
                    "CacheClusterId": "migrator-001",
                    "EngineVersion": "8.2",
                    "CacheParameterGroup": {"CacheParameterGroupName": "default.valkey8"},
                }
            ]
        },
        {"CacheClusterId": "migrator-001"},
    )
    report = backend(ws).preflight()
    assert report.ok
    assert report.checks[-1].name == "source_reachable" and "migrator tunnel" in report.checks[-1].fix
    assert report.source == "redis://10.0.2.15:6379"


def test_preflight_when_the_group_does_not_exist(ws: Workspace, stubbed: Stub) -> None:
    stubbed("elasticache").add_client_error(
        "describe_replication_groups", "ReplicationGroupNotFoundFault", http_status_code=404
    )
    report = backend(ws).preflight()
    assert not report.ok
    assert (
        report.checks[0].name == "target_group" and "not found in region us-east-1" in report.checks[0].detail
    )


def test_migrate_commands_through_the_cli(
    ws: Workspace, stubbed: Stub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIGRATOR_WORKSPACE", str(ws.path))
    ec = stubbed("elasticache")
    expect_start_migration(ec)
    result = CliRunner().invoke(app, ["migrate", "start", "-o", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["state"] == "migrating"

    ec.add_client_error("start_migration", "ReplicationGroupAlreadyUnderMigrationFault")
    result = CliRunner().invoke(app, ["migrate", "start", "-o", "json"], catch_exceptions=False)
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["code"] == "ReplicationGroupAlreadyUnderMigrationFault"
    assert result.stderr.count("\n") == 1
