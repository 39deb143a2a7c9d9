"""Data-plane preflight checks shared by both targets: is this source/target pair ready to migrate?

Each check is a row (ok/warn/fail + fix). The AWS backend adds control-plane rows from
DescribeReplicationGroups; everything that needs a connection to a server lives here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from migrator import versions
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
    # Keys with hash-field TTLs (Redis 7.4's HEXPIRE family; INFO keyspace `subexpiry`) and loaded modules:
    # what a Valkey bridge cannot carry.
    hash_field_ttls: int = 0
    modules: tuple[str, ...] = ()


SourceFacts = ServerFacts
BRIDGE_FIX = (
    "migrate through a Valkey 9 bridge: `migrator migrate start --bridge` (check it: `preflight --bridge`)"
)


def rdb_format_check(source: ServerFacts, target: ServerFacts) -> Check:
    """The target must load the RDB its source serves on full sync, or the sync loops forever."""
    served = versions.rdb_served(source.engine, source.version, replica=(target.engine, target.version))
    if served is None or not target.version or versions.rdb_native(target.engine, target.version) is None:
        return Check(
            "rdb_format",
            WARN,
            f"cannot tell whether {source.engine} {source.version or '?'}'s RDB loads on {target.engine} "
            f"{target.version or '(version unknown)'}",
            "rehearse with `migrator up` on the same versions first",
        )
    detail = (
        f"source {source.engine} {source.version} sends RDB {served}; target {target.engine} {target.version}"
    )
    if versions.rdb_loads(target.engine, target.version, served):
        return Check("rdb_format", OK, f"{detail} loads it")
    bridge = versions.rdb_loads(*versions.BRIDGE, served, relaxed=True)
    return Check(
        "rdb_format",
        FAIL,
        f"{detail} cannot load it: the initial sync would loop on "
        f'"Can\'t handle RDB format version {served}"',
        BRIDGE_FIX if bridge else "run a source whose RDB the target loads (see README#version-matrix)",
    )


def bridged_checks(source: ServerFacts, bridge: tuple[str, str], target: ServerFacts) -> list[Check]:
    """Both hops of source → bridge (Valkey >= 9, rdb-version-check relaxed) → target, and what it carries."""
    engine, version = bridge
    rows = []
    served = versions.rdb_served(source.engine, source.version, replica=bridge)
    name = f"bridge {engine} {version}"
    if not versions.bridge_capable(engine, version):
        rows.append(Check("bridge_loads_source", FAIL, f"{name} is not Valkey >= 9", BRIDGE_BINARY_FIX))
    elif served is not None and versions.rdb_loads(engine, version, served, relaxed=True):
        rows.append(Check("bridge_loads_source", OK, f"{name} (relaxed) loads the source's RDB {served}"))
    else:
        rows.append(Check("bridge_loads_source", FAIL, f"{name} cannot load RDB {served}", BRIDGE_BINARY_FIX))
    onward = versions.rdb_served(engine, version, replica=(target.engine, target.version))
    if onward is not None and versions.rdb_loads(target.engine, target.version, onward):
        rows.append(Check("target_loads_bridge", OK, f"{name} serves RDB {onward}, which {target.engine} "
                          f"{target.version} loads"))  # fmt: skip
    else:
        rows.append(Check("target_loads_bridge", FAIL, f"target {target.engine} {target.version} cannot load "
                          f"RDB {onward} from the {name}", "use a Valkey >= 7.2 target"))  # fmt: skip
    rows.append(bridge_carries_check(source))
    return rows


BRIDGE_BINARY_FIX = "run `make servers` (Valkey 9.1), or pass --bridge-server PATH to a valkey-server >= 9"


def bridge_carries_check(source: ServerFacts) -> Check:
    """A Valkey bridge fails its full sync on Redis 7.4's hash-field-TTL types, and knows no module types."""
    if source.hash_field_ttls:
        return Check(
            "bridge_carries",
            FAIL,
            f"{source.hash_field_ttls} key(s) on the source hold hash-field TTLs (HEXPIRE…, INFO keyspace "
            "subexpiry): the bridge's full sync fails on them (\"Can't handle foreign type or opcode 25\")",
            "drop those field TTLs (HPERSIST) or those keys first: a Valkey 8 target cannot hold them",
        )
    if source.modules:
        return Check(
            "bridge_carries",
            FAIL,
            f"the source loads modules ({', '.join(source.modules)}): their types cannot cross the bridge",
            "migrate without module data types",
        )
    return Check("bridge_carries", OK, "no hash-field TTLs or module types on the source")


def _info(client: redis.Redis) -> dict[str, Any]:
    info: dict[str, Any] = {}
    for section in ("server", "memory", "replication", "cluster", "keyspace", "modules"):
        info.update(
            {f"module:{k}" if section == "modules" else k: v for k, v in client.info(section).items()}
        )
    return info


def hash_field_ttl_keys(keyspace: dict[str, Any]) -> int | None:
    """Keys with hash-field TTLs across databases: Redis 7.4+ reports `subexpiry` per database in INFO
    keyspace; None when no database reports it (an older server, or an empty one)."""
    counts = [int(v["subexpiry"]) for k, v in keyspace.items() if isinstance(v, dict) and "subexpiry" in v]
    return sum(counts) if counts else None


def _modules(client: redis.Redis) -> tuple[str, ...]:
    """Loaded modules (MODULE LIST), except the Lua engine Valkey 9 loads as a module of its own."""
    import redis

    try:
        loaded = client.execute_command("MODULE", "LIST")
    except redis.ResponseError:
        return ()
    names = []
    for entry in loaded or []:
        fields = dict(zip(entry[::2], entry[1::2], strict=False)) if isinstance(entry, list) else dict(entry)
        name = fields.get(b"name", fields.get("name", b""))
        name = name.decode() if isinstance(name, bytes) else str(name)
        if name and name != "lua":
            names.append(name)
    return tuple(names)


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
        modules = _modules(client)
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
        rdb_version=versions.rdb_native(engine, version),
        used_memory=int(info.get("used_memory", 0)),
        maxmemory=int(info.get("maxmemory", 0)),
        databases=int(databases) if databases else None,
        cluster_enabled=bool(info.get("cluster_enabled")),
        role=str(info.get("role", "")),
        protected_mode=protected,
        hash_field_ttls=hash_field_ttl_keys(info) or 0,
        modules=modules,
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
        rdb_format_check(source, target),
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
