"""migrator: rehearse, run and prove an online Redis → ElastiCache for Valkey migration."""

__version__ = "0.1.0"
