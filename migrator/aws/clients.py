"""boto3 clients with standard retries, and every AWS failure turned into one line naming the fix."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from migrator.errors import (
    ALREADY_MIGRATING,
    GROUP_NOT_FOUND,
    INVALID_STATE,
    NOT_MIGRATING,
    MigratorError,
)

# Standard mode retries throttling and transient errors with exponential backoff and jitter (legacy mode
# retries fewer error codes); 8 attempts ride out a throttled ElastiCache control plane for ~a minute.
RETRY_CONFIG = {"mode": "standard", "total_max_attempts": 8}
CREDENTIALS_HINT = (
    "run `aws configure` or `aws sso login`, or set AWS_PROFILE "
    "(or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
)
PREFLIGHT_HINT = "run `migrator migrate preflight` to see which requirement is not met"

THROTTLING_CODES = {
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
}
BAD_CREDENTIAL_CODES = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "AuthFailure",
    "InvalidAccessKeyId",
}
DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}

# ElastiCache fault code → (what it means here, the fix); `{group}`, `{region}`, `{operation}` filled in.
ELASTICACHE_FIXES: dict[str, tuple[str, str]] = {
    GROUP_NOT_FOUND: (
        "replication group {group!r} not found in region {region}",
        "check the region (searched {region}; pass --region or fix AWS_REGION) or run "
        "`migrator up --target aws` to create it",
    ),
    INVALID_STATE: (
        "replication group {group!r} is not in a state that allows {operation}",
        "wait until it is available (`migrator migrate status`) and retry",
    ),
    "InvalidCacheClusterState": (
        "a node of {group!r} is not available for {operation}",
        "wait until every node is available (`migrator migrate status`) and retry",
    ),
    ALREADY_MIGRATING: (
        "replication group {group!r} is already under migration",
        "follow it with `migrator migrate status`, then `migrator migrate complete`",
    ),
    NOT_MIGRATING: (
        "replication group {group!r} is not under migration, so there is nothing to complete",
        "start one with `migrator migrate start`",
    ),
    "InvalidParameterValue": (
        "ElastiCache rejected a parameter of {operation}",
        "check the source address/port (terraform output redis_private_ip, port 6379) "
        "and the target's settings; " + PREFLIGHT_HINT,
    ),
    "InvalidParameterCombination": (
        "ElastiCache rejected the parameters of {operation} together",
        PREFLIGHT_HINT,
    ),
    "MigrationHealthFault": (
        "ElastiCache judged the source unhealthy for migration",
        "the source must be reachable from the target, without AUTH, protected-mode no; " + PREFLIGHT_HINT,
    ),
}


def make_client(service: str, region: str | None) -> Any:
    """A boto3 client; AWS_ENDPOINT_URL (botocore >= 1.31) redirects it to a local fake in tests."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session(region_name=region).client(service, config=Config(retries=RETRY_CONFIG))


def default_region() -> str | None:
    """The region boto3 would use (AWS_REGION, AWS_DEFAULT_REGION, the profile), or None."""
    import boto3

    return boto3.session.Session().region_name or os.environ.get("AWS_REGION")


def translate(
    exc: Exception, operation: str, region: str | None, group: str | None = None
) -> MigratorError | None:
    """The one-line MigratorError for a botocore exception, or None when it is not an AWS error."""
    from botocore import exceptions as bx

    where = region or "(no region)"
    if isinstance(exc, bx.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        text = " ".join(str(error.get("Message", "")).split())
        if code in ELASTICACHE_FIXES:
            message, hint = ELASTICACHE_FIXES[code]
            values = {"group": group or "?", "region": where, "operation": operation}
            detail = f": {text}" if text and code != GROUP_NOT_FOUND else ""
            return MigratorError(message.format(**values) + detail, hint.format(**values), code)
        if code in THROTTLING_CODES:
            return MigratorError(
                f"AWS throttled {operation} in {where} even after retries with backoff",
                "wait a minute and retry; fewer parallel ElastiCache API callers help",
                code,
            )
        if code in BAD_CREDENTIAL_CODES:
            return MigratorError(f"AWS rejected the credentials ({code}: {text})", CREDENTIALS_HINT, code)
        if code in DENIED_CODES:
            return MigratorError(
                f"not allowed to call {operation} in {where}: {text}",
                f"grant the calling identity permission for {operation} (IAM)",
                code,
            )
        return MigratorError(
            f"{operation} failed in {where}: {code}: {text}",
            f"see the AWS documentation for {code}, fix the cause and retry",
            code,
        )
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return MigratorError("no AWS credentials found", CREDENTIALS_HINT, "NoCredentials")
    if isinstance(exc, bx.TokenRetrievalError | bx.SSOError):
        return MigratorError(f"AWS SSO session is not usable ({exc})", "run `aws sso login`", "NoCredentials")
    if isinstance(exc, bx.NoRegionError):
        return MigratorError("no AWS region configured", "pass --region or set AWS_REGION", "NoRegion")
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError | bx.ReadTimeoutError):
        return MigratorError(
            f"cannot reach the AWS endpoint for {operation} in {where} ({exc})",
            "check the network/proxy and that the region name is right",
            "EndpointUnreachable",
        )
    if isinstance(exc, bx.BotoCoreError):
        return MigratorError(
            f"{operation} failed in {where}: {exc}", "fix the AWS configuration and retry", "AwsError"
        )
    return None


@contextlib.contextmanager
def aws_errors(operation: str, region: str | None, group: str | None = None) -> Iterator[None]:
    """Run AWS calls, re-raising their failures as MigratorError with the fix."""
    try:
        yield
    except MigratorError:
        raise
    except Exception as exc:
        translated = translate(exc, operation, region, group)
        if translated is None:
            raise
        raise translated from None


def check_credentials(region: str | None) -> dict[str, str]:
    """STS GetCallerIdentity: prove credentials resolve before anything costs money."""
    with aws_errors("sts:GetCallerIdentity", region):
        identity = make_client("sts", region).get_caller_identity()
    return {"account": identity.get("Account", ""), "arn": identity.get("Arn", "")}
