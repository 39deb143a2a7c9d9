"""Data-plane preflight checks shared by both targets: is this source/target pair ready to migrate?

Each check is a row (ok/warn/fail + fix). The AWS backend adds control-plane rows from
DescribeReplicationGroups; everything that needs a connection to a server lives here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from migrator import versions
from migrator.endpoints import README_PREREQS, Endpoint, connect, parse_url
from migrator.errors import Code, MigratorError
from migrator.lifecycle.results import FAIL, OK, WARN, Check
from migrator.topology import SLOTS, ClusterNode, cluster_info, layout, topology_of

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
    # Keys with hash-field TTLs (Redis 7.4's HEXPIRE family; INFO keyspace `subexpiry`), small hashes still
    # encoded `listpackex` (a field TTL was set on them once) and loaded modules: what a Valkey bridge (or a
    # relaxed Valkey 9 target) cannot load.
    hash_field_ttls: int = 0
    modules: tuple[str, ...] = ()
    listpack_ex_hashes: int = 0
    # Valkey 8.1+'s `rdb-version-check` ("strict" | "relaxed"); None where the setting does not exist.
    rdb_version_check: str | None = None
    # Databases holding keys (INFO keyspace), and the cluster as this node sees it (cluster mode only).
    databases_with_keys: tuple[int, ...] = ()
    cluster: ClusterFacts | None = None


@dataclass
class ClusterFacts:
    """A cluster's shape for the preflight rules: its nodes (CLUSTER NODES) and its state (CLUSTER INFO)."""

    nodes: list[ClusterNode]
    state: str  # cluster_state: ok | fail
    slots_assigned: int

    @property
    def masters(self) -> list[ClusterNode]:
        """Masters serving slots: the shards (a master without slots holds nothing to migrate)."""
        return [node for node in self.nodes if node.role == "master" and node.slots]

    @property
    def moving(self) -> dict[int, str]:
        """Slots in migration (MIGRATING or IMPORTING on any master) → the node that has them so."""
        found: dict[int, str] = {}
        for node in self.masters:
            found.update({slot: node.url for slot in (*node.migrating, *node.importing)})
        return found


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
    if versions.rdb_loads(
        target.engine, target.version, served, relaxed=target.rdb_version_check == "relaxed"
    ):
        # A relaxed load of a newer format still fails on a type the loader does not know.
        carries = _foreign_types(source)
        if carries is not None:
            return Check(
                "rdb_format", FAIL, f"{detail} (relaxed) loads the format, but {carries[0]}", carries[1]
            )
        return Check("rdb_format", OK, f"{detail} loads it (rdb-version-check relaxed)")
    bridge = versions.rdb_loads(*versions.BRIDGE, served, relaxed=True)
    fix = BRIDGE_FIX if bridge else "run a source whose RDB the target loads (see README#version-matrix)"
    if bridge and versions.bridge_capable(target.engine, target.version):
        fix += ", or set `rdb-version-check relaxed` on the target"
    return Check(
        "rdb_format",
        FAIL,
        f"{detail} cannot load it: the initial sync would loop on "
        f'"Can\'t handle RDB format version {served}"',
        fix,
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
    foreign = _foreign_types(source)
    if foreign is not None:
        return Check(
            "bridge_carries", FAIL, f"the bridge cannot carry the source's data: {foreign[0]}", foreign[1]
        )
    return Check("bridge_carries", OK, "no hash-field TTLs or module types on the source")


REWRITE_FIX = (
    "rewrite those hashes without field TTLs (HGETALL, then DEL + HSET in one MULTI): HPERSIST alone leaves "
    "a small hash encoded listpackex, and Redis counts it in subexpiry until the old deadline"
)


def _foreign_types(source: ServerFacts) -> tuple[str, str] | None:
    """(what, fix) when the source holds RDB types a Valkey loader does not know; None when it holds none.

    Measured on Redis 7.4.1 → Valkey 9.1.2: a hash with a field TTL is RDB type 25 (listpack) or 24
    (hashtable), and a small hash stays type 25 after its field TTLs expired or were removed."""
    if source.hash_field_ttls or source.listpack_ex_hashes:
        held = f"{source.hash_field_ttls} key(s) hold hash-field TTLs (HEXPIRE…, INFO keyspace subexpiry)"
        if source.listpack_ex_hashes:
            held += f"; {source.listpack_ex_hashes} small hash(es) keep the field-TTL encoding (listpackex)"
        return f'{held}: a Valkey full sync fails on them ("Can\'t handle foreign type or opcode 24/25")', (
            REWRITE_FIX
        )
    if source.modules:
        return f"the source loads modules ({', '.join(source.modules)}): their types cannot cross", (
            "migrate without module data types"
        )
    return None


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


def server_identity(info: dict[str, Any]) -> tuple[str, str]:
    """(engine, version) from INFO server: Valkey reports valkey_version (and a Redis-compatible one)."""
    engine = "valkey" if info.get("server_name") == "valkey" or "valkey_version" in info else "redis"
    return engine, str(info.get("valkey_version") or info.get("redis_version") or "")


SCAN_COUNT = 1000


def listpack_ex_hashes(ep: Endpoint, info: dict[str, Any]) -> int:
    """Hashes encoded `listpackex` on a Redis 7.4+ server, in every database that has keys.

    A small hash keeps that encoding once a field TTL was set on it, even after the TTL expired or was
    removed (INFO keyspace no longer counts it), and its RDB type 25 fails a Valkey full sync all the same.
    One SCAN TYPE hash pass plus pipelined OBJECT ENCODING: bounded work per call, nothing copied.
    """
    engine, version = server_identity(info)
    if not versions.keeps_hash_field_ttls(engine, version):
        return 0
    found = 0
    for name, db in info.items():
        if not (name.startswith("db") and name[2:].isdigit() and isinstance(db, dict) and db.get("keys")):
            continue
        client = connect(ep, "source", db=int(name[2:]))
        try:
            batch: list[bytes] = []
            for key in client.scan_iter(count=SCAN_COUNT, _type="hash"):
                batch.append(key)
                if len(batch) == SCAN_COUNT:
                    found += _count_listpack_ex(client, batch)
                    batch = []
            found += _count_listpack_ex(client, batch)
        finally:
            client.close()
    return found


def _count_listpack_ex(client: redis.Redis, keys: list[bytes]) -> int:
    with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.object("encoding", key)
        encodings = pipe.execute(raise_on_error=False)
    return sum(1 for e in encodings if e in (b"listpackex", "listpackex"))


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
        version_check = _config(client, "rdb-version-check")
        engine, version = server_identity(info)
        listpack_ex = listpack_ex_hashes(ep, info) if engine == "redis" else 0
        cluster = _cluster_facts(client, ep.host) if info.get("cluster_enabled") else None
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
        databases_with_keys=tuple(
            sorted(int(k[2:]) for k, v in info.items() if k[:2] == "db" and k[2:].isdigit() and v)
        ),
        cluster=cluster,
        listpack_ex_hashes=listpack_ex,
        rdb_version_check=version_check,
    )
    checks = [Check(f"{role}_reachable", OK, f"{engine} {version} at {ep.url}, no AUTH required")]
    if cluster is not None and ep.db:
        checks.append(
            Check(
                f"{role}_database",
                FAIL,
                f"{role} URL {ep.url} names database {ep.db}; a cluster serves database 0 only",
                "drop the /DB part of the URL",
            )
        )
    elif facts.databases is not None and ep.db >= facts.databases:
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


