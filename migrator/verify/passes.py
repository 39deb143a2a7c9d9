"""The forward and reverse passes over one database, pipelined on lean connections in one thread.

Forward: SCAN the source; per batch, either fetch (GETRANGE capped at FETCH_LIMIT + PEXPIRETIME per key,
the same request to both servers) or digest (digest.lua's batch digest on both); keys whose fetched
values or batch digests differ, and keys a fetch cannot settle (collections, capped strings, missing keys),
get per-key digest records, classified by the verifier; where either server may hold hash-field TTLs
(Side.digests_field_ttls), a fetched hash found equal has its fields' HPEXPIRETIME compared too. Reverse:
SCAN the target; one EXISTS per batch on the source, unless key counts settle it (see DbPass). Several
batches are in flight per direction (more on a link with latency), so both servers always have work queued
while the client compares; SCAN replies are read ahead on their own connections.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from migrator.verify.collection_reads import MAX_ELEMENTS, READERS
from migrator.verify.report import EXTRA
from migrator.verify.strategy import FETCH, StrategyChooser
from migrator.verify.wire import (
    Pending,
    Replies,
    Reply,
    WireConnection,
    bulk_strings,
    command,
    encode_keys,
    per_key,
)

if TYPE_CHECKING:
    from migrator.verify.server import DigestCall, Side

BATCH = 1000
DEPTH = 4  # batches in flight per direction, on a link with no latency to speak of
READ_AHEAD = 2  # scanned batches waiting for their turn
# Through a tunnel, each round trip costs milliseconds: keep enough in flight to cover it, at a rate of up
# to about KEYS_PER_MS, and SCAN more per call (its cursor makes the calls a chain of round trips), though
# never more than MAX_SCAN_COUNT at once (about as long on the server as one digest call).
KEYS_PER_MS = 200
MAX_DEPTH, MAX_SCAN_COUNT = 32, 4 * BATCH


def pipeline_size(round_trip_s: float) -> tuple[int, int]:
    """(batches in flight, SCAN COUNT) for a link with this idle round-trip time."""
    keys = KEYS_PER_MS * round_trip_s * 1000
    depth = min(MAX_DEPTH, DEPTH + round(keys / BATCH))
    return depth, max(BATCH, min(MAX_SCAN_COUNT, int(round(keys, -3))))


QUIET_CHECK = 64  # forward batches between looks at the servers' change counters
# A fetched string is read up to this many bytes: bounds what a batch makes either server buffer (4 MB)
# whatever the values; a string this long or longer is settled by its digest instead.
FETCH_LIMIT = 4096
GETRANGE, GETRANGE_REST = b"*4\r\n$8\r\nGETRANGE\r\n", b"$1\r\n0\r\n" + bulk_strings([FETCH_LIMIT - 1])
PEXPIRETIME = b"*2\r\n$11\r\nPEXPIRETIME\r\n"
EXISTS = b"*2\r\n$6\r\nEXISTS\r\n"


class PassOwner(Protocol):
    """What a pass needs from the verifier: sampling, progress, and where differences go."""

    source: Side
    target: Side
    keys_checked: int
    target_keys_scanned: int
    target_keys_counted: int
    findings: int  # differences recorded so far, final or still to re-check
    may_count_extras: bool  # False when sampling: the forward pass did not see every key

    def sampled(self, keys: list[bytes]) -> list[bytes]: ...

    def advance(self, scanned: int) -> None: ...

    def settle(
        self, db: int, keys: list[bytes], source: tuple[bytes, list[int]], target: tuple[bytes, list[int]]
    ) -> None: ...

    def found(self, db: int, key: bytes, kind: str, detail: str) -> None: ...


Marks = tuple[tuple[object, ...], int]  # a server's change counters, and the database's key count


class _Scan:
    """A SCAN over one side's database, one request ahead, on its own connection."""

    def __init__(self, conn: WireConnection, owner: PassOwner, count: int) -> None:
        self.conn, self.owner = conn, owner
        self.cursor = b"0"
        self.count = count
        self.finished = False
        self.pending: Pending | None = None
        self.ready: deque[list[bytes]] = deque()

    def top_up(self) -> None:
        if not self.finished and self.pending is None and len(self.ready) < READ_AHEAD:
            request = b"*4\r\n$4\r\nSCAN\r\n" + bulk_strings((self.cursor, b"COUNT", self.count))
            self.pending = self.conn.send(request, 1)

    def finish(self) -> None:
        assert self.pending is not None
        self.cursor, keys = self.conn.check(self.conn.wait(self.pending)[0])
        self.pending = None
        self.finished = self.cursor == b"0"
        self.owner.advance(len(keys))
        keys = self.owner.sampled(keys)
        parts = max(1, round(len(keys) / BATCH))  # SCAN returns about COUNT keys: no tiny remainders
        size = -(-len(keys) // parts) or 1
        for start in range(0, len(keys), size):
            self.ready.append(keys[start : start + size])

    @property
    def starved(self) -> bool:
        """Waiting for this SCAN is what keeps the pipeline from filling."""
        return self.pending is not None and not self.ready


class _Op:
    """Requests sent to one or both servers; `finish` reads the replies and acts on them."""

    forward = False  # a forward batch: the chooser learns from its completion
    strategy = ""
    keys: list[bytes]

    def finish(self, db_pass: DbPass) -> None:
        raise NotImplementedError


class _Fetch(_Op):
    """Values and expiries from both servers in one identical pipeline each, compared here.

    MGET while neither server has shown a large string (the digest batches that start a run size them);
    after that GETRANGE, so no batch makes a server buffer more than FETCH_LIMIT per key.
    """

    forward = True
    strategy = FETCH

    def __init__(self, db_pass: DbPass, keys: list[bytes]) -> None:
        self.keys = keys
        source, target = db_pass.owner.source, db_pass.owner.target
        # A cluster node refuses an MGET across slots: per-key GETRANGE instead, as for large strings.
        self.capped = source.careful or target.careful or source.slot_safe
        encoded = encode_keys(keys)
        if self.capped:
            request, replies = per_key(GETRANGE, encoded, GETRANGE_REST), len(keys)
        else:
            request, replies = b"*%d\r\n$4\r\nMGET\r\n" % (len(keys) + 1) + b"".join(encoded), 1
        request += per_key(PEXPIRETIME, encoded)
        replies += len(keys)
        self.source = db_pass.source_conn.send(request, replies)
        self.target = db_pass.target_conn.send(request, replies)

    def finish(self, db_pass: DbPass) -> None:
        source = db_pass.source_conn.wait(self.source)
        target = db_pass.target_conn.wait(self.target)
        keys, n = self.keys, len(self.keys)
        if self.capped:
            source_values, target_values = source[:n], target[:n]
            source_expiries, target_expiries = source[n:], target[n:]
            # Error replies are str (WRONGTYPE: a collection); a string at the cap may be longer.
            unsettled = [
                i
                for i, value in enumerate(source_values)
                if value.__class__ is not bytes or len(value) >= FETCH_LIMIT
            ]
        else:
            source_values, target_values = source[0], target[0]
            source_expiries, target_expiries = source[1:], target[1:]
            unsettled = [
                i for i, value in enumerate(source_values) if value is None
            ]  # missing, or not a string
            longest = max(map(len, filter(None, source_values)), default=0)
            db_pass.owner.source.saw_string(longest)
            if target_values != source_values:
                longest = max(map(len, filter(None, target_values)), default=0)
            db_pass.owner.target.saw_string(longest)
        differing: set[int] = set()
        if source_values != target_values or source_expiries != target_expiries:
            differing = {
                i
                for i in range(n)
                if source_values[i] != target_values[i] or source_expiries[i] != target_expiries[i]
            }
        # Alike on both sides but not settled by the value: a collection (nil, or WRONGTYPE when capped),
        # a key missing on both (expiry -2: no difference), or a string at the cap (its records decide).
        collections, records = [], sorted(differing)
        for i in unsettled:
            if i in differing:
                continue
            if source_values[i] is None or source_values[i].__class__ is str:
                if source_expiries[i] != -2:
                    collections.append(keys[i])
            else:
                records.append(i)
        if records:
            db_pass.submit(_Records(db_pass, [keys[i] for i in records]))
        if collections:
            db_pass.submit(_Types(db_pass, collections))


class _Types(_Op):
    """The types of the collections a fetch met, to read each with its own bounded command."""

    def __init__(self, db_pass: DbPass, keys: list[bytes]) -> None:
        self.keys = keys
        request = per_key(b"*2\r\n$4\r\nTYPE\r\n", encode_keys(keys))
        self.source = db_pass.source_conn.send(request, len(keys))
        self.target = db_pass.target_conn.send(request, len(keys))

    def finish(self, db_pass: DbPass) -> None:
        source = db_pass.source_conn.wait(self.source)
        target = db_pass.target_conn.wait(self.target)
        readable = [
            (key, kind)
            for key, kind, other in zip(self.keys, source, target, strict=True)
            if kind == other and kind in READERS
        ]
        if len(readable) < len(self.keys):  # types differ, a stream, or gone since: the records decide
            chosen = {key for key, _ in readable}
            db_pass.submit(_Records(db_pass, [key for key in self.keys if key not in chosen]))
        if readable:
            db_pass.submit(_CollectionReads(db_pass, readable))


class _CollectionReads(_Op):
    """Small collections read whole from both sides and compared as values; the rest go to records."""

    def __init__(self, db_pass: DbPass, keys_and_types: list[tuple[bytes, bytes]]) -> None:
        self.keys_and_types = keys_and_types
        request = b"".join(READERS[kind].request(key) for key, kind in keys_and_types)
        replies = sum(READERS[kind].replies for _, kind in keys_and_types)
        self.source = db_pass.source_conn.send(request, replies)
        self.target = db_pass.target_conn.send(request, replies)

    def finish(self, db_pass: DbPass) -> None:
        source = db_pass.source_conn.wait(self.source)
        target = db_pass.target_conn.wait(self.target)
        field_ttls = db_pass.field_ttls
        unsettled, hashes, at = [], [], 0
        for key, kind in self.keys_and_types:
            reader = READERS[kind]
            a, b = source[at : at + reader.replies], target[at : at + reader.replies]
            at += reader.replies
            if not reader.equal(a, b):
                unsettled.append(key)
            elif field_ttls and kind == b"hash":
                hashes.append((key, a[0][1][::2]))  # the fields of an equal HSCAN reply
        if unsettled:
            db_pass.submit(_Records(db_pass, unsettled))
        if hashes:
            db_pass.submit(_FieldTtls(db_pass, hashes))


class _FieldTtls(_Op):
    """Equal hashes' field TTLs, where either server may hold some: HPEXPIRETIME of every field on both.

    Replicas hold identical absolute expiries; any other reply goes to the records, which compare them
    within the tolerance. A server without the command keeps no field TTLs: its fields count as persistent.
    """

    def __init__(self, db_pass: DbPass, hashes: list[tuple[bytes, Replies]]) -> None:
        self.keys = [key for key, _ in hashes]
        self.sizes = [len(fields) for _, fields in hashes]
        request = b"".join(
            command(b"HPEXPIRETIME", key, b"FIELDS", len(fields), *fields) for key, fields in hashes
        )
        self.source = db_pass.source_conn.send(request, len(hashes))
        self.target = db_pass.target_conn.send(request, len(hashes))

    def finish(self, db_pass: DbPass) -> None:
        source = db_pass.source_conn.wait(self.source)
        target = db_pass.target_conn.wait(self.target)
        differing = [
            key
            for key, size, a, b in zip(self.keys, self.sizes, source, target, strict=True)
            if _field_expiries(a, size) != _field_expiries(b, size)
        ]
        if differing:
            db_pass.submit(_Records(db_pass, differing))


def _field_expiries(reply: Reply, size: int) -> Reply:
    """HPEXPIRETIME's reply, as all persistent from a server that has no such command."""
    if reply.__class__ is str and reply.lower().startswith("err unknown command"):
        return [-1] * size
    return reply


class _Digest(_Op):
    forward = True
    strategy = "digest"

    def __init__(self, db_pass: DbPass, keys: list[bytes]) -> None:
        self.keys = keys
        encoded = b"".join(encode_keys(keys))
        source, target = db_pass.owner.source, db_pass.owner.target
        careful = source.careful or target.careful  # the same string mode, or equal data digests differ
        self.source = source.start_digest(
            db_pass.source_conn, keys, MAX_ELEMENTS, batch=True, encoded_keys=encoded, careful=careful
        )
        self.target = target.start_digest(
            db_pass.target_conn, keys, MAX_ELEMENTS, batch=True, encoded_keys=encoded, careful=careful
        )

    def finish(self, db_pass: DbPass) -> None:
        source, target = self.source.result(), self.target.result()
        if source.pieces != target.pieces or source.big or target.big:
            db_pass.submit(_Records(db_pass, self.keys))


class _Records(_Op):
    """Per-key digest records of some keys on both sides, for the verifier to classify."""

    def __init__(self, db_pass: DbPass, keys: list[bytes]) -> None:
        self.keys = keys
        encoded = b"".join(encode_keys(keys))
        self.source: DigestCall = db_pass.owner.source.start_digest(
            db_pass.source_conn, keys, MAX_ELEMENTS, encoded_keys=encoded
        )
        self.target: DigestCall = db_pass.owner.target.start_digest(
            db_pass.target_conn, keys, MAX_ELEMENTS, encoded_keys=encoded
        )

    def finish(self, db_pass: DbPass) -> None:
        db_pass.owner.settle(db_pass.db, self.keys, self.source.records(), self.target.records())


class _Exists(_Op):
    """Reverse pass: are these target keys on the source? One EXISTS answers the common case."""

    def __init__(self, conn: WireConnection, keys: list[bytes], slot_safe: bool = False) -> None:
        self.conn, self.keys, self.per_key = conn, keys, slot_safe
        if slot_safe:  # a cluster node counts keys of one slot at a time: ask key by key
            self.pending = conn.send(per_key(EXISTS, encode_keys(keys)), len(keys))
        else:
            head = b"*%d\r\n$6\r\nEXISTS\r\n" % (len(keys) + 1)
            self.pending = conn.send(head + b"".join(encode_keys(keys)), 1)

    def finish(self, db_pass: DbPass) -> None:
        conn = self.conn
        if self.per_key:
            found = conn.wait(self.pending)
        else:
            (count,) = conn.wait(self.pending)
            if conn.check(count) == len(self.keys):
                return
            found = conn.call(per_key(EXISTS, encode_keys(self.keys)), len(self.keys))
        for key, exists in zip(self.keys, found, strict=True):
            if not conn.check(exists):
                db_pass.owner.found(db_pass.db, key, EXTRA, "")


def _round_trip(conn: WireConnection, samples: int = 3) -> float:
    """The best of a few PINGs: the link's latency, not the server's load."""
    best = math.inf
    for _ in range(samples):
        begun = time.monotonic()
        conn.check(conn.call(b"*1\r\n$4\r\nPING\r\n")[0])
        best = min(best, time.monotonic() - begun)
    return best


class DbPass:
    """Both directions over one database; differences go to the owner (the verifier).

    The reverse pass can often be skipped: if neither server's data changed during the forward pass (their
    change counters did not move) and the forward pass found every source key on the target, then equal
    key counts mean the target has no other keys. It waits, deferred, while the counters stay still
    (checked every QUIET_CHECK forward batches), and runs as soon as they move or the counts differ.
    """

    def __init__(self, owner: PassOwner, db: int, chooser: StrategyChooser) -> None:
        self.owner, self.db, self.chooser = owner, db, chooser
        source, target = owner.source, owner.target
        self.source_conn, self.target_conn = source.wire(db), target.wire(db)
        round_trip = max(_round_trip(self.source_conn), _round_trip(self.target_conn))
        self.depth, self.scan_count = pipeline_size(round_trip)
        chooser.warmup = max(chooser.warmup, self.depth)
        self.forward_scan = _Scan(source.wire(db), owner, self.scan_count)
        self.reverse: tuple[_Scan, WireConnection] | None = None  # target SCAN, and EXISTS on the source
        self.in_flight: deque[_Op] = deque()
        self.forward_in_flight = self.reverse_in_flight = 0
        self.forward_done = 0
        self.findings_before = owner.findings
        self.marks = self._marks() if owner.may_count_extras else None
        if self.marks is None:
            self._start_reverse()

    @property
    def field_ttls(self) -> bool:
        """Either server may hold hash-field TTLs in this database: fetches compare them too."""
        source, target = self.owner.source, self.owner.target
        return source.digests_field_ttls(self.db) or target.digests_field_ttls(self.db)

    def _marks(self) -> tuple[Marks, Marks] | None:
        source, target = self.owner.source.change_marks(self.db), self.owner.target.change_marks(self.db)
        return None if source is None or target is None else (source, target)

    def _start_reverse(self) -> None:
        self.marks = None
        scan = _Scan(self.owner.target.wire(self.db), self.owner, self.scan_count)
        self.reverse = scan, self.owner.source.wire(self.db)

    def _count_extras(self) -> bool:
        """After the forward pass: True when key counts prove the target has no extra keys."""
        if self.marks is None:
            return False
        (_, source_keys), (_, target_keys) = self.marks
        if self._marks() != self.marks or self.owner.findings != self.findings_before:
            return False
        if source_keys != target_keys:
            return False
        self.owner.target_keys_counted += target_keys
        self.owner.advance(target_keys)
        return True

    def submit(self, op: _Op) -> None:
        self.in_flight.append(op)

    def run(self) -> None:
        for op in self._ops():
            op.finish(self)
            if op.forward:
                self.forward_in_flight -= 1
                self.forward_done += 1
                self.chooser.completed(op.strategy, len(op.keys), time.monotonic())
                if (
                    self.marks is not None
                    and self.forward_done % QUIET_CHECK == 0
                    and self._marks() != self.marks
                ):
                    self._start_reverse()
            elif isinstance(op, _Exists):
                self.reverse_in_flight -= 1

    def _ops(self) -> Iterator[_Op]:
        """The next op to finish, after filling the pipeline; SCANs first when the pipeline waits on them."""
        forward = self.forward_scan
        while True:
            reverse, exists_conn = self.reverse or (None, None)
            forward.top_up()
            while self.forward_in_flight < self.depth and forward.ready:
                keys = forward.ready.popleft()
                self.owner.keys_checked += len(keys)
                self.submit((_Fetch if self.chooser.next() == FETCH else _Digest)(self, keys))
                self.forward_in_flight += 1
            if reverse is not None and exists_conn is not None:
                reverse.top_up()
                while self.reverse_in_flight < self.depth and reverse.ready:
                    keys = reverse.ready.popleft()
                    self.owner.target_keys_scanned += len(keys)
                    self.submit(_Exists(exists_conn, keys, self.owner.source.slot_safe))
                    self.reverse_in_flight += 1
            if forward.starved and self.forward_in_flight < self.depth:
                forward.finish()
            elif reverse is not None and reverse.starved and self.reverse_in_flight < self.depth:
                reverse.finish()
            elif self.in_flight:
                yield self.in_flight.popleft()
            elif forward.pending is not None:
                forward.finish()
            elif reverse is not None and reverse.pending is not None:
                reverse.finish()
            elif reverse is None and not self._count_extras():
                self._start_reverse()  # the forward pass is over and could not rule extra keys out
            else:
                return
