"""Server versions, and the RDB formats each writes, serves its replicas and loads: pure facts, no I/O.

From the sources and measured with real binaries (tests/integration/test_server_matrix.py keeps them true):
- Written: Redis 7.0 writes RDB 10, 7.2 writes 11, 7.4 writes 12 (src/rdb.h RDB_VERSION) to disk and to every
  replica alike. Valkey 7.2-8.x writes 11. Valkey 9.x writes 80 (magic "VALKEY") to disk, but serves each
  replica the newest format that replica's reported version loads (RDB_VERSION_MAP: 11 for 7.2+, 80 for
  9.0+; no report, as from Redis, means 11), switching to a diskless transfer for an older format even with
  `repl-diskless-sync no`. Only a replica without the EOF capability (none of these) gets 80 regardless.
- Loaded: a server loads formats up to its own. Valkey 8.1 added `rdb-version-check relaxed` (PR #1604): it
  then tries newer formats too, but still refuses the range 12-79 that Redis 7.4+ uses; Valkey 9.0 relaxed
  (PR #2543) loads 12-79 as long as no type or opcode it does not know appears (Redis 7.4's hash-field-TTL
  types 24/25 fail: "Can't handle foreign type or opcode 25 in RDB with version 12").
ElastiCache's engine versions follow the same rules by number ("8.2" is Valkey 8.1 plus vector search).
"""

from __future__ import annotations

# Reserved by Valkey for other projects' formats (Redis 7.4+); src/rdb.h RDB_FOREIGN_VERSION_MIN/MAX.
FOREIGN_RDB = range(12, 80)
# Valkey's RDB_VERSION_MAP: (RDB version, first Valkey version that loads it), oldest first.
VALKEY_RDB_VERSION_MAP = ((11, (7, 2)), (80, (9, 0)))
# The bridge: a Valkey that loads Redis 7.4's RDB with the relaxed check and serves Valkey 8 a loadable one.
BRIDGE = ("valkey", "9.1")


def version_tuple(version: str) -> tuple[int, ...]:
    """'7.4.1' -> (7, 4, 1); tolerant of suffixes ('9.1.2-rc1')."""
    parts = []
    for piece in version.split(".")[:3]:
        digits = ""
        for ch in piece:
            if not ch.isdigit():
                break
            digits += ch
        parts.append(int(digits or 0))
    return tuple(parts)


def has_version_check_setting(engine: str, version: str) -> bool:
    """Whether the server knows `rdb-version-check` (Valkey 8.1+)."""
    return engine == "valkey" and version_tuple(version) >= (8, 1)


def bridge_capable(engine: str, version: str) -> bool:
    """A server that can bridge Redis 7.4+ to Valkey 8: Valkey >= 9 (relaxed loads RDB 12-79)."""
    return engine == "valkey" and version_tuple(version) >= (9, 0)


def keeps_hash_field_ttls(engine: str, version: str) -> bool:
    """Whether a server holds hash-field TTLs (HEXPIRE…): Redis 7.4+, Valkey 9.0+ (measured: a Valkey 8
    replica refuses the HPEXPIREAT its primary sends, keeps the field and drops its TTL)."""
    return version_tuple(version) >= ((7, 4) if engine == "redis" else (9, 0))


def rdb_native(engine: str, version: str) -> int | None:
    """The RDB format a server writes to disk (its RDB_VERSION); None when unknown."""
    v = version_tuple(version)
    if engine == "valkey":
        if v >= (9, 0):
            return 80
        return 11 if v >= (7, 2) else None
    for since, rdb in (((7, 4), 12), ((7, 2), 11), ((7, 0), 10), ((5, 0), 9)):
        if v >= since:
            return rdb
    return None


def rdb_served(
    engine: str, version: str, replica: tuple[str, str] | None = None, *, eof_capable: bool = True
) -> int | None:
    """The RDB format a primary sends a replica on full sync (`replica` is (engine, version), None: unknown).

    Only Valkey 9+ adapts, by the version the replica reports (Valkey replicas send REPLCONF VERSION,
    Redis ones do not and get 11). A replica without the EOF capability gets the shared disk file.
    """
    native = rdb_native(engine, version)
    if engine != "valkey" or not eof_capable or native is None or native <= 11:
        return native
    if replica is None or replica[0] != "valkey":
        return 11
    replica_v = version_tuple(replica[1])
    served = 11
    for rdb, since in VALKEY_RDB_VERSION_MAP:
        if replica_v >= since and rdb <= native:
            served = rdb
    return served


def rdb_loads(engine: str, version: str, rdb: int, *, relaxed: bool = False) -> bool:
    """Whether a server loads an RDB of format `rdb`, with `rdb-version-check relaxed` when `relaxed`.

    `relaxed` is ignored where the setting does not exist (Redis, Valkey < 8.1). Loading a format is
    necessary, not sufficient: a relaxed load still fails on a type the loader does not know.
    """
    native = rdb_native(engine, version)
    if native is None or rdb < 1:
        return False
    if rdb <= native and not (engine == "valkey" and rdb in FOREIGN_RDB):
        return True
    if not (relaxed and has_version_check_setting(engine, version)):
        return False
    # Relaxed: Valkey 8.x tries any newer format except the foreign range; 9.x tries every format.
    return bridge_capable(engine, version) or rdb not in FOREIGN_RDB


def direct_sync(source: tuple[str, str], target: tuple[str, str], *, relaxed: bool = False) -> bool:
    """Whether `target` REPLICAOF `source` completes a full sync, as far as the RDB format decides."""
    served = rdb_served(*source, replica=target)
    return served is not None and rdb_loads(*target, served, relaxed=relaxed)
