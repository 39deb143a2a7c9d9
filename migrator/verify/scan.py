"""Server access for verify: one `Side` per server (digest script, SCAN, EXISTS) and a read-ahead helper."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, TypeVar

from migrator.endpoints import Endpoint, connect, connection_error, parse_url
from migrator.errors import MigratorError

if TYPE_CHECKING:
    import redis
    from redis.commands.core import Script

DIGEST_LUA = resources.files(__package__).joinpath("digest.lua").read_text()
MIN_VERSION = (7, 0)  # PEXPIRETIME and script flags
SCRIPT_BUDGET = 50_000  # elements read per digest call: keeps each call to a few ms of server time
# A string this long makes the digest script size strings before reading them, from then on (digest.lua).
LARGE_STRING = 256 * 1024

T = TypeVar("T")


@dataclass
class Side:
    """One server of the pair, with a client per database and errors turned into one-line MigratorErrors."""

    role: str
    endpoint: Endpoint
    _clients: dict[int, redis.Redis] = field(default_factory=dict)
    _script: Script | None = None
    _careful: bool = False  # this server holds large strings: size them before reading (digest.lua)

    @classmethod
    def open(cls, url: str, role: str) -> Side:
        side = cls(role, parse_url(url, role))
        with side.guard():
            version = side.client(0).info("server")["redis_version"]
        if tuple(int(p) for p in version.split(".")[:2]) < MIN_VERSION:
            side.close()
            raise MigratorError(
                f"{role} {side.endpoint.url} runs Redis {version}; verify needs 7.0 or later (PEXPIRETIME)",
                "verify against a 7.0+ server",
                "UnsupportedVersion",
            )
        return side

    def __enter__(self) -> Side:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        return self.endpoint.url

    def client(self, db: int) -> redis.Redis:
        if db not in self._clients:
            self._clients[db] = connect(self.endpoint, self.role, timeout=30.0, db=db)
            if self._script is None:
                self._script = self._clients[db].register_script(DIGEST_LUA)
        return self._clients[db]

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        import redis

        try:
            yield
        except redis.RedisError as exc:
            raise connection_error(exc, self.endpoint, self.role) from None

    def dbs_with_keys(self) -> set[int]:
        with self.guard():
            keyspace = self.client(0).info("keyspace")
        return {int(name[2:]) for name in keyspace if name.startswith("db")}

    def dbsize(self, db: int) -> int:
        with self.guard():
            return self.client(db).dbsize()

    def scan(self, db: int, cursor: int, count: int) -> tuple[int, list[bytes]]:
        with self.guard():
            return self.client(db).scan(cursor, count=count)

    def digest(
        self, db: int, keys: list[bytes], max_elements: int, canonical: bool = False
    ) -> tuple[bytes, list[int]]:
        """Per-key records (see digest.lua) and the 1-based indexes of keys to compare in chunks."""
        client = self.client(db)
        mode = "canonical" if canonical else "fast"
        blobs: list[bytes] = []
        big: list[int] = []
        done = 0
        with self.guard():
            while done < len(keys):  # usually one call; more when the batch holds much data
                strings = "careful" if self._careful else "fast"
                blob, part_big, covered, longest = self._script(
                    keys=keys[done:], args=[max_elements, mode, SCRIPT_BUDGET, strings], client=client
                )
                self._careful = self._careful or longest > LARGE_STRING
                blobs.append(blob)
                big.extend(done + i for i in part_big)
                done += covered
        return b"\n".join(blobs), big

    def missing(self, db: int, keys: list[bytes]) -> list[bytes]:
        """The keys that do not exist here; one EXISTS call answers the common case (all present)."""
        client = self.client(db)
        with self.guard():
            if client.exists(*keys) == len(keys):
                return []
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.exists(key)
            return [key for key, found in zip(keys, pipe.execute(), strict=True) if not found]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


def wait_caught_up(source: redis.Redis, target: redis.Redis, timeout: float) -> bool:
    """Wait until a replica target has applied the source's current offset; False if not a replica or late."""
    from migrator.replication import wait_for_catch_up

    if target.info("replication").get("role") != "slave":
        return False
    # Replicas usually trail by well under a millisecond: keep the re-check window short.
    return wait_for_catch_up(source, target, timeout, moving_source=True, poll=0.001).caught_up


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_END = object()


def read_ahead(items: Iterator[T], depth: int = 4) -> Iterator[T]:
    """Produce `items` in a thread, up to `depth` ahead, so one server works while we use the other."""
    pending: queue.Queue = queue.Queue(depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                pending.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_END)
        except BaseException as exc:
            put(_Raised(exc))

    thread = threading.Thread(target=produce, name="verify-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = pending.get()
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join()
