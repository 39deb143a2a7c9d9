"""One Migration interface for both targets: results, the backend protocol, and the engine.

`engine.Migration` owns every rule; `registry` picks the backend for a workspace (imported lazily, so
`migrator --help` stays fast). Importing this package gives the result types under their old names.
"""

from migrator.lifecycle.results import (
    FAIL,
    OK,
    WARN,
    Check,
    CheckStatus,
    CompleteResult,
    EnvironmentStatus,
    LinkStatus,
    MigrationDetails,
    MigrationState,
    MigrationStatus,
    PreflightReport,
    ProgressCallback,
    StartResult,
    VerifyOutcome,
)

__all__ = [
    "FAIL",
    "OK",
    "WARN",
    "Check",
    "CheckStatus",
    "CompleteResult",
    "EnvironmentStatus",
    "LinkStatus",
    "MigrationDetails",
    "MigrationState",
    "MigrationStatus",
    "PreflightReport",
    "ProgressCallback",
    "StartResult",
    "VerifyOutcome",
]
