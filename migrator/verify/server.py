"""Server access for verify: one `Side` per server (clients, lean connections, the digest script)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING

from migrator.endpoints import Endpoint, connect, connection_error, parse_url
from migrator.errors import Code, MigratorError
from migrator.preflight import server_identity
from migrator.verify.wire import Reply, WireConnection, bulk_strings, command, encode_keys
from migrator.versions import keeps_hash_field_ttls, version_tuple

if TYPE_CHECKING:
    import redis

DIGEST_LUA = resources.files(__package__).joinpath("digest.lua").read_text()
MIN_VERSION = (7, 0)  # PEXPIRETIME and script flags
SCRIPT_BUDGET = 50_000  # elements read per digest call: keeps each call to a few ms of server time
# A string this long makes the digest script size strings before reading them, from then on (digest.lua).
LARGE_STRING = 256 * 1024
TIMEOUT = 30.0
Info = dict[str, str | dict[str, str]]  # INFO fields; keyspace lines (db0:keys=...) as dicts
# INFO keyspace counts of keys holding hash-field TTLs: Redis 7.4+ (`subexpiry`: may still count a key for a
# while after its field TTLs are gone, never too few) and Valkey 9+ (`keys_with_volatile_items`).
FIELD_TTL_COUNTS = ("subexpiry", "keys_with_volatile_items")
# Every change to a keyspace moves one of these: a write (the dirty counter), an expiry, an eviction.
CHANGE_COUNTERS = ("rdb_changes_since_last_save", "expired_keys", "evicted_keys")
# And these move when the counters could have been reset or the data replaced: a save (it resets the
# dirty counter), a load, a restart, a full resync.
RESET_MARKS = (
    "rdb_saves",
    "rdb_last_save_time",
    "rdb_last_load_keys_loaded",
    "run_id",
    "loading",
    "async_loading",
    "master_sync_in_progress",
)


@dataclass
class Side:
    """One server of the pair: redis-py clients for the rare logical compares, lean connections for the bulk.

    Errors become one-line MigratorErrors naming the role.
    """

    role: str
    endpoint: Endpoint
    _clients: dict[int, redis.Redis] = field(default_factory=dict)
    _wires: list[WireConnection] = field(default_factory=list)
    _control: dict[int, WireConnection] = field(default_factory=dict)
    _script_sha: bytes = b""
    careful: bool = False  # this server holds large strings: size them before reading (digest.lua)
    cluster: bool = False  # this server runs in cluster mode
    # Either server of the pair runs in cluster mode: a multi-key command must keep to one slot there
    # (CROSSSLOT otherwise; even inside a script, Valkey 9 refuses keys of several slots).
    slot_safe: bool = False
    field_ttls: bool = False  # this server can hold hash-field TTLs (HEXPIRE…: Redis 7.4+, Valkey 9+)
    # Databases where INFO keyspace has counted keys with hash-field TTLs since the run began: only there do
    # digests and fetches read them (HPEXPIRETIME), so a server without any pays nothing per key.
    _field_ttl_dbs: set[int] = field(default_factory=set)

    @classmethod
    def open(cls, url: str, role: str) -> Side:
        side = cls(role, parse_url(url, role))
        server = side.info("server")
        version = str(server.get("redis_version", "0"))
        if version_tuple(version)[:2] < MIN_VERSION:
            side.close()
            raise MigratorError(
                f"{role} {side.endpoint.url} runs Redis {version}; verify needs 7.0 or later (PEXPIRETIME)",
                "verify against a 7.0+ server",
                Code.UNSUPPORTED_VERSION,
            )
        side._script_sha = bytes(side._call(0, command(b"SCRIPT", b"LOAD", DIGEST_LUA)))
        side.cluster = str(side.info("cluster").get("cluster_enabled", "0")) == "1"
        side.field_ttls = keeps_hash_field_ttls(*server_identity(server))
        if side.field_ttls:
            side.info("keyspace")  # which databases hold hash-field TTLs now (see `info`)
        return side

    def __enter__(self) -> Side:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        return self.endpoint.url

    def client(self, db: int) -> redis.Redis:
        """A redis-py client, for the rare logical compares and re-check rounds (the bulk goes by `wire`)."""
        if db not in self._clients:
            self._clients[db] = connect(self.endpoint, self.role, timeout=TIMEOUT, db=db)
        return self._clients[db]

    def wire(self, db: int) -> WireConnection:
        """A new lean connection to `db`, closed with this side."""
        conn = WireConnection(self.endpoint, self.role, db, TIMEOUT)
        self._wires.append(conn)
        return conn

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        import redis

        try:
            yield
        except redis.RedisError as exc:
            raise connection_error(exc, self.endpoint, self.role) from None

    def _call(self, db: int, request: bytes) -> Reply:
        """One command on this side's control connection to `db`."""
        if db not in self._control:
            self._control[db] = self.wire(db)
        conn = self._control[db]
        return conn.check(conn.call(request)[0])

    def info(self, *sections: str) -> Info:
        info = parse_info(self._call(0, command(b"INFO", *sections)))
        if self.field_ttls:
            self._note_field_ttls(info)
        return info

    def _note_field_ttls(self, info: Info) -> None:
        """Every INFO with keyspace lines (at open, counting keys, watching for changes) updates the dbs."""
        for name, fields in info.items():
            if isinstance(fields, dict) and name.startswith("db"):
                counts = [fields[count] for count in FIELD_TTL_COUNTS if count in fields]
                # A server that says nothing (one of a later version) may hold some.
                if not counts or any(count != "0" for count in counts):
                    self._field_ttl_dbs.add(int(name[2:]))

    def digests_field_ttls(self, db: int) -> bool:
        """Whether this server's digests and fetches of db's hashes read their field TTLs too."""
        return db in self._field_ttl_dbs

    def key_counts(self) -> dict[int, int]:
        """Keys per database that holds any (INFO keyspace)."""
        return {
            int(name[2:]): int(fields["keys"])
            for name, fields in self.info("keyspace").items()
            if isinstance(fields, dict)
        }

    def change_marks(self, db: int) -> tuple[tuple[object, ...], int] | None:
        """What any change to this server's data moves, and db's key count; None if the server hides it."""
        info = self.info("persistence", "stats", "server", "replication", "keyspace")
        if any(name not in info for name in CHANGE_COUNTERS):
            return None
        keyspace = info.get(f"db{db}")
        keyspace = keyspace if isinstance(keyspace, dict) else {}
        marks = (
            *(info[name] for name in CHANGE_COUNTERS),
            *(info.get(name) for name in RESET_MARKS),
            keyspace.get("expires", "0"),
        )
        return marks, int(keyspace.get("keys", "0"))

    def saw_string(self, longest: int) -> None:
        self.careful = self.careful or longest > LARGE_STRING

    def digest_request(
        self,
        encoded_keys: bytes,
        count: int,
        max_elements: int,
        canonical: bool,
        batch: bool,
        careful: bool,
        *,
        field_ttls: bool = False,
    ) -> bytes:
        """EVALSHA of digest.lua over `count` keys, encoded and joined once for both sides."""
        args = (
            max_elements,
            "canonical" if canonical else "fast",
            SCRIPT_BUDGET,
            "careful" if careful else "fast",
            "batch" if batch else "records",
            "fields" if field_ttls else "values",
        )
        head = b"*%d\r\n$7\r\nEVALSHA\r\n" % (3 + count + len(args)) + bulk_strings((self._script_sha, count))
        return head + encoded_keys + bulk_strings(args)

    def start_digest(
        self,
        conn: WireConnection,
        keys: list[bytes],
        max_elements: int,
        *,
        canonical: bool = False,
        batch: bool = False,
        encoded_keys: bytes | None = None,
        careful: bool | None = None,
    ) -> DigestCall:
        """`careful` (default: this server's own) must be the same on both sides for batch digests."""
        careful = self.careful if careful is None else careful
        options = (max_elements, canonical, batch, careful)
        if self.slot_safe:
            groups = slot_groups(keys)
            if len(groups) > 1:
                return SlottedDigest(self, conn, keys, groups, options)  # type: ignore[return-value]
        return DigestCall(self, conn, keys, options, encoded_keys)

    def digest(
        self, db: int, keys: list[bytes], max_elements: int, canonical: bool = False
    ) -> tuple[bytes, list[int]]:
        """Per-key records (see digest.lua) and the 1-based indexes of keys to compare in chunks."""
        if db not in self._control:
            self._control[db] = self.wire(db)
        return self.start_digest(self._control[db], keys, max_elements, canonical=canonical).records()

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        for conn in self._wires:
            conn.close()


