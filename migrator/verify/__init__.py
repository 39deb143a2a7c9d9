"""Compare a source and a target server: URLs in, VerifyReport out. Never prints; knows nothing of the CLI."""

from migrator.verify.cluster import verify
from migrator.verify.report import EXTRA, KINDS, MISSING, TTL, VALUE, Mismatch, VerifyReport
from migrator.verify.server import wait_caught_up

__all__ = [
    "EXTRA",
    "KINDS",
    "MISSING",
    "TTL",
    "VALUE",
    "Mismatch",
    "VerifyReport",
    "verify",
    "wait_caught_up",
]
