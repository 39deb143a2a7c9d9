"""Data-plane preflight checks shared by both targets: is this source/target pair ready to migrate?

Each check is a row (ok/warn/fail + fix). The AWS backend adds control-plane rows from
DescribeReplicationGroups; everything that needs a connection to a server lives here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from migrator.endpoints import README_PREREQS, connect, parse_url
from migrator.errors import Code, MigratorError
from migrator.lifecycle.results import FAIL, OK, WARN, Check

if TYPE_CHECKING:
    import redis

# Commands ElastiCache's online migration (and REPLICAOF) needs on the source.
REQUIRED_COMMANDS = ("sync", "psync", "info", "config", "command", "cluster")
MEMORY_HEADROOM = 1.2


@dataclass
class ServerFacts:
    url: str
    engine: str  # "redis" | "valkey"
    version: str
    rdb_version: int | None
    used_memory: int
    maxmemory: int
    databases: int | None
    cluster_enabled: bool
    role: str
    protected_mode: str | None


SourceFacts = ServerFacts


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def rdb_version_written(engine: str, version: str) -> int | None:
    """The RDB format a server version writes (Redis 7.0: 10, 7.2: 11, 7.4+: 12; Valkey 7.2–8.x: 11)."""
    v = _version_tuple(version)
    if engine == "valkey":
        return 11 if v >= (7, 2) else None
    if v >= (7, 4):
        return 12
    if v >= (7, 2):
        return 11
    if v >= (7, 0):
        return 10
    if v >= (5, 0):
        return 9
    return None


def rdb_version_readable(target_engine_version: str) -> int | None:
    """Highest RDB format a Valkey target loads by default (Valkey 8.x: 11; 8.1+ can relax the check)."""
    v = _version_tuple(target_engine_version)
    if v >= (7, 2):
        return 11
    return None


def rdb_format_check(source_version: str, target_engine_version: str, source_engine: str = "redis") -> Check:
    """Redis >= 7.4 writes RDB 12, which Valkey 8.0/8.1 refuse by default: the full sync would fail."""
    written = rdb_version_written(source_engine, source_version)
    readable = rdb_version_readable(target_engine_version)
    if written is None or readable is None:
        return Check(
            "rdb_format",
            WARN,
            f"cannot tell whether {source_engine} {source_version} RDB loads on valkey "
            f"{target_engine_version}",
            "rehearse with `migrator up` on the same versions first",
        )
    detail = (
        f"source {source_engine} {source_version} writes RDB {written}; target valkey "
        f"{target_engine_version} reads up to RDB {readable} by default"
    )
    if written <= readable:
        return Check("rdb_format", OK, detail)
    return Check(
        "rdb_format",
        WARN,
        detail + ' — the initial sync may fail with "Can\'t handle RDB format version"',
        "run the source on Redis 7.2.x (terraform var redis_version) or a target that reads "
        f"RDB {written} — see README#known-risks",
    )


def _info(client: redis.Redis) -> dict[str, Any]:
    info: dict[str, Any] = {}
    for section in ("server", "memory", "replication", "cluster", "keyspace"):
        info.update(client.info(section))
    return info


def _config(client: redis.Redis, name: str) -> str | None:
    """CONFIG GET one value; None when CONFIG is renamed or refused."""
    import redis

    try:
        value = client.config_get(name).get(name)
    except redis.ResponseError:
        return None
    return None if value is None else str(value)


def _renamed_commands(client: redis.Redis) -> list[str]:
    """Commands missing from COMMAND INFO (renamed or disabled with rename-command)."""
    import redis

    # redis-py's COMMAND parser fails on the nil a renamed command gets: read the raw reply.
    client.set_response_callback("COMMAND", lambda reply, **options: reply)
    try:
        replies = client.execute_command("COMMAND", "INFO", *REQUIRED_COMMANDS)
    except redis.ResponseError:
        return ["command"]
    return [name for name, reply in zip(REQUIRED_COMMANDS, replies, strict=False) if not reply]


def inspect(url: str, role: str) -> tuple[list[Check], ServerFacts | None]:
    """Connect and collect the facts preflight needs; a failure to connect is a `fail` row, not an error."""
    import redis

    ep = parse_url(url, role)
    try:
        # db 0 always exists; a database the URL names is checked below, against `databases`.
        client = connect(ep, role, db=0)
    except MigratorError as err:
        return [Check(f"{role}_reachable", FAIL, err.message, err.hint)], None
    try:
        info = _info(client)
        renamed = _renamed_commands(client)
        databases = _config(client, "databases")
        protected = _config(client, "protected-mode")
    except redis.RedisError as exc:
        return [
            Check(
                f"{role}_reachable",
                FAIL,
                f"{role} {ep.url} answered PING but not INFO: {exc}",
                "check the server's log and ACLs",
            )
        ], None
    finally:
        client.close()
    engine = "valkey" if info.get("server_name") == "valkey" or "valkey_version" in info else "redis"
    version = str(info.get("valkey_version") or info.get("redis_version") or "")
    facts = ServerFacts(
        url=ep.url,
        engine=engine,
        version=version,
        rdb_version=rdb_version_written(engine, version),
        used_memory=int(info.get("used_memory", 0)),
        maxmemory=int(info.get("maxmemory", 0)),
        databases=int(databases) if databases else None,
        cluster_enabled=bool(info.get("cluster_enabled")),
        role=str(info.get("role", "")),
        protected_mode=protected,
    )
    checks = [Check(f"{role}_reachable", OK, f"{engine} {version} at {ep.url}, no AUTH required")]
    if facts.databases is not None and ep.db >= facts.databases:
        checks.append(
            Check(
                f"{role}_database",
                FAIL,
                f"{role} URL {ep.url} names database {ep.db}; the server has {facts.databases} (0-"
                f"{facts.databases - 1})",
                "use a database index within that range (ElastiCache has 16: /0../15)",
            )
        )
    if renamed:
        checks.append(
            Check(
                f"{role}_commands",
                FAIL,
                f"{', '.join(c.upper() for c in renamed)} renamed or disabled on {ep.url}",
                f"remove rename-command for them from the {role}'s config — {README_PREREQS}",
            )
        )
    else:
        checks.append(Check(f"{role}_commands", OK, "SYNC, PSYNC, INFO, CONFIG, COMMAND, CLUSTER available"))
    return checks, facts


def source_checks(source_url: str) -> tuple[list[Check], SourceFacts | None]:
    """Rows about the source alone: reachable without AUTH, protected-mode off, commands, topology."""
    checks, facts = inspect(source_url, "source")
    if facts is None:
        return checks, None
    if facts.protected_mode == "yes":
        checks.append(
            Check(
                "source_protected_mode",
                FAIL,
                "protected-mode is yes: the target cannot connect",
                f"set 'protected-mode no' on the source — {README_PREREQS}",
            )
        )
    elif facts.protected_mode is None:
        checks.append(
            Check(
                "source_protected_mode",
                WARN,
                "cannot read protected-mode (CONFIG refused)",
                "make sure protected-mode is no",
            )
        )
    else:
        checks.append(Check("source_protected_mode", OK, "protected-mode no"))
    if facts.role != "master":
        checks.append(
            Check(
                "source_role",
                WARN,
                f"source role is {facts.role}",
                "point the migration at the source primary",
            )
        )
    return checks, facts


def refuse_same_server(source_url: str, target_url: str) -> None:
    """Not a check that fails but a pair that cannot be checked: replicating a server from itself."""
    source_ep, target_ep = parse_url(source_url, "source"), parse_url(target_url, "target")
    if source_ep.same_server(target_ep):
        raise MigratorError(
            f"source and target are the same server ({source_ep.url})",
            "give a different --target (or --source)",
            Code.SAME_SERVER,
        )


def pair_checks(source: ServerFacts, target: ServerFacts) -> list[Check]:
    """The rows about the pair, from each side's facts (however each backend learned them)."""
    return [
        rdb_format_check(source.version, target.version, source.engine),
        topology_check(source, target),
        databases_check(source.databases, target.databases),
        memory_check(source.used_memory, target.maxmemory),
    ]


