"""The local target: real redis-server and valkey-server processes on loopback."""

from migrator.local.backend import LocalMigration, describe, down, up

__all__ = ["LocalMigration", "describe", "down", "up"]
