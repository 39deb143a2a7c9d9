"""The AWS target: Terraform for the environment, boto3 for the ElastiCache migration life cycle.

Nothing here imports boto3 or python_terraform at module level: `import migrator.cli` must stay light.
`environment` runs Terraform, `migration` is the life cycle's mechanism, `elasticache` the API calls,
`preflight` the target group's rows, `tunnel` the SSH forwards, `outputs` the module's outputs.
"""