class DigestCall:
    """digest.lua over `keys`, in as many calls as its work budget needs: sent now, read later.

    Each call covers a prefix of the keys still to do; `pieces` are (keys covered, records or batch digest).
    """

    def __init__(
        self,
        side: Side,
        conn: WireConnection,
        keys: list[bytes],
        options: tuple[int, bool, bool, bool],
        encoded_keys: bytes | None,
    ) -> None:
        self.side, self.conn, self.keys = side, conn, keys
        self.options = options  # max_elements, canonical, batch, careful
        self.done = 0
        self.pieces: list[tuple[int, bytes]] = []
        self.big: list[int] = []  # 1-based indexes into keys
        self._pending = conn.send(self._request(encoded_keys), 1)

    def _request(self, encoded_keys: bytes | None) -> bytes:
        rest = self.keys[self.done :]
        encoded = b"".join(encode_keys(rest)) if encoded_keys is None else encoded_keys
        field_ttls = self.side.digests_field_ttls(self.conn.db)
        return self.side.digest_request(encoded, len(rest), *self.options, field_ttls=field_ttls)

    def result(self) -> DigestCall:
        """Wait for every piece (sending the follow-up calls a budget split needs)."""
        while True:
            blob, big, covered, longest = self.conn.check(self.conn.wait(self._pending)[0])
            self.side.saw_string(longest)
            self.pieces.append((covered, blob))
            self.big.extend(self.done + i for i in big)
            self.done += covered
            if self.done >= len(self.keys):
                return self
            self._pending = self.conn.send(self._request(None), 1)

    def records(self) -> tuple[bytes, list[int]]:
        self.result()
        return b"\n".join(blob for _, blob in self.pieces), self.big


