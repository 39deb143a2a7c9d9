"""A small TCP proxy for tests: put it between a replica and its primary, then cut and restore the link.

Loopback only, one selector thread, bounded buffers. `cut()` closes every open connection and refuses new
ones (accept then close, so the replica sees a fast failure instead of a hang until repl-timeout);
`restore()` lets connections through again.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading

LOOPBACK = "127.0.0.1"
CHUNK = 64 * 1024
MAX_PENDING = 4 * 1024 * 1024  # per direction; beyond this we stop reading until the peer drains
SELECT_SECONDS = 0.05


class _Pipe:
    """Bytes read from `src` waiting to be written to `dst`."""

    def __init__(self, src: socket.socket, dst: socket.socket, from_upstream: bool) -> None:
        self.src, self.dst = src, dst
        self.from_upstream = from_upstream
        self.pending = bytearray()


class TcpProxy:
    """Forward 127.0.0.1:`port` to 127.0.0.1:`upstream_port` until stop()."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.create_server((LOOPBACK, 0))
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._cut = threading.Event()
        self._stop = threading.Event()
        self._drop_all = threading.Event()
        self._held = threading.Event()
        self._pipes: list[_Pipe] = []
        self.connections_made = 0
        self._thread = threading.Thread(target=self._run, name=f"tcp-proxy-{self.port}", daemon=True)

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def cut(self) -> None:
        """Drop every connection now and refuse new ones until restore()."""
        self._cut.set()
        self._drop_all.set()

    def restore(self) -> None:
        self._cut.clear()

    def hold(self) -> None:
        """Stop forwarding what the primary sends, keeping every connection open: the replica's link
        stays `up` while it falls behind (until its repl-timeout)."""
        self._held.set()

    def release(self) -> None:
        self._held.clear()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        assert not self._thread.is_alive(), "tcp proxy thread did not stop"

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ)
        try:
            while not self._stop.is_set():
                if self._drop_all.is_set():
                    self._drop_all.clear()
                    for pipe in list(self._pipes):
                        self._close(selector, pipe)
                self._register_interest(selector)
                for key, events in selector.select(SELECT_SECONDS):
                    if key.fileobj is self._listener:
                        self._accept(selector)
                    else:
                        self._transfer(selector, key.fileobj, events)  # type: ignore[arg-type]
        finally:
            for pipe in list(self._pipes):
                self._close(selector, pipe)
            selector.close()
            self._listener.close()

    def _accept(self, selector: selectors.BaseSelector) -> None:
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        if self._cut.is_set():
            client.close()
            return
        try:
            upstream = socket.create_connection((LOOPBACK, self.upstream_port), timeout=2)
        except OSError:
            client.close()  # the primary is down: the replica sees what it would without us
            return
        for sock in (client, upstream):
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._pipes += [_Pipe(client, upstream, False), _Pipe(upstream, client, True)]
        self.connections_made += 1

    def _register_interest(self, selector: selectors.BaseSelector) -> None:
        """Read from a side only while its queue is bounded; ask to write to a side with bytes queued."""
        wants: dict[socket.socket, int] = {}
        for pipe in self._pipes:
            wants.setdefault(pipe.src, 0)
            wants.setdefault(pipe.dst, 0)
            held = pipe.from_upstream and self._held.is_set()
            if len(pipe.pending) < MAX_PENDING and not held:
                wants[pipe.src] |= selectors.EVENT_READ
            if pipe.pending:
                wants[pipe.dst] |= selectors.EVENT_WRITE
        for sock, events in wants.items():
            registered = selector.get_map().get(sock)
            if registered is None and events:
                selector.register(sock, events)
            elif registered is not None and not events:
                selector.unregister(sock)
            elif registered is not None and registered.events != events:
                selector.modify(sock, events)

    def _transfer(self, selector: selectors.BaseSelector, sock: socket.socket, events: int) -> None:
        for pipe in list(self._pipes):
            try:
                if pipe.src is sock and events & selectors.EVENT_READ:
                    data = sock.recv(CHUNK)
                    if not data:
                        self._close(selector, pipe)
                        return
                    pipe.pending += data
                if pipe.dst is sock and events & selectors.EVENT_WRITE and pipe.pending:
                    sent = sock.send(pipe.pending)
                    del pipe.pending[:sent]
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                self._close(selector, pipe)
                return

    def _close(self, selector: selectors.BaseSelector, pipe: _Pipe) -> None:
        """Close both sockets of a connection (and its reverse pipe)."""
        for other in [p for p in self._pipes if {p.src, p.dst} == {pipe.src, pipe.dst}]:
            self._pipes.remove(other)
        for sock in (pipe.src, pipe.dst):
            with contextlib.suppress(KeyError, ValueError):
                selector.unregister(sock)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
