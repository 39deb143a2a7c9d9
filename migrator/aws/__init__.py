"""The AWS target: Terraform for the environment, boto3 for the ElastiCache migration life cycle.

Nothing here imports boto3 or python_terraform at module level: `import migrator.cli` must stay light.
"""

from __future__ import annotations

from migrator.aws.migration import AwsMigration

__all__ = ["AwsMigration"]
