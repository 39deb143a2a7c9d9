"""The lean bound (issue 12): the least a client can do to compare string values and expiries of every key.

SCAN the source 1000 at a time; per batch, one pipeline of MGET + one PEXPIRETIME per key to each side,
sent to both before reading either (both sides work concurrently), parsed by hiredis over a plain socket,
replies compared whole. It checks no collection, no key missing on the source, nothing in the target
that the source lacks: it is a floor on the cost, not a verifier. Written apart from migrator/verify on
purpose, so a slowdown there cannot lower the bound.
"""

from __future__ import annotations

import socket
import time

import hiredis

PEXPIRETIME = b"*2\r\n$11\r\nPEXPIRETIME\r\n$%d\r\n%s\r\n"


def _bulk(args: list[bytes]) -> bytes:
    return b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


class _Socket:
    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), 30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = hiredis.Reader()

    def replies(self, count: int) -> list:
        out: list = []
        while len(out) < count:
            reply = self.reader.gets()
            if reply is False:
                self.reader.feed(self.sock.recv(1 << 18))
            else:
                out.append(reply)
        return out


def lean_verify(host: str, source_port: int, target_port: int) -> tuple[int, int, float]:
    """(keys compared, batches whose replies differ, seconds)."""
    scan, source, target = _Socket(host, source_port), _Socket(host, source_port), _Socket(host, target_port)
    checked = differing = 0
    cursor = b"0"
    begun = time.monotonic()
    while True:
        scan.sock.sendall(b"*4\r\n$4\r\nSCAN\r\n" + _bulk([cursor, b"COUNT", b"1000"]))
        cursor, keys = scan.replies(1)[0]
        if keys:
            request = b"*%d\r\n$4\r\nMGET\r\n" % (len(keys) + 1) + _bulk(keys)
            request += b"".join(PEXPIRETIME % (len(k), k) for k in keys)
            source.sock.sendall(request)
            target.sock.sendall(request)
            differing += source.replies(len(keys) + 1) != target.replies(len(keys) + 1)
            checked += len(keys)
        if cursor == b"0":
            return checked, differing, time.monotonic() - begun