def slot_groups(keys: list[bytes]) -> list[list[int]]:
    """Indexes of `keys` grouped by slot, groups in order of their first key."""
    from migrator.topology import key_slot

    groups: dict[int, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key_slot(key), []).append(i)
    return list(groups.values())


class SlottedDigest:
    """A DigestCall per slot of `keys`, all sent now, read back as one (records in the keys' order).

    Both sides of a pair split the same keys the same way, so batch pieces stay comparable.
    """

    def __init__(
        self,
        side: Side,
        conn: WireConnection,
        keys: list[bytes],
        groups: list[list[int]],
        options: tuple[int, bool, bool, bool],
    ) -> None:
        self.keys, self.groups = keys, groups
        self.calls = [DigestCall(side, conn, [keys[i] for i in group], options, None) for group in groups]
        self.pieces: list[tuple[int, bytes]] = []
        self.big: list[int] = []

    def result(self) -> SlottedDigest:
        if not self.pieces:
            for group, call in zip(self.groups, self.calls, strict=True):
                call.result()
                self.pieces += call.pieces
                self.big += [group[i - 1] + 1 for i in call.big]
        return self

    def records(self) -> tuple[bytes, list[int]]:
        self.result()
        ordered: list[bytes] = [b""] * len(self.keys)
        for group, call in zip(self.groups, self.calls, strict=True):
            records = b"\n".join(blob for _, blob in call.pieces).split(b"\n")
            for i, record in zip(group, records, strict=True):
                ordered[i] = record
        return b"\n".join(ordered), sorted(self.big)


def parse_info(text: bytes) -> Info:
    """INFO's text as {field: value}; keyspace lines (db0:keys=1,expires=0,...) as {field: {name: value}}."""
    info: Info = {}
    for line in text.decode(errors="replace").splitlines():
        name, sep, value = line.partition(":")
        if not sep or name.startswith("#"):
            continue
        if name.startswith("db") and name[2:].isdigit():
            info[name] = dict(part.partition("=")[::2] for part in value.split(","))
        else:
            info[name] = value
    return info


def wait_caught_up(source: redis.Redis, target: redis.Redis, timeout: float) -> bool:
    """Wait until a replica target has applied the source's current offset; False if not a replica or late."""
    from migrator.replication import wait_for_catch_up

    if target.info("replication").get("role") != "slave":
        return False
    # Replicas usually trail by well under a millisecond: keep the re-check window short.
    return wait_for_catch_up(source, target, timeout, moving_source=True, poll=0.001).caught_up