def _cluster_facts(client: redis.Redis, host: str) -> ClusterFacts:
    info = cluster_info(client)
    return ClusterFacts(
        topology_of(client, host),
        info.get("cluster_state", "fail"),
        int(info.get("cluster_slots_assigned", 0)),
    )


def source_checks(
    source_url: str, reach: Callable[[str], str] | None = None
) -> tuple[list[Check], SourceFacts | None]:
    """Rows about the source alone: reachable without AUTH, protected-mode off, commands, topology.

    `reach` maps a cluster node's announced URL to where this machine reaches it (the tunnel's forwards).
    """
    checks, facts = inspect(source_url, "source")
    if facts is None:
        return checks, None
    if facts.cluster is not None:
        rows, seen = source_cluster_checks(facts.cluster, reach or (lambda url: url))
        checks += rows
        # Each target shard holds one source shard: the fullest one decides whether the target has room.
        facts.used_memory = max(facts.used_memory, seen.largest_used_memory)
        # And the master with the newest RDB decides whether every target shard can load its sync.
        newest = seen.newest_rdb()
        if newest is not None and (versions.rdb_native(*newest) or 0) > (
            versions.rdb_native(facts.engine, facts.version) or 0
        ):
            facts.engine, facts.version = newest
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
    rdb = rdb_format_check(source, target)
    if source.cluster_enabled and rdb.status == FAIL:
        # The bridge is the 1-shard pair's (one Valkey 9 replica of one source): a cluster has none.
        rdb.fix = (
            "run a source whose RDB the target loads (Redis <= 7.2; locally `up --shards N "
            "--source-version 7.0`): the Valkey 9 bridge serves the 1-shard pair only"
        )
    return [
        rdb,
        *topology_checks(source, target),
        cluster_databases_check(source)
        if source.cluster_enabled and target.cluster_enabled
        else databases_check(source.databases, target.databases),
        memory_check(source.used_memory, target.maxmemory),
    ]


