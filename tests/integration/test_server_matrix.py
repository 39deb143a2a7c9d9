"""The server matrix measured with real binaries: what matrix.py predicts is what the servers do.

Every source x target pair's direct full sync, the bridged chain (source -> Valkey 9 relaxed -> target) with
live writes, and what a bridge cannot carry (Redis 7.4 hash-field TTLs).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from migrator.errors import MigratorError
from migrator.local import matrix, processes
from migrator.local.matrix import MatrixServer
from migrator.local.processes import ServerSpec
from tests.helpers.servers import ServerProcess, log_message, matrix_binary, replicate, sync_outcome

RELAXED = {"rdb-version-check": "relaxed"}
BRIDGE = matrix.lookup(*matrix.BRIDGE)
TARGET_MODES = [
    (target, relaxed)
    for target in matrix.targets()
    for relaxed in (False, True)
    if not relaxed or matrix.has_version_check_setting(target.engine, target.version)
]


def _id(server: MatrixServer) -> str:
    return f"{server.engine}-{server.version}"


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start a matrix server: start(server, role="test", **settings); all stopped at teardown."""
    started: list[ServerProcess] = []

    def start(server: MatrixServer, role: str = "test", **settings: str) -> ServerProcess:
        binary = matrix_binary(server.engine, server.version)
        process = ServerProcess(
            binary, tmp_path / f"{_id(server)}-{len(started)}", role=role, settings=settings
        )
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.stop()


