"""ElastiCache's side of preflight: the target group's settings, and its facts for the pair rules."""

from __future__ import annotations

import contextlib
from typing import Any

from migrator.aws.elasticache import ReplicationGroup
from migrator.errors import Code, MigratorError
from migrator.lifecycle.protocol import TargetView
from migrator.lifecycle.results import FAIL, OK, Check
from migrator.preflight import ServerFacts

RESERVED_MEMORY = 0.25  # default reserved-memory-percent: maxmemory is 75% of the node's memory


def describe_target(group_api: ReplicationGroup, target_url: str | None) -> TargetView:
    """Rows from DescribeReplicationGroups, and the target's facts as the pair rules need them."""
    try:
        group = group_api.latest()
    except MigratorError as err:
        if err.code != Code.GROUP_NOT_FOUND:
            raise
        return TargetView([Check("target_group", FAIL, err.message, err.hint)], None, fatal=True)
    members = group.get("MemberClusters") or []
    cluster = group_api.member(members[0]) if members else {}
    facts = ServerFacts(
        url=target_url or "",
        engine=str(group.get("Engine") or "valkey"),
        version=str(cluster.get("EngineVersion", "")),
        rdb_version=None,
        used_memory=0,
        maxmemory=_capacity(group, target_url),
        databases=group_api.databases(cluster),
        cluster_enabled=bool(group.get("ClusterEnabled")),
        role="primary",
        protected_mode=None,
    )
    return TargetView(group_checks(group), facts)


def _capacity(group: dict[str, Any], target_url: str | None) -> int:
    """maxmemory as the target reports it (through the tunnel), else from the node type's memory."""
    from migrator.aws.cost import node_memory_bytes
    from migrator.endpoints import connect

    if target_url:
        with contextlib.suppress(MigratorError):
            client = connect(target_url, "target")
            try:
                maxmemory = int(client.info("memory").get("maxmemory", 0))
            finally:
                client.close()
            if maxmemory:
                return maxmemory
    memory = node_memory_bytes(group.get("CacheNodeType", ""))
    return int(memory * (1 - RESERVED_MEMORY)) if memory else 0


def group_checks(group: dict[str, Any]) -> list[Check]:
    """The target's control-plane requirements for online migration, from DescribeReplicationGroups."""
    gid = group.get("ReplicationGroupId", "?")
    status = group.get("Status", "")
    recreate = "set it in terraform/ and re-create the group (`migrator up --target aws`)"
    rows = [
        Check(
            "target_group",
            OK if status == "available" else FAIL,
            f"{gid} is {status}",
            "" if status == "available" else "wait until it is available (`migrator migrate status`)",
        )
    ]
    engine = group.get("Engine", "")
    rows.append(
        Check(
            "target_engine",
            OK if engine in ("valkey", "") else FAIL,
            f"engine {engine or 'not reported (assumed valkey)'}",
            "" if engine in ("valkey", "") else "create the target with engine valkey",
        )
    )
    for key, label in (("TransitEncryptionEnabled", "in-transit"), ("AtRestEncryptionEnabled", "at-rest")):
        on = bool(group.get(key))
        rows.append(
            Check(
                f"encryption_{label.replace('-', '_')}",
                FAIL if on else OK,
                f"{label} encryption {'on' if on else 'off'}",
                f"online migration needs {label} encryption off; {recreate}" if on else "",
            )
        )
    multi_az = group.get("MultiAZ", "disabled")
    rows.append(
        Check(
            "multi_az",
            OK if multi_az == "enabled" else FAIL,
            f"Multi-AZ {multi_az}",
            "" if multi_az == "enabled" else f"enable Multi-AZ with automatic failover; {recreate}",
        )
    )
    global_id = (group.get("GlobalReplicationGroupInfo") or {}).get("GlobalReplicationGroupId")
    rows.append(
        Check(
            "global_datastore",
            FAIL if global_id else OK,
            f"member of global datastore {global_id}" if global_id else "not in a global datastore",
            "remove the group from the global datastore first" if global_id else "",
        )
    )
    tiering = group.get("DataTiering", "disabled")
    rows.append(
        Check(
            "data_tiering",
            FAIL if tiering == "enabled" else OK,
            f"data tiering {tiering}",
            f"online migration does not support data tiering; {recreate}" if tiering == "enabled" else "",
        )
    )
    node_type = group.get("CacheNodeType", "")
    r6gd = node_type.startswith("cache.r6gd.")
    rows.append(
        Check(
            "node_type",
            FAIL if r6gd else OK,
            f"node type {node_type or '?'}",
            f"r6gd (data tiering) nodes are not supported; pick another node type; {recreate}"
            if r6gd
            else "",
        )
    )
    return rows
