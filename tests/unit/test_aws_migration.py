"""The ElastiCache life cycle without a tunnel: the engine's rules over the simulated service (real model).

Every client is botocore's, built from the real ElastiCache and CloudWatch models; the simulated service
(tests/aws_sim.py) answers with ElastiCache's documented state machine, so a wrong parameter fails in
botocore's validation and each response is checked against the operation's output shape.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from migrator.aws import migration
from migrator.aws.preflight import group_checks
from migrator.errors import Code, MigratorError
from migrator.lifecycle.engine import Migration
from migrator.lifecycle.registry import migration as migration_for
from migrator.lifecycle.results import FAIL, OK
from migrator.state import AwsRecord, State, Workspace
from tests.helpers.aws import OUTPUT_VALUES
from tests.helpers.aws_sim import SimulatedElastiCache, install
from tests.helpers.cli import invoke

SOURCE = [{"Address": "10.0.2.15", "Port": 6379}]


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A workspace as `migrator up --target aws` leaves it; polls do not sleep."""
    monkeypatch.setattr(migration, "POLL_SECONDS", 0.0)
    workspace = Workspace(tmp_path / ".migrator")
    workspace.save(
        State(
            target_kind="aws",
            aws=AwsRecord(
                region="us-east-1", outputs=dict(OUTPUT_VALUES), terraform_dir=str(tmp_path / "tf")
            ),
        )
    )
    return workspace


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> SimulatedElastiCache:
    return install(monkeypatch, SimulatedElastiCache())


def engine(ws: Workspace) -> Migration:
    return migration_for(ws)


# ---- start ----------
def test_start_calls_start_migration_with_the_source_host(
    ws: Workspace, service: SimulatedElastiCache
) -> None:
    result = engine(ws).start()
    assert (result.state, result.waited) == ("migrating", False)
    assert "10.0.2.15:6379" in result.message and "modifying" in result.message
    starts = [params for name, params in service.calls if name == "StartMigration"]
    assert starts == [{"ReplicationGroupId": "migrator", "CustomerNodeEndpointList": SOURCE}]
    state = ws.require()
    assert state.migration_state == "migrating"
    assert state.events[-1]["message"].startswith("Migration started: ElastiCache replicates 10.0.2.15:6379")


def test_start_runs_preflight_first_and_refuses_a_failed_row(
    ws: Workspace, service: SimulatedElastiCache
) -> None:
    service.group_overrides = {"TransitEncryptionEnabled": True}
    with pytest.raises(MigratorError) as err:
        engine(ws).start()
    assert err.value.code == Code.PREFLIGHT_FAILED and "encryption_in_transit" in err.value.message
    assert "StartMigration" not in service.names()
    assert ws.require().migration_state == "available"


def test_start_wait_returns_once_the_group_is_migrating(ws: Workspace, service: SimulatedElastiCache) -> None:
    service.settle_polls = 3
    result = engine(ws).start(wait=True, timeout=30)
    assert result.state == "migrating" and result.waited and result.link is None
    assert "open `migrator tunnel`" in result.message


def test_start_wait_reports_the_failure_event(ws: Workspace, service: SimulatedElastiCache) -> None:
    service.start_failure = "unable to connect to 10.0.2.15:6379"
    with pytest.raises(MigratorError) as err:
        engine(ws).start(wait=True, timeout=30)
    assert err.value.code == Code.MIGRATION_FAILED
    assert err.value.message == (
        "StartMigration failed: Failed to start migration for replication group migrator: "
        "unable to connect to 10.0.2.15:6379"
    )
    state = ws.require()
    assert state.migration_state == "available"
    assert state.events[-1]["message"].startswith("Failed to start migration: StartMigration failed")


def test_start_wait_times_out_and_the_migration_goes_on(ws: Workspace, service: SimulatedElastiCache) -> None:
    service.settle_polls = 10_000
    with pytest.raises(MigratorError, match=r"not established within 0s \(the target is pending\)") as err:
        engine(ws).start(wait=True, timeout=0)
    assert err.value.code == Code.MIGRATION_TIMEOUT
    assert ws.require().migration_state == "migrating"


