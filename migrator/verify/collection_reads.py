"""Small collections read whole in one bounded command each and compared as values, client-side.

For the fetch strategy: a server reads a small hash in a few microseconds, where digest.lua takes tens
(converting every member into Lua). A read returns at most about MAX_ELEMENTS members; anything bigger,
a stream with consumer groups, or any difference is left to the digest records and the chunked compare,
which also classify it. Equal replies prove equality; unequal ones are compared canonically (field order,
member order and score spelling differ across engines and encodings).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from migrator.verify.wire import Replies, Reply

MAX_ELEMENTS = 1000  # larger collections are compared in chunks by the client, not read or digested whole
KEY = b"$%d\r\n%s\r\n"  # where the key goes in a request template


@dataclass(frozen=True)
class Reader:
    template: bytes  # the request for one key: `template % (len(key), key) * replies`
    replies: int
    complete: Callable[[Replies], bool]  # the replies hold the whole value
    canonical: Callable[[Replies], object]

    def request(self, key: bytes) -> bytes:
        return self.template % ((len(key), key) * self.replies)

    def equal(self, source: Replies, target: Replies) -> bool:
        """True only when both replies hold the whole value and the values are equal."""
        if any(reply.__class__ is str for reply in (*source, *target)):
            return False  # an error reply: the key changed type since its TYPE was read
        if not (self.complete(source) and self.complete(target)):
            return False
        return bool(source == target or self.canonical(source) == self.canonical(target))


def _scanned_whole(replies: Replies) -> bool:
    return bool(replies[0][0] == b"0")  # HSCAN/SSCAN cursor 0: one call returned every member


def _hash(replies: Replies) -> dict[Reply, Reply]:
    flat = replies[0][1]
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _set(replies: Replies) -> set[Reply]:
    return set(replies[0][1])


def _zset(replies: Replies) -> tuple[Replies, list[float]]:
    # Scores as doubles: Redis 7.0 prints 1.1 as 1.1000000000000001, Valkey as 1.1.
    flat = replies[0]
    return flat[::2], list(map(float, flat[1::2]))


def _fields(flat: Replies) -> dict[Reply, Reply]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _stream_complete(replies: Replies) -> bool:
    # A group with consumers: who owns which pending entry is left to the digest records.
    _, groups, entries = replies
    return len(entries) <= MAX_ELEMENTS and all(_fields(group).get(b"consumers") == 0 for group in groups)


def _stream(replies: Replies) -> tuple[Reply, list[tuple[Reply, ...]], Reply]:
    """What consumers see: the entries, the last generated id, each group's position and pending count.

    Not XINFO's radix-tree sizes, nor a group's lag: those differ across engines for the same stream.
    """
    info, groups, entries = replies
    positions = sorted(
        tuple(_fields(group).get(name) for name in (b"name", b"last-delivered-id", b"pending", b"consumers"))
        for group in groups
    )
    return _fields(info).get(b"last-generated-id"), positions, entries


SCAN_ALL = b"$1\r\n0\r\n$5\r\nCOUNT\r\n$4\r\n1000\r\n"
FIRST_THOUSAND = b"$1\r\n0\r\n$4\r\n1000\r\n"  # indexes 0..1000: 1001 members when there are more
READERS: dict[bytes, Reader] = {
    b"hash": Reader(b"*5\r\n$5\r\nHSCAN\r\n" + KEY + SCAN_ALL, 1, _scanned_whole, _hash),
    b"set": Reader(b"*5\r\n$5\r\nSSCAN\r\n" + KEY + SCAN_ALL, 1, _scanned_whole, _set),
    b"zset": Reader(
        b"*5\r\n$6\r\nZRANGE\r\n" + KEY + FIRST_THOUSAND + b"$10\r\nWITHSCORES\r\n",
        1,
        lambda replies: len(replies[0]) <= 2 * MAX_ELEMENTS,
        _zset,
    ),
    b"list": Reader(
        b"*4\r\n$6\r\nLRANGE\r\n" + KEY + FIRST_THOUSAND,
        1,
        lambda replies: len(replies[0]) <= MAX_ELEMENTS,
        lambda replies: replies[0],
    ),
    b"stream": Reader(
        b"*3\r\n$5\r\nXINFO\r\n$6\r\nSTREAM\r\n" + KEY
        + b"*3\r\n$5\r\nXINFO\r\n$6\r\nGROUPS\r\n" + KEY
        + b"*6\r\n$6\r\nXRANGE\r\n" + KEY + b"$1\r\n-\r\n$1\r\n+\r\n$5\r\nCOUNT\r\n$4\r\n1001\r\n",
        3,
        _stream_complete,
        _stream,
    ),
}  # fmt: skip