def topology_check(source: ServerFacts, target: ServerFacts) -> Check:
    """Standalone into standalone (1 shard each); a cluster needs a cluster target of as many shards."""

    def shape(facts: ServerFacts) -> str:
        return "cluster mode enabled" if facts.cluster_enabled else "cluster mode disabled (1 shard)"

    if source.cluster_enabled != target.cluster_enabled:
        return Check(
            "cluster_mode",
            FAIL,
            f"source: {shape(source)}; target: {shape(target)}",
            "migrate into a target of the same mode: cluster mode disabled for a single Redis "
            "(terraform var valkey_num_node_groups = 1)",
        )
    if source.cluster_enabled:
        return Check(
            "cluster_mode",
            FAIL,
            "both sides run in cluster mode, which this version does not migrate yet",
            "migrate a cluster-mode-disabled source",
        )
    return Check("cluster_mode", OK, "cluster mode disabled on both (1 shard)")


def databases_check(source: int | None, target: int | None) -> Check:
    """Online migration needs the same number of databases on both sides."""
    if source is None or target is None:
        unknown = "source's" if source is None else "target's"
        return Check(
            "databases",
            WARN,
            f"{unknown} databases unknown (CONFIG refused); source {source or '?'}, target {target or '?'}",
            f"make sure both use the same `databases` (ElastiCache: {target or 16})",
        )
    if source != target:
        return Check(
            "databases",
            FAIL,
            f"source has {source} databases, target {target}",
            f"set `databases {target}` on the source, or give the target databases={source} "
            "(ElastiCache: a parameter group)",
        )
    return Check("databases", OK, f"{target} databases on both")


def memory_check(source_used: int, target_capacity: int) -> Check:
    """Enough room on the target for the source's dataset (0 capacity means unlimited)."""
    mib = 1024 * 1024
    if target_capacity <= 0:
        return Check(
            "target_memory", OK, f"target has no maxmemory limit; source uses {source_used // mib} MiB"
        )
    detail = f"source uses {source_used / mib:.0f} MiB; target maxmemory {target_capacity / mib:.0f} MiB"
    if target_capacity < source_used:
        return Check(
            "target_memory",
            FAIL,
            detail + " — the sync would run out of memory (maxmemory)",
            "raise the target's maxmemory / node type, or shrink the source",
        )
    if target_capacity < source_used * MEMORY_HEADROOM:
        return Check(
            "target_memory",
            WARN,
            detail + f" — under {MEMORY_HEADROOM}x headroom (maxmemory)",
            "use a larger node type or raise maxmemory",
        )
    return Check("target_memory", OK, detail)
