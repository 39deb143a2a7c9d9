"""The verify benchmark's dataset (issue 12): 95% strings of 50-200 B, 5% small collections, 10% with TTL.

Reproducible from the seed; loaded with pipelined MSET/SET PX and one command per collection, so 1M keys
take seconds. Collections are small (listpack/intset encodings), with zset scores of one decimal that
Redis 7.0 and Valkey print differently, and a few streams with a consumer group.
"""

from __future__ import annotations

import random

import redis

PIPELINE = 1000
TTL_MS = (3_600_000, 7_200_000)  # never expires during a run


def _text(rng: random.Random, size: int) -> bytes:
    return rng.randbytes((size + 1) // 2).hex()[:size].encode()


def load_dataset(client: redis.Redis, keys: int, seed: int = 1) -> dict[str, int]:
    """Write `keys` keys to db 0 of `client`; returns the count per type."""
    rng = random.Random(seed)
    counts = dict.fromkeys(("string", "hash", "list", "set", "zset", "stream"), 0)
    pipe = client.pipeline(transaction=False)
    plain: dict[bytes, bytes] = {}
    for i in range(keys):
        ttl = rng.randint(*TTL_MS) if rng.random() < 0.1 else None
        pick = rng.random()
        if pick < 0.95:
            kind, key = "string", f"mig:string:{i}".encode()
            value = rng.randbytes(rng.randint(50, 200)) if i % 10 == 3 else _text(rng, rng.randint(50, 200))
            if ttl is None:
                plain[key] = value
            else:
                pipe.set(key, value, px=ttl)
        else:
            kind = ("hash", "hash", "list", "set", "zset", "zset", "stream")[int((pick - 0.95) / 0.05 * 7)]
            key = f"mig:{kind}:{i}".encode()
            n = rng.randint(1, 20)
            if kind == "hash":
                pipe.hset(key, mapping={f"f{j}".encode(): _text(rng, rng.randint(1, 40)) for j in range(n)})
            elif kind == "list":
                pipe.rpush(key, *[_text(rng, rng.randint(1, 40)) for _ in range(n)])
            elif kind == "set":
                members = [
                    str(rng.randint(0, 1 << 40)).encode() if i % 2 else _text(rng, 12) for _ in range(n)
                ]
                pipe.sadd(key, *members)
            elif kind == "zset":
                pipe.zadd(key, {_text(rng, 12): round(rng.uniform(-1000, 1000), 1) for _ in range(n)})
            else:
                for j in range(1, min(n, 5) + 1):
                    pipe.xadd(key, {b"v": _text(rng, rng.randint(1, 60))}, id=f"{1_700_000_000_000 + i}-{j}")
                if i % 4 == 0:
                    pipe.xgroup_create(key, "workers", id="0")
            if ttl is not None:
                pipe.pexpire(key, ttl)
        counts[kind] += 1
        if (i + 1) % PIPELINE == 0:
            if plain:
                pipe.mset(plain)
                plain = {}
            pipe.execute()
    if plain:
        pipe.mset(plain)
    pipe.execute()
    return counts
