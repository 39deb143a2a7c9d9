"""verify(): compare every key of source and target, both directions, values by type, TTLs within a tolerance.

The passes (passes.py) stream both keyspaces in batches and compare each batch by fetching the values or by
server-side digests, whichever measures faster on this link (strategy.py); only keys that differ, or that a
batch compare cannot settle, get per-key digest records, and only a key whose record differs gets a logical
comparison. Keys still different are re-checked for `rounds` rounds after the target has caught up with
the source, so keys that merely changed during the run are not reported.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

from migrator.errors import Code, MigratorError
from migrator.lifecycle.results import ProgressCallback
from migrator.verify.collection_reads import MAX_ELEMENTS
from migrator.verify.compare import expiry_difference, field_ttls_difference, values_equal
from migrator.verify.passes import BATCH, DbPass
from migrator.verify.report import EXTRA, KINDS, MISSING, TTL, VALUE, Mismatch, VerifyReport, key_text
from migrator.verify.server import Side, wait_caught_up
from migrator.verify.strategy import FETCH, StrategyChooser

if TYPE_CHECKING:
    import redis

T = TypeVar("T")
MAX_CANDIDATES = 100_000  # keys kept for re-check rounds; beyond this, first-round findings are final
CATCH_UP_TIMEOUT = 10.0
TYPE_NAMES = {b"s": "string", b"h": "hash", b"l": "list", b"t": "set", b"z": "zset", b"x": "stream"}
COLLECTION_LETTERS = b"hltzx"  # their records carry a method letter: d(ump) or c(anonical)
FIELD_TTLS, NOT_DIGESTED = b"~", b"*"  # a hash record's field-TTL part: "~<sha1>", "~*" (see digest.lua)


def verify(
    source_url: str,
    target_url: str,
    *,
    dbs: list[int] | None = None,
    rounds: int = 3,
    ttl_tolerance_ms: int = 1000,
    sample: float | None = None,
    max_report: int = 100,
    progress: ProgressCallback | None = None,
) -> VerifyReport:
    """Compare source and target; `sample` (0 < F <= 1) checks that fraction of keys, chosen by key hash."""
    check_options(rounds=rounds, ttl_tolerance_ms=ttl_tolerance_ms, sample=sample)
    with Side.open(source_url, "source") as source, Side.open(target_url, "target") as target:
        if source.endpoint.same_server(target.endpoint):
            raise MigratorError(
                f"source and target are the same server ({source.url})",
                "pass the target's URL with --target",
                Code.SAME_SERVER,
            )
        if dbs is None and (source.endpoint.db or target.endpoint.db):
            dbs = [_url_database(source.endpoint.db, target.endpoint.db)]
        source.slot_safe = target.slot_safe = source.cluster or target.cluster
        return _Verifier(source, target, rounds, ttl_tolerance_ms, sample, max_report, progress).run(dbs)


def check_options(*, rounds: int = 3, ttl_tolerance_ms: int = 1000, sample: float | None = None) -> None:
    """Bad options fail before any server is contacted."""
    if rounds < 1:
        raise MigratorError(
            f"--rounds must be at least 1, not {rounds}",
            "use --rounds 1 for a single pass",
            Code.INVALID_VALUE,
        )
    if sample is not None and not 0 < sample <= 1:
        raise MigratorError(
            f"--sample must be in (0, 1], not {sample}",
            "e.g. --sample 0.1 checks 10% of keys",
            Code.INVALID_VALUE,
        )
    if ttl_tolerance_ms < 0:
        raise MigratorError(
            "--ttl-tolerance must not be negative", "e.g. --ttl-tolerance 1000", Code.INVALID_VALUE
        )


def _no_progress(advance: int, total: int | None = None) -> None:
    return None


def _url_database(source_db: int, target_db: int) -> int:
    """A URL naming a database (redis://host:port/2) limits the comparison to it, on both sides alike."""
    if source_db != target_db:
        raise MigratorError(
            f"the source URL names database {source_db} and the target URL database {target_db}",
            "a migration keeps database numbers: name the same one in both URLs, or use --dbs",
            Code.INVALID_URL,
        )
    return source_db


class _Verifier:
    def __init__(
        self,
        source: Side,
        target: Side,
        rounds: int,
        ttl_tolerance_ms: int,
        sample: float | None,
        max_report: int,
        progress: ProgressCallback | None,
    ) -> None:
        self.source, self.target = source, target
        self.rounds = rounds
        self.tolerance = ttl_tolerance_ms
        self.sample_below = None if sample is None or sample >= 1 else int(sample * 2**32)
        self.sample = sample
        self.max_report = max_report
        self.progress: ProgressCallback = progress or _no_progress
        self.counts = dict.fromkeys(KINDS, 0)
        self.mismatches: list[Mismatch] = []
        self.candidates: dict[int, dict[bytes, None]] = {}  # per db, insertion-ordered set
        self.n_candidates = 0
        self.keys_checked = 0
        self.target_keys_scanned = 0
        self.target_keys_counted = 0
        self.findings = 0
        self.may_count_extras = self.sample_below is None
        self.final = rounds == 1
        # One link for every database: what it learns carries over. Batch digests span slots: not on a
        # cluster node (where a batch is fetched key by key, see passes._Fetch).
        self.chooser = StrategyChooser((FETCH,)) if source.slot_safe else StrategyChooser()

    def run(self, dbs: list[int] | None) -> VerifyReport:
        started = time.monotonic()
        source_keys, target_keys = self.source.key_counts(), self.target.key_counts()
        if dbs is None:
            dbs = sorted(source_keys.keys() | target_keys.keys())
        self.progress(0, sum(source_keys.get(db, 0) + target_keys.get(db, 0) for db in dbs))
        for db in dbs:
            DbPass(self, db, self.chooser).run()
        rounds_run = 1
        while self.candidates and rounds_run < self.rounds:
            rounds_run += 1
            self._recheck_round(final=rounds_run == self.rounds)
        duration = time.monotonic() - started
        return VerifyReport(
            ok=not any(self.counts.values()),
            keys_checked=self.keys_checked,
            **self.counts,
            mismatches=self.mismatches,
            duration_s=round(duration, 3),
            keys_per_s=round(self.keys_checked / duration, 1) if duration else 0.0,
            source=self.source.url,
            target=self.target.url,
            dbs=dbs,
            target_keys_scanned=self.target_keys_scanned,
            target_keys_counted=self.target_keys_counted,
            rounds_run=rounds_run,
            sample=self.sample,
            mismatches_truncated=sum(self.counts.values()) > len(self.mismatches),
            batches=dict(self.chooser.batches),
        )

    # The passes call these (PassOwner).
    def sampled(self, keys: list[bytes]) -> list[bytes]:
        if self.sample_below is None:
            return keys
        # A hash of the key, not a random draw: both directions and every round pick the same keys.
        return [key for key in keys if zlib.crc32(key) < self.sample_below]

    def advance(self, scanned: int) -> None:
        self.progress(scanned, None)

    def settle(
        self, db: int, keys: list[bytes], source: tuple[bytes, list[int]], target: tuple[bytes, list[int]]
    ) -> None:
        for key, kind, detail in self._differences(db, keys, source, target):
            self.found(db, key, kind, detail)

    def found(self, db: int, key: bytes, kind: str, detail: str) -> None:
        self._record(db, key, kind, detail, self.final)

    def _recheck_round(self, final: bool) -> None:
        candidates, self.candidates, self.n_candidates = self.candidates, {}, 0
        for db, keys in candidates.items():
            pending = list(keys)
            for start in range(0, len(pending), BATCH):
                batch = pending[start : start + BATCH]
                # Digest the source first, then wait until the target has applied at least that state.
                source_reply = self.source.digest(db, batch, MAX_ELEMENTS)
                with self.target.guard():
                    wait_caught_up(self.source.client(db), self.target.client(db), CATCH_UP_TIMEOUT)
                target_reply = self.target.digest(db, batch, MAX_ELEMENTS)
                for key, kind, detail in self._differences(db, batch, source_reply, target_reply):
                    self._record(db, key, kind, detail, final)

    def _record(self, db: int, key: bytes, kind: str, detail: str, final: bool) -> None:
        self.findings += 1
        if not final and self.n_candidates < MAX_CANDIDATES:
            keys = self.candidates.setdefault(db, {})
            if key not in keys:
                keys[key] = None
                self.n_candidates += 1
            return
        self.counts[kind] += 1
        if len(self.mismatches) < self.max_report:
            self.mismatches.append(Mismatch(db, key_text(key), kind, detail))

    def _differences(
        self,
        db: int,
        keys: list[bytes],
        source_reply: tuple[bytes, list[int]],
        target_reply: tuple[bytes, list[int]],
    ) -> Iterator[tuple[bytes, str, str]]:
        (source_blob, source_big), (target_blob, target_big) = source_reply, target_reply
        if source_blob == target_blob and not source_big and not target_big:
            return  # the common case: the whole batch is identical
        source_records, target_records = source_blob.split(b"\n"), target_blob.split(b"\n")
        big = {i - 1 for i in (*source_big, *target_big)}
        pairs = enumerate(zip(source_records, target_records, strict=True))
        differing = [i for i, (a, b) in pairs if a != b or i in big]
        self._settle_dump_digests(db, keys, differing, source_records, target_records, big)
        for i in differing:
            found = self._classify(db, keys[i], source_records[i], target_records[i], i in big)
            if found:
                yield keys[i], *found

    def _settle_dump_digests(
        self,
        db: int,
        keys: list[bytes],
        differing: list[int],
        source_records: list[bytes],
        target_records: list[bytes],
        big: set[int],
    ) -> None:
        """DUMP digests also differ when only the encodings do: replace them with canonical digests."""
        suspects = [i for i in differing if _is_dump(source_records[i]) or _is_dump(target_records[i])]
        if not suspects:
            return
        subset = [keys[i] for i in suspects]
        for side, records in ((self.source, source_records), (self.target, target_records)):
            blob, subset_big = side.digest(db, subset, MAX_ELEMENTS, canonical=True)
            for i, record in zip(suspects, blob.split(b"\n"), strict=True):
                records[i] = record
            big.update(suspects[j - 1] for j in subset_big)

    def _classify(
        self, db: int, key: bytes, source_record: bytes, target_record: bytes, big: bool
    ) -> tuple[str, str] | None:
        source_value, _, source_expiry = source_record.rpartition(b":")
        target_value, _, target_expiry = target_record.rpartition(b":")
        source_value, _, source_fields = source_value.partition(FIELD_TTLS)
        target_value, _, target_fields = target_value.partition(FIELD_TTLS)
        if source_value == b"-":  # deleted on the source since it was scanned
            return (EXTRA, "") if target_value != b"-" else None
        if target_value == b"-":
            return MISSING, ""
        source_type, target_type = _type_name(source_value), _type_name(target_value)
        if source_type != target_type:
            return VALUE, f"type {source_type} on source, {target_type} on target"
        differs = source_value != target_value or big
        if differs and not self._logical(db, lambda s, t: values_equal(s, t, key, source_type), False):
            return VALUE, f"{source_type} values differ"
        detail = expiry_difference(int(source_expiry), int(target_expiry), self.tolerance)
        # Field TTLs: their digests differ, or a hash was too long to digest them (either side).
        if detail is None and (
            source_fields != target_fields or NOT_DIGESTED in (source_fields, target_fields)
        ):
            changed: str | None = "changed during the check"
            detail = self._logical(db, lambda s, t: field_ttls_difference(s, t, key, self.tolerance), changed)
        return None if detail is None else (TTL, detail)

    def _logical(self, db: int, compare: Callable[[redis.Redis, redis.Redis], T], changed: T) -> T:
        """compare(source, target) on redis-py clients, or `changed` for a key that vanished or changed type
        since its digest (live writes: WRONGTYPE, or XINFO on a deleted stream), re-checked next round."""
        import redis

        with self.source.guard(), self.target.guard():
            try:
                return compare(self.source.client(db), self.target.client(db))
            except redis.ResponseError as exc:
                if str(exc).startswith(("WRONGTYPE", "no such key")):
                    return changed
                raise


def _is_dump(record: bytes) -> bool:
    return record[:1] in COLLECTION_LETTERS and record[1:2] == b"d"


def _type_name(value: bytes) -> str:
    return value[1:].decode() if value[:1] == b"?" else TYPE_NAMES[value[:1]]
