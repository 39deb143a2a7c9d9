# Shared mock values for `mock_provider "aws" { source = "./tests/mocks" }`: what the module slices,
# compares or renders must be plausible; everything else stays made up.

mock_data "aws_availability_zones" {
  defaults = {
    names = ["us-east-1a", "us-east-1b", "us-east-1c"]
  }
}

mock_data "aws_ssm_parameter" {
  defaults = {
    insecure_value = "ami-0123456789abcdef0"
  }
}

mock_data "aws_partition" {
  defaults = {
    partition = "aws"
  }
}

mock_data "aws_caller_identity" {
  defaults = {
    account_id = "123456789012"
  }
}

# `region` (6.x) and `name` (5.x): the module reads whichever the provider has.
mock_data "aws_region" {
  defaults = {
    region = "us-east-1"
    name   = "us-east-1"
  }
}

# Node ids as ElastiCache names them, for the dashboard's per-node metrics.
mock_resource "aws_elasticache_replication_group" {
  defaults = {
    member_clusters = ["migrator-valkey-001", "migrator-valkey-002"]
  }
}