def test_test_first_stops_on_the_migration_event_that_says_it_failed(
    ws: Workspace, service: SimulatedElastiCache
) -> None:
    service.emit("Snapshot succeeded for an unrelated cluster")  # not about migration: ignored
    service.test_failure = "source has AUTH enabled"
    with pytest.raises(MigratorError) as err:
        engine(ws).start(test_first=True)
    assert err.value.code == Code.TEST_FAILED and "source has AUTH enabled" in err.value.message
    assert "StartMigration" not in service.names()


def test_test_first_then_start_records_what_the_test_found(
    ws: Workspace, service: SimulatedElastiCache
) -> None:
    result = engine(ws).start(test_first=True)
    assert result.state == "migrating"
    assert result.test_result == "Test Migration successful for replication group migrator"
    assert service.names().index("TestMigration") < service.names().index("StartMigration")
    assert any("Test migration succeeded" in e["message"] for e in ws.require().events)


def test_start_when_the_group_is_already_migrating(ws: Workspace, service: SimulatedElastiCache) -> None:
    service.status = "migrating"
    with pytest.raises(MigratorError) as err:
        engine(ws).start()
    assert err.value.code == Code.ALREADY_MIGRATING
    assert "StartMigration" not in service.names()
    assert ws.require().migration_state == "migrating"  # learned from ElastiCache


# ---- errors ----------
ERROR_CASES = [
    ("ReplicationGroupNotFoundFault", 404, Code.GROUP_NOT_FOUND, "not found in region us-east-1", "searched"),
    (
        "InvalidReplicationGroupState",
        400,
        Code.INVALID_STATE,
        "not in a state that allows StartMigration",
        "wait until it is available",
    ),
    (
        "ReplicationGroupAlreadyUnderMigrationFault",
        400,
        Code.ALREADY_MIGRATING,
        "already under migration",
        "migrator migrate complete",
    ),
    ("InvalidParameterValue", 400, Code.INVALID_PARAMETER, "rejected a parameter", "redis_private_ip"),
    ("InvalidParameterCombination", 400, Code.INVALID_COMBINATION, "rejected the parameters", "preflight"),
    ("InvalidCacheClusterState", 400, Code.INVALID_CLUSTER_STATE, "node of 'migrator'", "every node"),
    ("MigrationHealthFault", 400, Code.MIGRATION_HEALTH, "judged the source unhealthy", "protected-mode no"),
    ("ThrottlingException", 400, Code.THROTTLED, "AWS throttled StartMigration", "wait a minute"),
    ("AccessDeniedException", 403, Code.ACCESS_DENIED, "not allowed to call StartMigration", "IAM"),
    ("ExpiredToken", 403, Code.BAD_CREDENTIALS, "AWS rejected the credentials", "aws sso login"),
    (
        "SomethingNew",
        400,
        Code.AWS_ERROR,
        "StartMigration failed in us-east-1: SomethingNew",
        "documentation",
    ),
]


@pytest.mark.parametrize(("aws_code", "http", "code", "message", "hint"), ERROR_CASES)
def test_start_errors_are_one_line_with_the_fix(
    ws: Workspace,
    service: SimulatedElastiCache,
    aws_code: str,
    http: int,
    code: Code,
    message: str,
    hint: str,
) -> None:
    service.fail_next("StartMigration", aws_code, http, "detail from AWS")
    with pytest.raises(MigratorError) as err:
        engine(ws).start()
    assert err.value.code == code
    assert message in err.value.message and hint in err.value.hint
    assert "\n" not in err.value.one_line()
    assert ws.require().migration_state == "available"


