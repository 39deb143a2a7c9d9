"""boto3 clients with standard retries, and every AWS failure turned into one line naming the fix."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from typing import Any

from migrator.errors import Code, MigratorError

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
ELASTICACHE_FIXES: dict[Code, tuple[str, str]] = {
    Code.GROUP_NOT_FOUND: (
        "replication group {group!r} not found in region {region}",
        "check the region (searched {region}; pass --region or fix AWS_REGION) or run "
        "`migrator up --target aws` to create it",
    ),
    Code.INVALID_STATE: (
        "replication group {group!r} is not in a state that allows {operation}",
        "wait until it is available (`migrator migrate status`) and retry",
    ),
    Code.INVALID_CLUSTER_STATE: (
        "a node of {group!r} is not available for {operation}",
        "wait until every node is available (`migrator migrate status`) and retry",
    ),
    Code.ALREADY_MIGRATING: (
        "replication group {group!r} is already under migration",
        "follow it with `migrator migrate status`, then `migrator migrate complete`",
    ),
    Code.NOT_MIGRATING: (
        "replication group {group!r} is not under migration, so there is nothing to complete",
        "start one with `migrator migrate start`",
    ),
    Code.INVALID_PARAMETER: (
        "ElastiCache rejected a parameter of {operation}",
        "check the source address/port (terraform output redis_private_ip, port 6379) "
        "and the target's settings; " + PREFLIGHT_HINT,
    ),
    Code.INVALID_COMBINATION: (
        "ElastiCache rejected the parameters of {operation} together",
        PREFLIGHT_HINT,
    ),
    Code.MIGRATION_HEALTH: (
        "ElastiCache judged the source unhealthy for migration",
        "the source must be reachable from the target, without AUTH, protected-mode no; " + PREFLIGHT_HINT,
    ),
}


@functools.cache
def _model_loader() -> Any:
    """One botocore data loader per process: it caches the parsed service models (megabytes of JSON)."""
    from botocore.loaders import create_loader

    return create_loader()


def make_client(service: str, region: str | None) -> Any:
    """A boto3 client; AWS_ENDPOINT_URL (botocore >= 1.31) redirects it to a local fake in tests.

    A fresh session each time, so credentials and settings are read as they are now; only the parsed
    service models are shared (a new session would parse them again: ~50 ms a client).
    """
    import boto3
    import botocore.session
    from botocore.config import Config

    core = botocore.session.get_session()
    core.register_component("data_loader", _model_loader())
    session = boto3.session.Session(botocore_session=core, region_name=region)
    paths = _model_loader().search_paths  # each boto3 Session appends its data folder: keep one of each
    paths[:] = list(dict.fromkeys(paths))
    return session.client(service, config=Config(retries=RETRY_CONFIG))


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
            known = Code(code)
            message, hint = ELASTICACHE_FIXES[known]
            values = {"group": group or "?", "region": where, "operation": operation}
            detail = f": {text}" if text and known is not Code.GROUP_NOT_FOUND else ""
            return MigratorError(message.format(**values) + detail, hint.format(**values), known)
        if code in THROTTLING_CODES:
            return MigratorError(
                f"AWS throttled {operation} in {where} even after retries with backoff ({code})",
                "wait a minute and retry; fewer parallel ElastiCache API callers help",
                Code.THROTTLED,
            )
        if code in BAD_CREDENTIAL_CODES:
            return MigratorError(
                f"AWS rejected the credentials ({code}: {text})", CREDENTIALS_HINT, Code.BAD_CREDENTIALS
            )
        if code in DENIED_CODES:
            return MigratorError(
                f"not allowed to call {operation} in {where}: {text}",
                f"grant the calling identity permission for {operation} (IAM)",
                Code.ACCESS_DENIED,
            )
        if code == Code.CLUSTER_NOT_FOUND:
            return MigratorError(
                f"{operation}: {text}", "the node may be being replaced; retry", Code.CLUSTER_NOT_FOUND
            )
        return MigratorError(
            f"{operation} failed in {where}: {code}: {text}",
            f"see the AWS documentation for {code}, fix the cause and retry",
            Code.AWS_ERROR,
        )
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return MigratorError("no AWS credentials found", CREDENTIALS_HINT, Code.NO_CREDENTIALS)
    if isinstance(exc, bx.TokenRetrievalError | bx.SSOError):
        return MigratorError(
            f"AWS SSO session is not usable ({exc})", "run `aws sso login`", Code.NO_CREDENTIALS
        )
    if isinstance(exc, bx.NoRegionError):
        return MigratorError("no AWS region configured", "pass --region or set AWS_REGION", Code.NO_REGION)
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError | bx.ReadTimeoutError):
        return MigratorError(
            f"cannot reach the AWS endpoint for {operation} in {where} ({exc})",
            "check the network/proxy and that the region name is right",
            Code.ENDPOINT_UNREACHABLE,
        )
    if isinstance(exc, bx.BotoCoreError):
        return MigratorError(
            f"{operation} failed in {where}: {exc}", "fix the AWS configuration and retry", Code.AWS_ERROR
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
