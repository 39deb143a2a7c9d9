"""redis:// URLs: parse them strictly and open connections that fail with a one-line fix."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from migrator.errors import Code, MigratorError

if TYPE_CHECKING:
    import redis

README_PREREQS = "see README#prerequisites"


@dataclass(frozen=True)
class Endpoint:
    """A Redis/Valkey server address; `db` is the logical database a URL names (default 0)."""

    host: str
    port: int
    db: int = 0

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"redis://{host}:{self.port}" + (f"/{self.db}" if self.db else "")

    def same_server(self, other: Endpoint) -> bool:
        return _canonical_host(self.host) == _canonical_host(other.host) and self.port == other.port


def _canonical_host(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host.lower()


def parse_url(url: str, role: str = "server") -> Endpoint:
    """Parse `redis://host:port[/db]`; reject TLS, credentials and anything malformed."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise MigratorError(
            f"{role} URL {url!r} is not valid ({exc})", "use redis://HOST:PORT[/DB]", Code.INVALID_URL
        ) from None
    if parts.scheme == "rediss":
        raise MigratorError(
            f"{role} URL {url!r} uses TLS (rediss://); online migration needs in-transit encryption off",
            f"use a plain redis:// endpoint — {README_PREREQS}",
            Code.TLS_NOT_SUPPORTED,
        )
    if parts.scheme != "redis":
        raise MigratorError(
            f"{role} URL {url!r} has scheme {parts.scheme or '(none)'!r}",
            "use redis://HOST:PORT[/DB]",
            Code.INVALID_URL,
        )
    if not parts.hostname:
        raise MigratorError(f"{role} URL {url!r} has no host", "use redis://HOST:PORT[/DB]", Code.INVALID_URL)
    if parts.username or parts.password:
        raise MigratorError(
            f"{role} URL {url!r} carries credentials; online migration needs a source without AUTH",
            f"drop the user:password part — {README_PREREQS}",
            Code.AUTH_NOT_SUPPORTED,
        )
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise MigratorError(
            f"{role} URL {url!r}: database {path!r} is not a number", "use /0../15", Code.INVALID_URL
        )
    return Endpoint(parts.hostname, port or 6379, int(path or 0))


def client(
    ep: Endpoint, *, db: int | None = None, timeout: float = 5.0, connect_timeout: float | None = None
) -> redis.Redis:
    """The one way migrator makes a redis-py client (not yet connected): no retries, explicit timeouts."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis(
        host=ep.host,
        port=ep.port,
        db=ep.db if db is None else db,
        socket_timeout=timeout,
        socket_connect_timeout=timeout if connect_timeout is None else connect_timeout,
        # redis-py retries with backoff by default: a down server would take seconds to report.
        retry=Retry(NoBackoff(), 0),
    )


def connect(
    endpoint: Endpoint | str, role: str = "server", timeout: float = 5.0, db: int | None = None
) -> redis.Redis:
    """Open a checked connection (PING answered) or raise a MigratorError saying what to fix."""
    ep = parse_url(endpoint, role) if isinstance(endpoint, str) else endpoint
    client_ = client(ep, db=db, timeout=timeout)
    try:
        client_.ping()
    except Exception as exc:
        client_.close()
        raise connection_error(exc, ep, role) from None
    return client_


def connection_error(exc: Exception, ep: Endpoint, role: str) -> MigratorError:
    """Translate a redis-py exception into the one-line error a user can act on."""
    import redis

    text = str(exc)
    if isinstance(exc, redis.AuthenticationError) or "NOAUTH" in text or "Authentication required" in text:
        return MigratorError(
            f"{role} {ep.url} requires AUTH; online migration needs a source without AUTH",
            f"remove requirepass/ACL users from the {role} — {README_PREREQS}",
            Code.AUTH_REQUIRED,
        )
    if "DENIED" in text and "protected mode" in text:
        return MigratorError(
            f"{role} {ep.url} refuses the connection: protected-mode is on",
            f"set 'protected-mode no' (and bind an address the target reaches) — {README_PREREQS}",
            Code.PROTECTED_MODE,
        )
    if isinstance(exc, redis.TimeoutError):
        return MigratorError(
            f"{role} {ep.url} did not answer in time",
            "check the host/port, security groups, or the tunnel (migrator tunnel)",
            Code.UNREACHABLE,
        )
    if isinstance(exc, redis.ConnectionError):
        return MigratorError(
            f"cannot reach {role} at {ep.url} ({text.rstrip('.')})",
            "check the host and port, and that the server is running (migrator status)",
            Code.UNREACHABLE,
        )
    return MigratorError(f"{role} {ep.url}: {text}", "check the server's log", Code.REDIS_ERROR)