def test_no_credentials(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(MigratorError) as err:
        engine(ws).start()
    assert err.value.code == Code.NO_CREDENTIALS and "aws configure" in err.value.hint


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
                else b"<DescribeReplicationGroupsResponse><DescribeReplicationGroupsResult>"
                b"<ReplicationGroups><ReplicationGroup><ReplicationGroupId>migrator</ReplicationGroupId>"
                b"<Status>available</Status></ReplicationGroup></ReplicationGroups>"
                b"</DescribeReplicationGroupsResult>"
                b"</DescribeReplicationGroupsResponse>"
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
        assert engine(ws).current_state() == "available"
    finally:
        server.shutdown()
    assert seen == [400, 400, 200]


# ---- status ----------
def test_status_from_the_group_its_events_and_cloudwatch(
    ws: Workspace, service: SimulatedElastiCache
) -> None:
    service.status = "migrating"
    service.emit("Migration started for replication group migrator")
    status = engine(ws).status()
    assert status.state == "migrating"
    assert status.link is not None and status.link.master_link_status == "up"
    assert [e["message"] for e in status.events] == ["Migration started for replication group migrator"]
    details = status.details
    assert details is not None
    assert (details.group_id, details.group_status, details.link_from) == (
        "migrator",
        "migrating",
        "cloudwatch",
    )
    assert details.metrics == {"migrator-001": {"PrimaryLinkHealthStatus": 1.0}}
    assert details.source_endpoint == "10.0.2.15:6379" and details.primary_cluster == "migrator-001"
    assert ws.require().migration_state == "migrating"  # learned from ElastiCache


def test_status_with_moto_and_cloudwatch_metrics(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, moto: None
) -> None:
    """moto implements DescribeReplicationGroups and GetMetricData; its DescribeEvents answers nothing."""
    import boto3

    from migrator.aws.migration import AwsBackend

    monkeypatch.setattr(AwsBackend, "events", lambda self: [])  # moto has no DescribeEvents
    ec = boto3.client("elasticache", region_name="us-east-1")
    ec.create_replication_group(
        ReplicationGroupId="migrator",
        ReplicationGroupDescription="t",
        Engine="valkey",
        CacheNodeType="cache.t3.medium",
        NumCacheClusters=2,
    )
    ws.update(lambda s: setattr(s, "migration_state", "migrating"))
    status = engine(ws).status()
    # moto's group is `available`: ElastiCache is the truth, so the workspace follows it.
    assert status.state == "available" and ws.require().migration_state == "available"
    assert status.details is not None and status.details.group_status == "available"


# ---- complete ----------
def test_complete_without_a_tunnel_leaves_the_in_sync_check_to_elasticache(
    ws: Workspace, service: SimulatedElastiCache
) -> None:
    service.status = "migrating"
    result = engine(ws).complete()
    assert result.state == "available" and not result.forced and result.caught_up is True
    assert result.message == "Complete Migration successful for migrator"
    assert result.warnings[0].startswith("no data-plane path: the catch-up check is left to ElastiCache")
    assert [p for n, p in service.calls if n == "CompleteMigration"] == [
        {"ReplicationGroupId": "migrator", "Force": False}
    ]
    assert ws.require().migration_state == "available"


def test_complete_refuses_when_cloudwatch_says_the_link_is_down(
    ws: Workspace, service: SimulatedElastiCache
) -> None:
    service.status, service.link_health = "migrating", 0.0
    with pytest.raises(MigratorError) as err:
        engine(ws).complete()
    assert err.value.code == Code.LINK_DOWN and "--force" in err.value.hint
    assert "CompleteMigration" not in service.names()


def test_complete_refuses_when_nothing_tells_the_link(ws: Workspace, service: SimulatedElastiCache) -> None:
    service.status = "migrating"
    service.link_health = None
    service.group_overrides = {"NodeGroups": []}  # no primary to read PrimaryLinkHealthStatus for
    service.group_overrides["MemberClusters"] = []
    with pytest.raises(MigratorError) as err:
        engine(ws).complete()
    assert err.value.code == Code.LINK_UNKNOWN and "migrator tunnel" in err.value.hint


def test_complete_force_says_what_force_means(ws: Workspace, service: SimulatedElastiCache) -> None:
    service.status, service.link_health, service.settle_polls = "migrating", 0.0, 5
    result = engine(ws).complete(force=True, wait=False)
    assert result.forced and result.caught_up is False and result.state == "migrating"
    assert "without ensuring the data is in sync" in result.warnings[0]
    assert "link down; the lag is unknown without a data-plane path" in result.warnings[0]
    assert [p for n, p in service.calls if n == "CompleteMigration"] == [
        {"ReplicationGroupId": "migrator", "Force": True}
    ]


def test_a_failure_event_stops_the_wait_with_its_text(ws: Workspace, service: SimulatedElastiCache) -> None:
    service.status = "migrating"
    service.complete_failure = "replication is not in sync"
    with pytest.raises(MigratorError) as err:
        engine(ws).complete()
    assert err.value.code == Code.COMPLETE_FAILED
    assert "replication is not in sync" in err.value.message
    state = ws.require()
    assert state.migration_state == "migrating"
    assert state.events[-1]["message"].startswith("Complete migration failed: CompleteMigration failed")


def test_pause_writes_needs_the_data_plane(ws: Workspace, service: SimulatedElastiCache) -> None:
    service.status = "migrating"
    with pytest.raises(MigratorError) as err:
        engine(ws).complete(pause_writes=True)
    assert err.value.code == Code.DATA_PLANE_REQUIRED
    assert "CompleteMigration" not in service.names()


def test_complete_when_not_migrating_is_refused_before_the_link_is_read(
    ws: Workspace, service: SimulatedElastiCache
) -> None:
    with pytest.raises(MigratorError) as err:
        engine(ws).complete()
    assert err.value.code == Code.NOT_MIGRATING
    assert service.names() == ["DescribeReplicationGroups"]


# ---- preflight (control plane) ----------
def test_group_checks_all_ok_for_the_module_target() -> None:
    rows = group_checks(SimulatedElastiCache().group())
    assert [r.status for r in rows] == [OK] * len(rows)
    assert [r.name for r in rows] == [
        "target_group",
        "target_engine",
        "encryption_in_transit",
        "encryption_at_rest",
        "multi_az",
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
        ({"GlobalReplicationGroupInfo": {"GlobalReplicationGroupId": "ldgnf-global"}}, "global_datastore"),
        ({"DataTiering": "enabled"}, "data_tiering"),
        ({"CacheNodeType": "cache.r6gd.xlarge"}, "node_type"),
    ],
)
def test_group_checks_find_each_planted_fault(fault: dict[str, Any], check: str) -> None:
    service = SimulatedElastiCache(group_overrides=fault)
    rows = {r.name: r for r in group_checks(service.group())}
    assert rows[check].status == FAIL and rows[check].fix
    assert [name for name, r in rows.items() if r.status == FAIL] == [check]


def test_preflight_without_tunnel_reports_control_plane_and_says_how_to_check_the_source(
    ws: Workspace, service: SimulatedElastiCache
) -> None:
    report = engine(ws).preflight()
    assert report.ok
    assert report.checks[0].name == "target_state"
    assert report.checks[-1].name == "source_reachable" and "migrator tunnel" in report.checks[-1].fix
    assert report.source == "redis://10.0.2.15:6379"


def test_preflight_when_the_group_does_not_exist(ws: Workspace, service: SimulatedElastiCache) -> None:
    service.group_id = "someone-else"
    report = engine(ws).preflight()
    assert not report.ok
    assert [c.name for c in report.checks] == ["target_group"]
    assert "not found in region us-east-1" in report.checks[0].detail


def test_migrate_commands_through_the_cli(
    ws: Workspace, service: SimulatedElastiCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIGRATOR_WORKSPACE", str(ws.path))
    result = invoke("migrate", "start", "-o", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["state"] == "migrating"

    service.status = "migrating"
    result = invoke("migrate", "start", "-o", "json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["code"] == "ReplicationGroupAlreadyUnderMigrationFault"
    assert result.stderr.count("\n") == 1
