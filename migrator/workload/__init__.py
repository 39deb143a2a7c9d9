"""Workloads for rehearsals and tests: a reproducible dataset (load) and live writes with a ledger."""

from migrator.workload.ledger import Ledger, LedgerProblem, LedgerReport, check_ledger
from migrator.workload.live import LiveWriter, WriterReport
from migrator.workload.load import TYPES, LoadReport, load

__all__ = [
    "TYPES",
    "Ledger",
    "LedgerProblem",
    "LedgerReport",
    "LiveWriter",
    "LoadReport",
    "WriterReport",
    "check_ledger",
    "load",
]
