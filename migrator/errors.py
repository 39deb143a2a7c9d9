"""The project's one error type and the catalogue of every error code it may carry.

One code per condition, the same on both targets: a script can act on `error.code` whether the rehearsal or
AWS raised it. Codes that mirror ElastiCache's faults keep ElastiCache's names, so the local rehearsal fails
the way AWS will. A test fails on any MigratorError whose code is not in the catalogue.
"""

from __future__ import annotations

import enum


class Code(enum.StrEnum):
    # ---- life cycle, named as ElastiCache names them ------------------------------------------------------
    ALREADY_MIGRATING = "ReplicationGroupAlreadyUnderMigrationFault"
    NOT_MIGRATING = "ReplicationGroupNotUnderMigrationFault"
    GROUP_NOT_FOUND = "ReplicationGroupNotFoundFault"
    INVALID_STATE = "InvalidReplicationGroupState"
    CLUSTER_NOT_FOUND = "CacheClusterNotFound"
    INVALID_CLUSTER_STATE = "InvalidCacheClusterState"
    INVALID_PARAMETER = "InvalidParameterValue"
    INVALID_COMBINATION = "InvalidParameterCombination"
    MIGRATION_HEALTH = "MigrationHealthFault"
    # ---- the engine's rules --------------------------------------------------------------------------------
    PREFLIGHT_FAILED = "PreflightFailed"
    TEST_FAILED = "TestFailed"
    TEST_TIMEOUT = "TestTimeout"
    MIGRATION_FAILED = "MigrationFailed"
    MIGRATION_TIMEOUT = "MigrationTimeout"
    LINK_DOWN = "LinkDown"
    LINK_UNKNOWN = "LinkUnknown"
    CATCH_UP_TIMEOUT = "CatchUpTimeout"
    TARGET_OUT_OF_MEMORY = "TargetOutOfMemory"
    COMPLETE_FAILED = "CompleteFailed"
    DATA_PLANE_REQUIRED = "DataPlaneRequired"
    SAME_SERVER = "SameServer"
    HASH_FIELD_TTLS = "HashFieldTtls"  # the source holds what a bridged migration cannot carry
    # ---- the workspace and local servers -------------------------------------------------------------------
    NO_ENVIRONMENT = "NoEnvironment"
    WRONG_TARGET = "WrongTarget"
    CORRUPT_STATE = "CorruptState"
    SERVER_BINARY_MISSING = "ServerBinaryMissing"
    SERVER_START_FAILED = "ServerStartFailed"
    UNSUPPORTED_VERSION = "UnsupportedVersion"  # a server too old for what is asked of it
    UNSUPPORTED_SERVER_VERSION = "UnsupportedServerVersion"  # a version the server matrix does not have
    BRIDGE_BINARY_UNSUITABLE = "BridgeBinaryUnsuitable"
    PORT_IN_USE = "PortInUse"
    NO_FREE_PORT = "NoFreePort"
    INVALID_PORT = "InvalidPort"
    # ---- local clusters ------------------------------------------------------------------------------------
    NOT_A_CLUSTER = "NotACluster"
    CLUSTER_NOT_READY = "ClusterNotReady"
    INVALID_SHARD_COUNT = "InvalidShardCount"
    SLOT_LAYOUT_CHANGED = "SlotLayoutChanged"  # the source resharded under a running migration
    KEYS_DROPPED_ON_LOAD = "KeysDroppedOnLoad"  # a node deleted keys of slots its nodes.conf gives away
    # ---- connections to Redis / Valkey ---------------------------------------------------------------------
    UNREACHABLE = "Unreachable"
    AUTH_REQUIRED = "AuthRequired"
    PROTECTED_MODE = "ProtectedMode"
    REDIS_ERROR = "RedisError"
    INVALID_URL = "InvalidURL"
    TLS_NOT_SUPPORTED = "TLSNotSupported"
    AUTH_NOT_SUPPORTED = "AuthNotSupported"
    # ---- the command line ----------------------------------------------------------------------------------
    USAGE_ERROR = "UsageError"
    INVALID_VALUE = "InvalidValue"
    CANCELLED = "Cancelled"
    CONFIRMATION_REQUIRED = "ConfirmationRequired"
    INTERRUPTED = "Interrupted"
    INTERNAL_ERROR = "InternalError"
    # ---- AWS -----------------------------------------------------------------------------------------------
    NO_CREDENTIALS = "NoCredentials"
    BAD_CREDENTIALS = "BadCredentials"
    ACCESS_DENIED = "AccessDenied"
    THROTTLED = "Throttling"
    NO_REGION = "NoRegion"
    ENDPOINT_UNREACHABLE = "EndpointUnreachable"
    AWS_ERROR = "AwsError"
    UNKNOWN_PRICE = "UnknownPrice"
    # ---- Terraform -----------------------------------------------------------------------------------------
    TERRAFORM_NOT_FOUND = "TerraformNotFound"
    TERRAFORM_TOO_OLD = "TerraformTooOld"
    TERRAFORM_FAILED = "TerraformFailed"
    MODULE_NOT_FOUND = "ModuleNotFound"
    VAR_FILE_NOT_FOUND = "VarFileNotFound"
    UNKNOWN_OUTPUT = "UnknownOutput"
    REPLACE_WHILE_MIGRATING = "ReplaceWhileMigrating"  # the plan replaces the source host or target group
    # ---- the source host's build (user data) ---------------------------------------------------------------
    HOST_BUILD_FAILED = "HostBuildFailed"
    HOST_BUILD_TIMEOUT = "HostBuildTimeout"
    # ---- the tunnel ----------------------------------------------------------------------------------------
    TUNNEL_OPEN = "TunnelOpen"
    TUNNEL_FAILED = "TunnelFailed"
    TUNNEL_DROPPED = "TunnelDropped"
    SSH_NOT_FOUND = "SshNotFound"
    AWS_CLI_NOT_FOUND = "AwsCliNotFound"
    AWS_CLI_TOO_OLD = "AwsCliTooOld"


CATALOGUE: frozenset[str] = frozenset(code.value for code in Code)


class MigratorError(Exception):
    """A problem the user can act on. The CLI prints it as one line and exits with `exit_code`."""

    exit_code = 2

    def __init__(self, message: str, hint: str = "", code: Code | str = Code.INTERNAL_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = str(code)

    def one_line(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "hint": self.hint}


# Older names, kept so existing imports work.
ALREADY_MIGRATING = Code.ALREADY_MIGRATING
NOT_MIGRATING = Code.NOT_MIGRATING
GROUP_NOT_FOUND = Code.GROUP_NOT_FOUND
INVALID_STATE = Code.INVALID_STATE
