"""A lean RESP connection for verify's bulk passes: pipelined requests, hiredis parsing, replies in order.

redis-py spends microseconds per command in Python (packing, callbacks, connection checks); at a million
keys that is most of a verify. Here a request is prebuilt bytes and a reply is whatever hiredis returns.
Error replies come back as `str` (values are `bytes`), so a batch's replies compare with one `==`.
"""

from __future__ import annotations

import socket
from collections import deque
from collections.abc import Iterable
from typing import Any

from migrator.endpoints import Endpoint, connection_error
from migrator.errors import MigratorError

RECV_BYTES = 256 * 1024
# What hiredis parses a reply into: bytes, int, str (an error reply), None, or a list of replies.
Reply = Any
Replies = list[Reply]


def bulk_strings(args: Iterable[bytes | str | int]) -> bytes:
    """Arguments in RESP, without the array header: a batch's keys are encoded once for both servers."""
    return b"".join(
        b"$%d\r\n%s\r\n" % (len(data), data)
        for data in (arg if isinstance(arg, bytes) else str(arg).encode() for arg in args)
    )


def command(*args: bytes | str | int) -> bytes:
    """One command in RESP."""
    return b"*%d\r\n" % len(args) + bulk_strings(args)


def encode_keys(keys: Iterable[bytes]) -> list[bytes]:
    """Each key as a RESP bulk string, made once per batch for every command that takes the keys."""
    return [b"$%d\r\n%s\r\n" % (len(key), key) for key in keys]


def per_key(prefix: bytes, encoded_keys: list[bytes], suffix: bytes = b"") -> bytes:
    """One command per key: `prefix` (the command up to its key), the key, `suffix` (what follows it)."""
    if not encoded_keys:
        return b""
    return prefix + (suffix + prefix).join(encoded_keys) + suffix


class Pending:
    """The replies to one request, filled in as they arrive."""

    __slots__ = ("expected", "replies")

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.replies: Replies = []

    @property
    def complete(self) -> bool:
        return len(self.replies) >= self.expected


class WireConnection:
    """One socket to one database of a server. Requests are queued; `wait` reads until a request is answered.

    Failures are MigratorErrors naming the server's role, like every other verify error.
    """

    def __init__(self, endpoint: Endpoint, role: str, db: int, timeout: float) -> None:
        import hiredis

        self.endpoint, self.role, self.db = endpoint, role, db
        try:
            self._sock = socket.create_connection((endpoint.host, endpoint.port), timeout)
        except OSError as exc:
            raise self._lost(exc) from None
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._reader = hiredis.Reader(replyError=str)  # type: ignore[arg-type]  # any callable will do
        self._buffer = bytearray(RECV_BYTES)
        self._queue: deque[Pending] = deque()
        self.bytes_sent = self.bytes_received = 0
        if db:
            self.check(self.call(command(b"SELECT", db))[0])

    def check(self, reply: Reply) -> Reply:
        """`reply`, unless it is an error reply: then the one-line error for this server."""
        if isinstance(reply, str):
            import redis

            raise connection_error(redis.ResponseError(reply), self.endpoint, self.role)
        return reply

    def _lost(self, exc: OSError) -> MigratorError:
        import redis

        error = (
            redis.TimeoutError(str(exc)) if isinstance(exc, TimeoutError) else redis.ConnectionError(str(exc))
        )
        return connection_error(error, self.endpoint, self.role)

    def send(self, request: bytes, replies: int) -> Pending:
        pending = Pending(replies)
        self._queue.append(pending)
        try:
            self._sock.sendall(request)
        except OSError as exc:
            raise self._lost(exc) from None
        self.bytes_sent += len(request)
        return pending

    def wait(self, pending: Pending) -> Replies:
        """Read replies (for earlier requests too, in order) until `pending` is complete."""
        gets = self._reader.gets
        while not pending.complete:
            head = self._queue[0]
            append, left = head.replies.append, head.expected - len(head.replies)
            while left:
                reply = gets()
                if reply is False:
                    self._receive()
                    continue
                append(reply)
                left -= 1
            self._queue.popleft()
        return pending.replies

    def call(self, request: bytes, replies: int = 1) -> Replies:
        return self.wait(self.send(request, replies))

    def _receive(self) -> None:
        try:
            count = self._sock.recv_into(self._buffer)
        except OSError as exc:
            raise self._lost(exc) from None
        if not count:
            raise self._lost(ConnectionResetError("Connection closed by server"))
        self.bytes_received += count
        self._reader.feed(self._buffer, 0, count)

    def close(self) -> None:
        self._sock.close()
