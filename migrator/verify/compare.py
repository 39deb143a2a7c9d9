"""Type-aware logical comparison of one key, in bounded chunks, for keys whose digests differ or are too big.

Only logical values are compared: never DUMP payloads of known types (their RDB trailer and encoding differ
across engines) and never score text (Redis 7.0 and Valkey print the same double differently).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from migrator.verify.report import key_text

if TYPE_CHECKING:
    import redis

CHUNK = 1000
STRING_CHUNK = 1 << 20
DUMP_TRAILER = 10  # 2-byte RDB version + 8-byte CRC64


def values_equal(src: redis.Redis, tgt: redis.Redis, key: bytes, type_name: str) -> bool:
    """True when `key` holds the same logical value on both servers (both have type `type_name`)."""
    compare = _COMPARERS.get(type_name, _dump_equal)
    return compare(src, tgt, key)


def _string_equal(src: redis.Redis, tgt: redis.Redis, key: bytes) -> bool:
    length = src.strlen(key)
    if length != tgt.strlen(key):
        return False
    return all(
        src.getrange(key, start, start + STRING_CHUNK - 1)
        == tgt.getrange(key, start, start + STRING_CHUNK - 1)
        for start in range(0, length, STRING_CHUNK)
    )


def _scan_chunks(scan: Callable[..., tuple[int, Any]], key: bytes) -> Iterator[Any]:
    cursor = 0
    while True:
        cursor, chunk = scan(key, cursor, count=CHUNK)
        yield chunk
        if cursor == 0:
            return


# Unordered collections: every source element must be on the target with the same value, and the
# sizes must match; that proves equality without holding either side in memory.
def _hash_equal(src: redis.Redis, tgt: redis.Redis, key: bytes) -> bool:
    if src.hlen(key) != tgt.hlen(key):
        return False
    for chunk in _scan_chunks(src.hscan, key):
        fields = list(chunk)
        if fields and tgt.hmget(key, fields) != [chunk[f] for f in fields]:
            return False
    return True


def _set_equal(src: redis.Redis, tgt: redis.Redis, key: bytes) -> bool:
    if src.scard(key) != tgt.scard(key):
        return False
    return all(not members or all(tgt.smismember(key, members)) for members in _scan_chunks(src.sscan, key))


# Ordered collections: compare position by position, chunk by chunk.
def _ranges_equal(
    length: Callable[[redis.Redis], int],
    read: Callable[[redis.Redis, int, int], list[Any]],
    src: redis.Redis,
    tgt: redis.Redis,
) -> bool:
    size = length(src)
    if size != length(tgt):
        return False
    return all(read(src, i, i + CHUNK - 1) == read(tgt, i, i + CHUNK - 1) for i in range(0, size, CHUNK))


def _list_equal(src: redis.Redis, tgt: redis.Redis, key: bytes) -> bool:
    return _ranges_equal(lambda c: c.llen(key), lambda c, a, b: c.lrange(key, a, b), src, tgt)


def _zset_equal(src: redis.Redis, tgt: redis.Redis, key: bytes) -> bool:
    # redis-py parses scores into floats, so formatting differences vanish.
    return _ranges_equal(
        lambda c: c.zcard(key), lambda c, a, b: c.zrange(key, a, b, withscores=True), src, tgt
    )


def _stream_state(client: redis.Redis, key: bytes) -> tuple[Any, ...]:
    """What consumers need after the cut-over: last generated id, each group's position and consumers."""
    groups = [
        (
            g["name"],
            g["last-delivered-id"],
            g["pending"],
            g["consumers"],
            sorted((c["name"], c["pending"]) for c in client.xinfo_consumers(key, g["name"])),
        )
        for g in client.xinfo_groups(key)
    ]
    return client.xinfo_stream(key)["last-generated-id"], client.xlen(key), sorted(groups)


def _stream_equal(src: redis.Redis, tgt: redis.Redis, key: bytes) -> bool:
    if _stream_state(src, key) != _stream_state(tgt, key):
        return False
    start = b"-"
    while True:
        chunk: list[Any] = src.xrange(key, start, "+", count=CHUNK)  # type: ignore[assignment]
        if chunk != tgt.xrange(key, start, "+", count=CHUNK):
            return False
        if len(chunk) < CHUNK:
            return True
        start = b"(" + chunk[-1][0]


def expiry_difference(source: int, target: int, tolerance_ms: int) -> str | None:
    """How two absolute expiry times (ms; -1 persistent) differ beyond the tolerance, or None.

    Equal on a replica: the primary propagates expiries as absolute times (PEXPIREAT, HPEXPIREAT).
    """
    if source == target:
        return None
    if source < 0 or target < 0:
        return f"persistent on {'source' if source < 0 else 'target'} only"
    if abs(source - target) > tolerance_ms:
        return f"expiry differs by {abs(source - target)} ms"
    return None


def field_ttls_difference(src: redis.Redis, tgt: redis.Redis, key: bytes, tolerance_ms: int) -> str | None:
    """The first field of hash `key` whose TTL differs beyond the tolerance (fields equal on both sides).

    A server without HPEXPIRETIME (Redis 7.0, Valkey 8) keeps no field TTLs: its fields count as persistent.
    """
    for chunk in _scan_chunks(src.hscan, key):
        fields = list(chunk)
        if not fields:
            continue
        source, target = _field_expiries(src, key, fields), _field_expiries(tgt, key, fields)
        for name, a, b in zip(
            fields, source or [-1] * len(fields), target or [-1] * len(fields), strict=True
        ):
            if a == -2 or b == -2:  # the field went away since HSCAN: a live write, checked again
                return f"field {key_text(name)} gone on {'source' if a == -2 else 'target'} during the check"
            detail = expiry_difference(a, b, tolerance_ms)
            if detail is not None:
                lacking = [role for role, got in (("source", source), ("target", target)) if got is None]
                why = f" (the {lacking[0]} has no HPEXPIRETIME: it keeps no field TTLs)" if lacking else ""
                return f"field {key_text(name)}: {detail}{why}"
    return None


def _field_expiries(client: redis.Redis, key: bytes, fields: list[bytes]) -> list[int] | None:
    """HPEXPIRETIME of `fields`; None on a server that does not have the command."""
    import redis

    try:
        return list(client.execute_command("HPEXPIRETIME", key, "FIELDS", len(fields), *fields))
    except redis.ResponseError as exc:
        if "unknown command" in str(exc).lower():
            return None
        raise


def _dump_equal(src: redis.Redis, tgt: redis.Redis, key: bytes) -> bool:
    """Module types and anything unknown: the payload without its version trailer is the best we have."""
    a, b = src.dump(key), tgt.dump(key)
    return a is not None and b is not None and a[:-DUMP_TRAILER] == b[:-DUMP_TRAILER]


_COMPARERS: dict[str, Callable[[redis.Redis, redis.Redis, bytes], bool]] = {
    "string": _string_equal,
    "hash": _hash_equal,
    "set": _set_equal,
    "list": _list_equal,
    "zset": _zset_equal,
    "stream": _stream_equal,
}
