"""The fake `terraform` executable (./terraform) and the fixtures that put it on PATH."""
