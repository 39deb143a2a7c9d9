"""The module's Terraform outputs, read by name in one place (older modules lack some outputs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SOURCE_PORT = 6379  # SPEC: the Redis host listens on 6379; older modules have no `redis_port` output
TARGET_PORT = 6379


def source_port(outputs: dict[str, Any]) -> int:
    return int(outputs.get("redis_port") or SOURCE_PORT)


@dataclass(frozen=True)
class ModuleOutputs:
    """What the CLI needs from `terraform output -json`."""

    values: dict[str, Any]

    def get(self, name: str, default: Any = None) -> Any:
        value = self.values.get(name)
        return default if value in (None, "") else value

    @property
    def group_id(self) -> str:
        return str(self.get("replication_group_id", ""))

    @property
    def region(self) -> str | None:
        return self.get("region")

    @property
    def source_address(self) -> str | None:
        return self.get("redis_private_ip")

    @property
    def source_port(self) -> int:
        return source_port(self.values)

    @property
    def bridge_port(self) -> int | None:
        """The Valkey 9 bridge on the Redis host (None: the module runs none)."""
        port = self.get("bridge_port")
        return int(port) if port else None

    @property
    def target_host(self) -> str | None:
        return self.get("valkey_primary_endpoint")

    @property
    def target_port(self) -> int:
        return int(self.get("valkey_port", TARGET_PORT))

    @property
    def source_url(self) -> str:
        return f"redis://{self.source_address}:{self.source_port}"

    @property
    def target_url(self) -> str:
        return f"redis://{self.target_host}:{self.target_port}"
