"""Server binaries: find them, and ask them what they are (`--version`), without starting anything."""

from __future__ import annotations

import os
import shutil
import subprocess

from migrator.errors import MigratorError

INSTALL_HINTS = {
    "redis-server": "install it (Debian: `apt-get install redis-server`, or `make demo` does it), "
    "or pass --redis-server PATH / MIGRATOR_REDIS_SERVER",
    "valkey-server": "install it (Debian 12: `apt-get install -t bookworm-backports valkey-server`, "
    "or `make demo` does it), or pass --valkey-server PATH / MIGRATOR_VALKEY_SERVER",
}


def resolve_binary(name: str, explicit: str | None) -> str:
    """The server binary: an explicit path/option, else PATH. Missing → one line saying how to install."""
    candidate = explicit or shutil.which(name)
    if candidate and (path := shutil.which(candidate)):
        return os.path.abspath(path)
    shown = explicit or name
    raise MigratorError(f"{shown} not found", INSTALL_HINTS[name], "ServerBinaryMissing")


def binary_identity(binary: str) -> tuple[str, str]:
    """("redis" | "valkey", version) as the binary's `--version` reports it ("Valkey server v=8.0.1 ...")."""
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
    engine = "valkey" if out.lower().startswith("valkey") else "redis"
    for token in out.split():
        if token.startswith("v="):
            return engine, token[2:]
    return engine, ""


def binary_version(binary: str) -> str:
    return binary_identity(binary)[1]
