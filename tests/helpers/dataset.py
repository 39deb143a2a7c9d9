"""A small dataset of every type (several DBs, TTLs, binary names) and a logical snapshot to compare."""

from __future__ import annotations

from typing import Any

import redis

DBS = (0, 3)


def fill(client_for_db: Any, tag: str = "") -> int:
    """Write one key of each type into each DB in DBS; returns the key count."""
    count = 0
    for db in DBS:
        c: redis.Redis = client_for_db(db)
        p = c.pipeline()
        p.set(f"str{tag}", "value")
        p.set(b"bin\x00\xff" + tag.encode(), b"\x00\x01\xfe\xff")
        p.set(f"big{tag}", "x" * 100_000)
        p.hset(f"hash{tag}", mapping={f"f{i}": i for i in range(200)})
        p.rpush(f"list{tag}", *range(50))
        p.sadd(f"set{tag}", *[f"m{i}" for i in range(20)])
        p.zadd(f"zset{tag}", {f"z{i}": i + 0.1 for i in range(30)})
        p.xadd(f"stream{tag}", {"a": "1"})
        p.set(f"ttl{tag}", "v", ex=3600)
        p.execute()
        count += 9
    return count


def snapshot(client_for_db: Any) -> dict[tuple[int, bytes], tuple[str, Any, bool]]:
    """(db, key) → (type, logical value, has TTL): equal across Redis and Valkey for equal data."""
    out: dict[tuple[int, bytes], tuple[str, Any, bool]] = {}
    for db in DBS:
        c: redis.Redis = client_for_db(db)
        for key in c.scan_iter(count=1000):
            kind = c.type(key).decode()
            value = _logical_value(c, key, kind)
            out[(db, key)] = (kind, value, c.pttl(key) > 0)
    return out


def _logical_value(c: redis.Redis, key: bytes, kind: str) -> Any:
    if kind == "string":
        return c.get(key)
    if kind == "hash":
        return sorted(c.hgetall(key).items())
    if kind == "list":
        return c.lrange(key, 0, -1)
    if kind == "set":
        return sorted(c.smembers(key))
    if kind == "zset":
        return [(m, float(s)) for m, s in c.zrange(key, 0, -1, withscores=True)]
    return c.xrange(key)
