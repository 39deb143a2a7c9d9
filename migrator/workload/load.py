"""load(): fill a server with a reproducible mixed dataset of every type, pipelined.

The same seed gives the same keys and values, so a dataset can be rebuilt and compared. The mix is mostly
50-200 B strings (some binary, a few large), small hashes/lists/sets/zsets/streams, some collections big
enough for the hashtable/skiplist encodings, binary key names, zset scores that print differently across
engines, and a fraction of keys with a TTL.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from migrator.endpoints import Endpoint, connect, connection_error, parse_url
from migrator.errors import Code, MigratorError
from migrator.lifecycle.results import ProgressCallback
from migrator.topology import SlotMap, key_slot
from migrator.workload.routing import Router

if TYPE_CHECKING:
    import redis

TYPES = ("string", "hash", "list", "set", "zset", "stream")
WEIGHTS = {"string": 80, "hash": 6, "list": 4, "set": 4, "zset": 4, "stream": 2}
PIPELINE = 1000  # commands per round trip
BINARY_NAME_EVERY = 50
LARGE_VALUE_EVERY = 10_000
LARGE_VALUE = 256 * 1024
BIG_COLLECTION_EVERY = 50  # past the listpack limits (128 entries) on both engines
BIG_COLLECTION = 200
TTL_MS = (3_600_000, 7_200_000)  # long enough never to expire during a rehearsal
STREAM_ID_BASE = 1_700_000_000_000


@dataclass
class LoadReport:
    url: str
    keys: int
    by_type: dict[str, int]
    with_ttl: int
    dbs: list[int]
    seed: int
    duration_s: float
    keys_per_s: float
    binary_names: int = 0
    large_values: int = 0


def load(
    url: str,
    *,
    keys: int = 10_000,
    types: tuple[str, ...] | list[str] = TYPES,
    ttl_fraction: float = 0.1,
    value_size: int = 200,
    dbs: tuple[int, ...] | list[int] = (0,),
    seed: int = 0,
    prefix: str = "mig:",
    progress: ProgressCallback | None = None,
    slot_map: SlotMap | None = None,
) -> LoadReport:
    """Write `keys` keys spread round-robin over `dbs`; strings are value_size/4..value_size bytes."""
    import redis

    unknown = sorted(set(types) - set(TYPES))
    if unknown or not types:
        raise MigratorError(
            f"unknown types {unknown or '(none given)'}",
            f"choose from {', '.join(TYPES)}",
            Code.INVALID_VALUE,
        )
    if keys < 0 or value_size < 1 or not 0 <= ttl_fraction <= 1 or not dbs:
        raise MigratorError(
            "invalid load size",
            "need --keys >= 0, --value-size >= 1, 0 <= --ttl-fraction <= 1, and --dbs",
            Code.INVALID_VALUE,
        )
    endpoint = parse_url(url, "source")
    advance: ProgressCallback = progress or _no_progress
    advance(0, keys)
    started = time.monotonic()
    writers, writer_for = _writers(endpoint, list(dbs), slot_map)
    generator = _Generator(random.Random(seed), types, value_size, prefix.encode())
    counts: Counter[str] = Counter()
    with_ttl = 0
    try:
        for i in range(keys):
            kind, key, value = generator.item(i)
            ttl = generator.rng.randint(*TTL_MS) if generator.rng.random() < ttl_fraction else None
            writer_for(dbs[i % len(dbs)], key).add(kind, key, value, ttl)
            counts[kind] += 1
            with_ttl += ttl is not None
            if (i + 1) % PIPELINE == 0:
                for writer in writers.values():
                    writer.flush()
                advance(PIPELINE, None)
        for writer in writers.values():
            writer.flush()
        advance(keys % PIPELINE, None)
    except redis.RedisError as exc:
        raise connection_error(exc, endpoint, "source") from None
    finally:
        for writer in writers.values():
            writer.client.close()
    duration = time.monotonic() - started
    return LoadReport(
        url=endpoint.url,
        keys=keys,
        by_type=dict(counts),
        with_ttl=with_ttl,
        dbs=list(dbs),
        seed=seed,
        duration_s=round(duration, 3),
        keys_per_s=round(keys / duration, 1) if duration else 0.0,
        binary_names=generator.binary_names,
        large_values=generator.large_values,
    )


class _Generator:
    """Deterministic keys and values from one Random: the same seed gives the same dataset."""

    def __init__(
        self, rng: random.Random, types: tuple[str, ...] | list[str], value_size: int, prefix: bytes
    ):
        self.rng = rng
        self.types = list(types)
        self.weights = [WEIGHTS[t] for t in self.types]
        self.value_size = value_size
        self.prefix = prefix
        self.binary_names = 0
        self.large_values = 0

    def item(self, i: int) -> tuple[str, bytes, object]:
        kind = self.rng.choices(self.types, self.weights)[0]
        if i % BINARY_NAME_EVERY == 7:
            self.binary_names += 1
            key = self.prefix + b"bin:\xff\x00\n " + str(i).encode()
        else:
            key = self.prefix + f"{kind}:{i}".encode()
        return kind, key, getattr(self, f"_{kind}")(i)

    def _text(self, size: int) -> bytes:
        return self.rng.randbytes((size + 1) // 2).hex()[:size].encode()

    def _size(self, i: int) -> int:
        return BIG_COLLECTION if i % BIG_COLLECTION_EVERY == 0 else self.rng.randint(1, 20)

    def _string(self, i: int) -> bytes:
        if i % LARGE_VALUE_EVERY == 1:
            self.large_values += 1
            return self.rng.randbytes(LARGE_VALUE)
        size = self.rng.randint(max(1, self.value_size // 4), self.value_size)
        return self.rng.randbytes(size) if i % 10 == 3 else self._text(size)

    def _hash(self, i: int) -> dict[bytes, bytes]:
        return {f"f{j}".encode(): self._text(self.rng.randint(1, 40)) for j in range(self._size(i))}

    def _list(self, i: int) -> list[bytes]:
        return [self._text(self.rng.randint(1, 40)) for _ in range(self._size(i))]

    def _set(self, i: int) -> list[bytes]:
        if i % 3 == 0:  # integer members: the intset encoding
            return [str(self.rng.randint(0, 1 << 40)).encode() for _ in range(self._size(i))]
        return [self._text(self.rng.randint(4, 40)) for _ in range(self._size(i))]

    def _zset(self, i: int) -> dict[bytes, float]:
        # One decimal: scores like 1.1 that Redis 7.0 prints as 1.1000000000000001 and Valkey as 1.1.
        return {self._text(12): round(self.rng.uniform(-1000, 1000), 1) for _ in range(self._size(i))}

    def _stream(self, i: int) -> list[tuple[bytes, dict[bytes, bytes]]]:
        # Explicit ids keep the dataset reproducible.
        n = self.rng.randint(1, 10)
        return [
            (f"{STREAM_ID_BASE + i}-{j}".encode(), {b"v": self._text(self.rng.randint(1, 60))})
            for j in range(n)
        ]


def _no_progress(by: int, total: int | None = None) -> None:
    return None


def _writers(
    endpoint: Endpoint, dbs: list[int], slot_map: SlotMap | None = None
) -> tuple[dict[Any, _DbWriter], Callable[[int, bytes], _DbWriter]]:
    """A writer per database of one server, or per node of a cluster (which serves database 0 only).

    `slot_map`: the cluster's masters as this machine reaches them (else asked of the server at `endpoint`).
    """
    router = Router.open(endpoint.url, "source", slot_map)
    if not router.cluster:
        router.close()
        by_db = {db: _DbWriter(connect(endpoint, "source", db=db)) for db in dbs}
        return by_db, lambda db, key: by_db[db]
    if dbs != [0]:
        router.close()
        raise MigratorError(
            f"--dbs {','.join(map(str, dbs))}: {endpoint.url} is a cluster node, and a cluster serves "
            "database 0 only",
            "drop --dbs (or pass --dbs 0)",
            Code.INVALID_VALUE,
        )
    by_node = {url: _DbWriter(client, by_slot=True) for url, client in router.clients.items()}
    return by_node, lambda db, key: by_node[router.url_for(key)]


class _DbWriter:
    """Queues one database's (or cluster node's) writes; plain strings go in one MSET per round trip.

    On a cluster node an MSET must stay within one slot: plain strings are grouped by slot, so keys sharing a
    hash tag still go in one MSET.
    """

    def __init__(self, client: redis.Redis, by_slot: bool = False) -> None:
        self.client = client
        self.pipe = client.pipeline(transaction=False)
        self.plain: dict[bytes, bytes] = {}
        self.by_slot = by_slot

    def add(self, kind: str, key: bytes, value: Any, ttl_ms: int | None) -> None:
        """Queue one key; `value`'s shape follows `kind` (bytes, a mapping, a list, or stream entries)."""
        pipe = self.pipe
        if kind == "string":
            if ttl_ms is None:
                self.plain[key] = value
            else:
                pipe.set(key, value, px=ttl_ms)
            return
        pipe.delete(key)  # a re-run rebuilds collections instead of appending to them
        if kind == "hash":
            pipe.hset(key, mapping=value)
        elif kind == "list":
            pipe.rpush(key, *value)
        elif kind == "set":
            pipe.sadd(key, *value)
        elif kind == "zset":
            pipe.zadd(key, value)
        else:
            for entry_id, fields in value:
                pipe.xadd(key, fields, id=entry_id)
        if ttl_ms is not None:
            pipe.pexpire(key, ttl_ms)

    def flush(self) -> None:
        if self.plain and self.by_slot:
            groups: dict[int, dict[bytes, bytes]] = {}
            for key, value in self.plain.items():
                groups.setdefault(key_slot(key), {})[key] = value
            for group in groups.values():
                self.pipe.mset(group)
            self.plain = {}
        elif self.plain:
            self.pipe.mset(self.plain)
            self.plain = {}
        if len(self.pipe):
            self.pipe.execute()