def topology_checks(source: ServerFacts, target: ServerFacts) -> list[Check]:
    """The same mode on both; a cluster needs a cluster target of as many shards, sharded alike."""

    def shape(facts: ServerFacts) -> str:
        if not facts.cluster_enabled:
            return "cluster mode disabled (1 shard)"
        shards = len(facts.cluster.masters) if facts.cluster else None
        return f"cluster mode enabled ({shards if shards is not None else '?'} shards)"

    if source.cluster_enabled != target.cluster_enabled:
        fix = (
            "migrate into a cluster-mode-enabled target of as many shards (terraform var "
            "valkey_num_node_groups; locally `migrator up --shards N`)"
            if source.cluster_enabled
            else "migrate into a target of the same mode: cluster mode disabled for a single Redis "
            "(terraform var valkey_num_node_groups = 1)"
        )
        return [Check("cluster_mode", FAIL, f"source: {shape(source)}; target: {shape(target)}", fix)]
    if not source.cluster_enabled:
        return [Check("cluster_mode", OK, "cluster mode disabled on both (1 shard)")]
    rows = [Check("cluster_mode", OK, "cluster mode enabled on both")]
    if source.cluster is None or target.cluster is None:
        unknown = "source" if source.cluster is None else "target"
        return [*rows, Check("shard_count", WARN, f"the {unknown}'s shards are unknown", "")]
    source_layout, target_layout = layout(source.cluster.masters), layout(target.cluster.masters)
    if len(source_layout) != len(target_layout):
        rows.append(
            Check(
                "shard_count",
                FAIL,
                f"source has {len(source_layout)} shards, target {len(target_layout)}: online migration "
                "needs the same number on both",
                f"give the target {len(source_layout)} shards (terraform var valkey_num_node_groups = "
                f"{len(source_layout)}; locally `migrator up --shards {len(source_layout)}`)",
            )
        )
        return rows
    rows.append(Check("shard_count", OK, f"{len(source_layout)} shards on both"))
    if sorted(source_layout) != sorted(target_layout):
        first = next(
            (s, t) for s, t in zip(sorted(source_layout), sorted(target_layout), strict=True) if s != t
        )
        rows.append(
            Check(
                "slot_layout",
                FAIL,
                f"the slots are sharded differently: a source shard serves {_spans(first[0])}, the target's "
                f"{_spans(first[1])}; each target shard must replicate the source shard of the same slots",
                "give both the same layout (`up --shards N` and the Terraform module spread slots evenly, "
                "as redis-cli does): reshard the target (or the source) to match",
            )
        )
    else:
        rows.append(Check("slot_layout", OK, "every target shard serves the slots of one source shard"))
    return rows


def _spans(ranges: list[list[int]]) -> str:
    return ",".join(f"{a}-{b}" if a != b else str(a) for a, b in ranges)


