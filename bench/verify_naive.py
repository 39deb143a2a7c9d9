"""The naive verifier the benchmark measures `migrate verify` against.

What a careful script would do: pipelined SCAN 1000 on the source, then pipelined DUMP + PTTL for the batch
on each side, and compare payloads with the 10-byte RDB trailer stripped. (It still reports hashtable-encoded
hashes/sets and streams as different across engines; the benchmark only times it.)
"""

from __future__ import annotations

import redis

TRAILER = 10


def _dump_and_ttl(client: redis.Redis, keys: list[bytes]) -> list:
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.dump(key)
        pipe.pttl(key)
    return pipe.execute()


def naive_verify(source: redis.Redis, target: redis.Redis) -> tuple[int, int]:
    """Compare every source key of one database; returns (keys checked, keys reported different)."""
    checked = different = 0
    cursor = 0
    while True:
        cursor, keys = source.scan(cursor, count=1000)
        if keys:
            a, b = _dump_and_ttl(source, keys), _dump_and_ttl(target, keys)
            for i in range(len(keys)):
                dump_a, dump_b = a[2 * i], b[2 * i]
                same_value = (
                    dump_a is not None and dump_b is not None and dump_a[:-TRAILER] == dump_b[:-TRAILER]
                )
                if not same_value or abs(a[2 * i + 1] - b[2 * i + 1]) > 1000:
                    different += 1
            checked += len(keys)
        if cursor == 0:
            return checked, different