def _served_rdb_version(port: int, replica_version: str | None, eof_capable: bool = True) -> int:
    """Ask for a full sync as a replica would and read the RDB header the primary sends back."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        reader = sock.makefile("rb")

        def command(*args: str) -> bytes:
            sock.sendall(
                f"*{len(args)}\r\n".encode() + b"".join(f"${len(a)}\r\n{a}\r\n".encode() for a in args)
            )
            return reader.readline()

        if eof_capable:
            command("REPLCONF", "capa", "eof", "capa", "psync2")
        if replica_version:
            command("REPLCONF", "version", replica_version)  # Redis answers -ERR: it has no such option
        line = command("PSYNC", "?", "-1")
        while not line.startswith(b"$"):  # +FULLRESYNC, then newlines while the snapshot is prepared
            line = reader.readline()
        header = reader.read(9)  # REDIS0011 / VALKEY080 (after $EOF:<mark> on a diskless transfer)
    return int(header.lstrip(b"REDISVALKEY"))


def test_every_matrix_binary_resolves_and_reports_its_version() -> None:
    for server in matrix.MATRIX:
        binary = matrix_binary(server.engine, server.version)
        assert Path(binary).is_absolute()
        assert processes.binary_identity(binary) == (server.engine, server.version)
    assert ("redis", "7.4") in matrix.supported() and ("valkey", "9.1") in matrix.supported()


def test_a_missing_cached_binary_names_make_servers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MIGRATOR_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(MigratorError) as caught:
        matrix.resolve("valkey", "9.1")
    assert caught.value.code == "ServerBinaryMissing"
    assert "make servers" in caught.value.hint
    assert str(tmp_path / "empty-cache") in caught.value.message
    with pytest.raises(MigratorError) as caught:
        matrix.resolve("redis", "6.2")
    assert caught.value.code == "UnsupportedServerVersion"


def test_a_binary_of_another_version_is_not_taken_for_the_matrix_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A cache entry that holds the wrong build (here Valkey 8.1 where 9.1 belongs) is missing, not used.
    fake = matrix.lookup("valkey", "9.1").cache_path.relative_to(matrix.cache_dir())
    wrong = tmp_path / "cache" / "servers" / fake
    wrong.parent.mkdir(parents=True)
    wrong.symlink_to(matrix_binary("valkey", "8.1"))
    monkeypatch.setenv("MIGRATOR_CACHE", str(tmp_path / "cache"))
    with pytest.raises(MigratorError) as caught:
        matrix.resolve("valkey", "9.1")
    assert caught.value.code == "ServerBinaryMissing"
    assert "is 8.1.8" in caught.value.message


@pytest.mark.parametrize("server", matrix.MATRIX, ids=_id)
def test_rdb_format_written_matches_prediction(
    start_server: Callable[..., ServerProcess], server: MatrixServer
) -> None:
    process = start_server(server)
    client = process.client()
    client.set("k", "v")
    client.save()
    with (process.workdir / "dump.rdb").open("rb") as dump:
        on_disk = int(dump.read(9).lstrip(b"REDISVALKEY"))
    assert on_disk == matrix.rdb_native(server.engine, server.version)
    for replica in [None, *matrix.targets()]:
        reported = replica.version if replica else None
        served = _served_rdb_version(process.port, reported)
        expected = matrix.rdb_served(
            server.engine, server.version, (replica.engine, replica.version) if replica else None
        )
        assert served == expected, f"{_id(server)} serving a replica reporting {reported}"
    # A replica without the EOF capability shares the disk file: the native format.
    assert _served_rdb_version(process.port, "8.0.1", eof_capable=False) == on_disk


@pytest.mark.parametrize("source", matrix.sources(), ids=_id)
@pytest.mark.parametrize(
    ("target", "relaxed"), TARGET_MODES, ids=[f"{_id(t)}{'-relaxed' if r else ''}" for t, r in TARGET_MODES]
)
def test_direct_sync_matches_prediction(
    start_server: Callable[..., ServerProcess], source: MatrixServer, target: MatrixServer, relaxed: bool
) -> None:
    primary = start_server(source)
    primary.client().set("k", "v", px=600_000)
    replica = start_server(target, **(RELAXED if relaxed else {}))
    replica.client().replicaof("127.0.0.1", primary.port)
    succeeded, message = sync_outcome(replica)
    predicted = matrix.direct_sync(
        (source.engine, source.version), (target.engine, target.version), relaxed=relaxed
    )
    assert succeeded == predicted, message
    if not succeeded:
        assert (
            message == f"Can't handle RDB format version {matrix.rdb_native(source.engine, source.version)}"
        )
        assert replica.client().info("replication")["master_link_status"] == "down"


class LiveWriter:
    """Writes (SET with a TTL, INCR) to a server from a thread until stopped; bounded in count."""

    def __init__(self, url: str, limit: int = 20_000) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=10)
        self.limit, self.acked = limit, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set() and self.acked < self.limit:
            self.client.set(f"live:{self.acked}", self.acked, px=300_000 + self.acked)
            self.client.incr("live:counter")
            self.acked += 1
            time.sleep(0.001)

    def __enter__(self) -> LiveWriter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        self.client.close()


def _assert_same_data(source: ServerProcess, target: ServerProcess) -> None:
    src, dst = source.client(), target.client()
    keys = sorted(src.scan_iter(count=1000))
    assert src.dbsize() == dst.dbsize() == len(keys)
    with src.pipeline(transaction=False) as p, dst.pipeline(transaction=False) as q:
        for key in keys:
            p.get(key)
            p.pexpiretime(key)
            q.get(key)
            q.pexpiretime(key)
        assert p.execute() == q.execute()


@pytest.mark.slow
@pytest.mark.parametrize("source", matrix.sources(), ids=_id)
@pytest.mark.parametrize("target", matrix.targets(), ids=_id)
def test_bridged_chain_syncs_with_live_writes(
    start_server: Callable[..., ServerProcess], source: MatrixServer, target: MatrixServer
) -> None:
    assert matrix.direct_sync((source.engine, source.version), matrix.BRIDGE, relaxed=True)
    assert matrix.direct_sync(matrix.BRIDGE, (target.engine, target.version))
    primary = start_server(source)
    with primary.client().pipeline(transaction=False) as pipe:
        for i in range(5000):
            pipe.set(f"before:{i}", i, px=600_000 + i)
        pipe.execute()
    bridge = start_server(BRIDGE, role="bridge")
    replica = start_server(target)
    with LiveWriter(primary.url) as writer:
        replicate(bridge, primary)
        replicate(replica, bridge)
        acked_once_synced = writer.acked
        time.sleep(0.3)  # writes keep flowing through both hops
    assert writer.acked > acked_once_synced  # the writer ran after both syncs
    replicate(bridge, primary)  # already attached: waits for catch-up
    replicate(replica, bridge)
    for hop in (bridge, replica):
        assert sync_outcome(hop)[0]
    assert int(replica.client().get("live:counter")) == writer.acked
    _assert_same_data(primary, replica)
    with pytest.raises(redis.ReadOnlyError):
        bridge.client().set("client-write", "refused")


@pytest.mark.parametrize(
    "fields", [2, 600], ids=["listpack", "hashtable"]
)  # this build: 512 listpack entries
def test_bridge_full_sync_fails_on_a_hash_field_ttl(
    start_server: Callable[..., ServerProcess], fields: int
) -> None:
    source = start_server(matrix.lookup("redis", "7.4"))
    client = source.client()
    client.hset("h", mapping={f"f{i}": "v" for i in range(fields)})
    assert client.execute_command("HEXPIRE", "h", 100, "FIELDS", 1, "f0") == [1]
    assert client.info("keyspace")["db0"]["subexpiry"] == 1
    bridge = start_server(BRIDGE, role="bridge")
    bridge.client().replicaof("127.0.0.1", source.port)
    succeeded, message = sync_outcome(bridge)
    assert not succeeded
    # Redis 7.4's hash-with-field-TTL RDB types: 25 listpack-ex, 24 metadata (hashtable).
    rdb_type = 25 if fields == 2 else 24
    assert message == f"Can't handle foreign type or opcode {rdb_type} in RDB with version 12"


@pytest.mark.slow
@pytest.mark.parametrize("target", [matrix.lookup("valkey", "8.0"), matrix.lookup("valkey", "8.1")], ids=_id)
def test_hash_field_ttl_written_during_a_bridged_migration_is_lost_on_valkey_8(
    start_server: Callable[..., ServerProcess], target: MatrixServer
) -> None:
    source = start_server(matrix.lookup("redis", "7.4"))
    bridge = start_server(BRIDGE, role="bridge")
    replica = start_server(target)
    replicate(bridge, source)
    replicate(replica, bridge)
    src = source.client()
    src.hset("h", mapping={"f": "v", "g": "w"})
    src.execute_command("HPEXPIRE", "h", 1500, "FIELDS", 1, "f")
    replicate(replica, bridge)
    # The bridge keeps the field's TTL; Valkey 8 has no HPEXPIREAT, refuses it and keeps the field forever.
    assert bridge.client().execute_command("HPEXPIRETIME", "h", "FIELDS", 1, "f") == src.execute_command(
        "HPEXPIRETIME", "h", "FIELDS", 1, "f"
    )
    refused = [
        log_message(line)
        for line in replica.log_text().splitlines()
        if "unknown command 'HPEXPIREAT'" in line
    ]
    assert refused and refused[0].startswith("== CRITICAL == This replica is sending an error to its primary")
    replica.client().replicaof("NO", "ONE")  # cut over before the field expires
    time.sleep(1.7)
    assert src.hgetall("h") == {b"g": b"w"}
    assert replica.client().hgetall("h") == {b"f": b"v", b"g": b"w"}  # resurrected: its TTL never arrived


def test_bridge_role_configuration_and_binary_check(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    spec = ServerSpec("bridge", "valkey-server", 1, tmp_path, tmp_path / "bridge.log")
    conf = spec.config_text().splitlines()
    for line in ('save ""', "appendonly no", "rdb-version-check relaxed", "replica-read-only yes"):
        assert line in conf
    unsuitable = ServerSpec(
        "bridge", matrix_binary("valkey", "8.1"), processes.free_port(), tmp_path, tmp_path / "b.log"
    )
    with pytest.raises(MigratorError) as caught:
        processes.start(unsuitable)
    assert caught.value.code == "BridgeBinaryUnsuitable"
    assert not unsuitable.pidfile.exists()
    bridge = start_server(BRIDGE, role="bridge")
    assert bridge.client().config_get("rdb-version-check") == {"rdb-version-check": "relaxed"}