def source_cluster_checks(
    cluster: ClusterFacts, reach: Callable[[str], str]
) -> tuple[list[Check], MastersSeen]:
    """A source cluster must be whole and still: every slot served, none moving, every master reachable.

    Also returns what asking each master found (its memory, its version).
    """
    rows = []
    if cluster.state != "ok" or cluster.slots_assigned != SLOTS:
        rows.append(
            Check(
                "source_cluster_state",
                FAIL,
                f"source cluster_state:{cluster.state}, {cluster.slots_assigned} of {SLOTS} slots assigned: "
                "keys of an unserved slot could not be migrated",
                "assign every slot (CLUSTER ADDSLOTS / redis-cli --cluster fix) until CLUSTER INFO says "
                "cluster_state:ok",
            )
        )
    else:
        rows.append(Check("source_cluster_state", OK, f"cluster_state:ok, all {SLOTS} slots assigned"))
    moving = cluster.moving
    if moving:
        slot, node = next(iter(sorted(moving.items())))
        rows.append(
            Check(
                "source_slots_moving",
                FAIL,
                f"{len(moving)} slot(s) in migration on the source (slot {slot} on {node}): a shard's "
                "keys would change hands during the sync",
                "finish or cancel the resharding first (redis-cli --cluster fix, or CLUSTER SETSLOT <slot> "
                "STABLE)",
            )
        )
    else:
        rows.append(Check("source_slots_moving", OK, "no slot is migrating or importing"))
    seen = _masters_reachable(cluster.masters, reach)
    return [*rows, seen.row], seen


@dataclass
class MastersSeen:
    """What asking every source master found: the row, the fullest master, and who runs what."""

    row: Check
    largest_used_memory: int = 0
    identities: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (engine, version) -> urls

    def newest_rdb(self) -> tuple[str, str] | None:
        """The (engine, version) whose RDB is the newest: the one a target shard is least likely to load."""
        known = [i for i in self.identities if versions.rdb_native(*i) is not None]
        if not known:
            return None
        return max(known, key=lambda i: (versions.rdb_native(*i) or 0, versions.version_tuple(i[1])))


def _masters_reachable(masters: list[ClusterNode], reach: Callable[[str], str]) -> MastersSeen:
    """Each target shard replicates one source master: every one must answer, without AUTH. Each master's
    version is read too: during a rolling upgrade they differ, and each shard's sync depends on its own."""
    seen = MastersSeen(Check("source_masters", OK, f"all {len(masters)} source masters answer without AUTH"))
    for node in masters:
        try:
            client = connect(reach(node.url), "source master", timeout=3)
        except MigratorError as err:
            seen.row = Check("source_masters", FAIL, f"source master {node.url}: {err.message}", err.hint)
            return seen
        try:
            protected = _config(client, "protected-mode")
            used = int(client.info("memory").get("used_memory", 0))
            seen.largest_used_memory = max(seen.largest_used_memory, used)
            seen.identities.setdefault(server_identity(client.info("server")), []).append(node.url)
        finally:
            client.close()
        if protected == "yes":
            seen.row = Check(
                "source_masters",
                FAIL,
                f"source master {node.url} has protected-mode yes: its target shard cannot connect",
                f"set 'protected-mode no' on every source node — {README_PREREQS}",
            )
            return seen
    if len(seen.identities) > 1:
        running = "; ".join(f"{e} {v} on {len(urls)}" for (e, v), urls in sorted(seen.identities.items()))
        seen.row = Check(
            "source_masters",
            WARN,
            f"the source masters run different versions ({running}): each shard's sync depends on its "
            "own master; the RDB rows judge the newest",
            "finish the rolling upgrade before migrating, or rehearse every version pair",
        )
    return seen


def cluster_databases_check(source: ServerFacts) -> Check:
    """ElastiCache in cluster mode serves database 0 only: every key must be there."""
    elsewhere = [db for db in source.databases_with_keys if db != 0]
    if elsewhere:
        return Check(
            "databases",
            FAIL,
            f"the source holds keys in database(s) {', '.join(map(str, elsewhere))}: a cluster-mode target "
            "serves database 0 only",
            "move those keys into database 0 first",
        )
    return Check("databases", OK, "cluster mode: database 0 only, on both")


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
