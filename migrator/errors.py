"""The project's one error type: a message naming the problem plus a hint naming the fix."""

from __future__ import annotations


class MigratorError(Exception):
    """A problem the user can act on. The CLI prints it as one line and exits with `exit_code`."""

    exit_code = 2

    def __init__(self, message: str, hint: str = "", code: str = "error") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code

    def one_line(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "hint": self.hint}


# Error codes that mirror ElastiCache's, so the local rehearsal fails the way AWS will.
ALREADY_MIGRATING = "ReplicationGroupAlreadyUnderMigrationFault"
NOT_MIGRATING = "ReplicationGroupNotUnderMigrationFault"
GROUP_NOT_FOUND = "ReplicationGroupNotFoundFault"
INVALID_STATE = "InvalidReplicationGroupState"
