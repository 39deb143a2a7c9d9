"""Where a key goes: the one server, or the cluster node serving the key's slot.

A cluster is found from one node's URL (or given as a slot map, e.g. a migration's target shards, which do
not run in cluster mode while they replicate). Each node gets a plain client: the workload's commands are
single-key (or share a hash tag, hence a slot), so routing by slot is all a cluster client would do, and the
live writer keeps its own no-retry policy instead of a cluster client's silent retries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from migrator.endpoints import Endpoint, connect, parse_url
from migrator.errors import Code, MigratorError
from migrator.topology import SlotMap, discover

if TYPE_CHECKING:
    import redis

ClientFactory = Callable[[Endpoint], "redis.Redis"]


def _checked(role: str) -> ClientFactory:
    return lambda ep: connect(ep, role)


class Router:
    """A client per node; `client_for(key)` is the one serving that key."""

    def __init__(self, endpoint: Endpoint, slot_map: SlotMap | None, make: ClientFactory) -> None:
        self.endpoint = endpoint
        self.slot_map = slot_map
        if slot_map is None:
            self.clients = {endpoint.url: make(endpoint)}
            return
        if endpoint.db:
            raise MigratorError(
                f"{endpoint.url} names database {endpoint.db}; a cluster serves database 0 only",
                "drop the /DB part of the URL (and --dbs other than 0)",
                Code.INVALID_VALUE,
            )
        self.clients = {}
        try:
            for url in slot_map.urls:
                self.clients[url] = make(parse_url(url))
        except BaseException:
            self.close()
            raise

    @classmethod
    def open(
        cls,
        url: str,
        role: str,
        slot_map: SlotMap | None = None,
        make: ClientFactory | None = None,
    ) -> Router:
        """Route for the server at `url`: by `slot_map` if given, else as its cluster says, else to it."""
        endpoint = parse_url(url, role)
        found = slot_map or discover(Endpoint(endpoint.host, endpoint.port).url, role)
        return cls(endpoint, found, make or _checked(role))

    @property
    def cluster(self) -> bool:
        return self.slot_map is not None

    def url_for(self, key: bytes | str) -> str:
        return self.endpoint.url if self.slot_map is None else self.slot_map.url_for(key)

    def client_for(self, key: bytes | str) -> redis.Redis:
        return self.clients[self.url_for(key)]

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
