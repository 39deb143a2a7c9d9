"""The verify tests' dataset (every type, both encodings, TTLs, binary names, two databases) and the
`batch_compare` fixture (registered through `pytest_plugins`) that forces each way of comparing a batch.
"""

from __future__ import annotations

import pytest

from migrator.verify import strategy
from migrator.verify.server import Side
from tests.helpers.servers import ServerProcess

BINARY_KEY = b"bin:\xff\x00\n key"
HOUR_MS = 3_600_000
BIG = 3000  # above the digest script's in-script limit: compared in chunks
ZSCORES = {"a": 1.1, "b": 2.2, "c": -0.3, "d": 1e-7, "e": float("inf"), "f": 0.1 + 0.2}


def add_data(server: ServerProcess) -> None:
    """Every type, both encodings of each collection, TTLs, binary names and values, two databases."""
    c, c1 = server.client(0), server.client(1)
    c.set("str", "hello")
    c.set("int", 12345)
    c.set(BINARY_KEY, bytes(range(256)))
    c.set("large", bytes(range(256)) * 12_000)  # 3 MB: compared in several GETRANGE chunks
    c.hset("hash", mapping={f"f{i}": f"v{i}" for i in range(10)})
    c.hset("hash:big", mapping={f"f{i}": i for i in range(BIG)})
    c.rpush("list", *[f"e{i}" for i in range(10)])
    c.rpush("list:big", *range(BIG))
    c.sadd("set", "a", "b", "c")
    c.sadd("set:int", *range(50))
    c.sadd("set:big", *[f"m{i}" for i in range(BIG)])
    c.zadd("zset", ZSCORES)
    c.zadd("zset:big", {f"m{i}": i / 10 for i in range(BIG)})
    for i in range(5):
        c.xadd("stream", {"n": i, "v": "x" * i}, id=f"1-{i + 1}")
    pipe = c.pipeline(transaction=False)
    for i in range(BIG):
        pipe.xadd("stream:big", {"n": i}, id=f"2-{i + 1}")
    pipe.execute()
    for stream in ("stream", "stream:big"):
        c.xgroup_create(stream, "workers", id="0")
        c.xreadgroup("workers", "alice", {stream: ">"}, count=2)
    c.xadd("stream:idle", {"n": 1}, id="3-1")
    c.xgroup_create("stream:idle", "idle", id="0")  # a group with no consumer yet
    c.set("ttl", "v", px=HOUR_MS)
    c.hset("hash:ttl", "f", "v")
    c.pexpire("hash:ttl", HOUR_MS)
    c1.set("db1:str", "one")
    c1.zadd("db1:zset", {"x": 1.1})


KEYS_IN_DATA = 20


def force_compare(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    """Make verify compare every batch one way: "digest", "fetch" (MGET) or "fetch-capped" (GETRANGE)."""
    monkeypatch.setattr(strategy, "STRATEGIES", (strategy.DIGEST if mode == "digest" else strategy.FETCH,))
    if mode == "fetch-capped":
        opened = Side.open.__func__

        def careful_from_the_start(cls: type[Side], url: str, role: str) -> Side:
            side = opened(cls, url, role)
            side.careful = True  # as if it had shown a large string already
            return side

        monkeypatch.setattr(Side, "open", classmethod(careful_from_the_start))


@pytest.fixture(params=["digest", "fetch", "fetch-capped"])
def batch_compare(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each way of comparing a batch, forced for every batch (verify otherwise picks by measurement)."""
    force_compare(monkeypatch, request.param)
    return request.param
