"""What verify returns: counts per kind of difference and a capped list of the differing keys."""

from __future__ import annotations

from dataclasses import dataclass, field

MISSING = "missing_on_target"
EXTRA = "extra_on_target"
VALUE = "value_mismatch"
TTL = "ttl_mismatch"
KINDS = (MISSING, EXTRA, VALUE, TTL)


@dataclass
class Mismatch:
    db: int
    key: str  # binary-safe text: undecodable bytes appear as \xNN
    kind: str
    detail: str = ""


@dataclass
class ShardCounts:
    """One shard of a cluster: its pair of nodes, its slots and its counts (`VerifyReport.shards`)."""

    name: str
    source: str
    target: str
    slots: list[list[int]]
    ok: bool
    keys_checked: int
    missing_on_target: int
    extra_on_target: int
    value_mismatch: int
    ttl_mismatch: int
    duration_s: float
    keys_per_s: float


@dataclass
class VerifyReport:
    """Field order and names are fixed by SPEC.md (`migrate verify --output json`)."""

    ok: bool
    keys_checked: int
    missing_on_target: int
    extra_on_target: int
    value_mismatch: int
    ttl_mismatch: int
    mismatches: list[Mismatch]
    duration_s: float
    keys_per_s: float
    source: str
    target: str
    dbs: list[int] = field(default_factory=list)
    target_keys_scanned: int = 0
    # Target keys proven present on the source by counting instead of scanning (see verify/passes.py).
    target_keys_counted: int = 0
    rounds_run: int = 1
    sample: float | None = None
    mismatches_truncated: bool = False
    # Forward batches compared by fetching values / by server-side digests (see strategy.py).
    batches: dict[str, int] = field(default_factory=dict)
    # Clusters: each shard's counts (the totals above add them up); empty for a single pair.
    shards: list[ShardCounts] = field(default_factory=list, init=False)

    def summary(self) -> str:
        if self.ok:
            return f"verify: {self.keys_checked} keys checked, no differences"
        counts = ", ".join(f"{getattr(self, kind)} {kind}" for kind in KINDS if getattr(self, kind))
        return f"verify: {self.keys_checked} keys checked, differences found: {counts}"


def key_text(key: bytes) -> str:
    return key.decode("utf-8", "backslashreplace")
