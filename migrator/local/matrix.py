"""The server version matrix: which binaries the rehearsal runs and where each comes from.

Redis 7.0 and Valkey 8.0 are Debian's packages (on PATH); Redis 7.4, Valkey 8.1 and 9.1 are in the project's
cache, put there by `make servers` (scripts/install-servers.sh, same layout). What each version writes and
loads is in migrator.versions (re-exported here).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from migrator.errors import MigratorError

# The RDB facts, re-exported from migrator.versions (explicit `as` re-exports).
from migrator.versions import BRIDGE as BRIDGE
from migrator.versions import FOREIGN_RDB as FOREIGN_RDB
from migrator.versions import bridge_capable as bridge_capable
from migrator.versions import direct_sync as direct_sync
from migrator.versions import has_version_check_setting as has_version_check_setting
from migrator.versions import rdb_loads as rdb_loads
from migrator.versions import rdb_native as rdb_native
from migrator.versions import rdb_served as rdb_served
from migrator.versions import version_tuple as version_tuple

DEBIAN = "debian"
CACHE = "cache"
INSTALL_HINT = "run `make servers` (scripts/install-servers.sh installs the matrix)"


@dataclass(frozen=True)
class MatrixServer:
    """One server build the rehearsal supports."""

    engine: str  # "redis" | "valkey"
    version: str  # the exact build, e.g. "7.4.1"
    origin: str  # DEBIAN (on PATH) | CACHE (make servers)

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])

    @property
    def binary_name(self) -> str:
        return f"{self.engine}-server"

    @property
    def cache_path(self) -> Path:
        return cache_dir() / f"{self.engine}-{self.version}" / "bin" / self.binary_name


MATRIX = (
    MatrixServer("redis", "7.0.15", DEBIAN),
    MatrixServer("redis", "7.4.1", CACHE),
    MatrixServer("valkey", "8.0.1", DEBIAN),
    MatrixServer("valkey", "8.1.8", CACHE),
    MatrixServer("valkey", "9.1.2", CACHE),
)


def cache_dir() -> Path:
    """Where `make servers` puts the servers that are not Debian packages."""
    root = os.environ.get("MIGRATOR_CACHE") or Path.home() / ".cache" / "migrator"
    return Path(root) / "servers"


def supported() -> list[tuple[str, str]]:
    """Every (engine, minor version) pair of the matrix, e.g. ("redis", "7.4")."""
    return [(server.engine, server.minor) for server in MATRIX]


def sources() -> list[MatrixServer]:
    return [server for server in MATRIX if server.engine == "redis"]


def targets() -> list[MatrixServer]:
    return [server for server in MATRIX if server.engine == "valkey"]


def lookup(engine: str, version: str) -> MatrixServer:
    """The matrix entry for an engine and a minor ("7.4") or exact ("7.4.1") version."""
    for server in MATRIX:
        if server.engine == engine and version in (server.minor, server.version):
            return server
    choices = ", ".join(s.minor for s in MATRIX if s.engine == engine) or "none"
    raise MigratorError(
        f"{engine} {version} is not in the local server matrix",
        f"choose one of {choices}, or pass the binary's path (--{engine}-server PATH)",
        "UnsupportedServerVersion",
    )


def resolve(engine: str, version: str) -> str:
    """Absolute path of the binary for (engine, version); ServerBinaryMissing naming `make servers`."""
    from migrator.local.binaries import binary_version

    server = lookup(engine, version)
    if server.origin == CACHE:
        candidates = [server.cache_path]
    else:
        on_path = shutil.which(server.binary_name)
        candidates = [Path(on_path)] if on_path else []
        candidates.append(Path("/usr/bin") / server.binary_name)
    seen = []
    for candidate in dict.fromkeys(candidates):
        if not os.access(candidate, os.X_OK):
            continue
        found = binary_version(str(candidate))
        if _minor(found) == server.minor:
            # Not resolve(): Debian links redis-server to redis-check-rdb, which picks its mode by argv[0].
            return os.path.abspath(candidate)
        seen.append(f"{candidate} is {found or 'unknown'}")
    where = "; ".join(seen) or f"looked for {', '.join(str(c) for c in candidates) or server.binary_name}"
    raise MigratorError(
        f"{engine} {server.minor} ({server.version}) not found: {where}",
        f"{INSTALL_HINT}, or pass --{engine}-server PATH",
        "ServerBinaryMissing",
    )


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])
