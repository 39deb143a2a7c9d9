# modules/valkey_target: the seed's ElastiCache for Valkey replication group, ready for online migration.

mock_provider "aws" {}

variables {
  name               = "test"
  subnet_ids         = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
  availability_zones = ["us-east-1a", "us-east-1b"]
  security_group_ids = ["sg-0valkey00000000000"]
}

run "replication_group_follows_the_seed" {
  command = plan

  module {
    source = "./modules/valkey_target"
  }

  assert {
    condition     = aws_elasticache_replication_group.this.engine == "valkey" && aws_elasticache_replication_group.this.engine_version == "8.2"
    error_message = "Engine must be valkey 8.2."
  }
  assert {
    condition     = aws_elasticache_replication_group.this.node_type == "cache.t3.medium"
    error_message = "Default node type must be cache.t3.medium."
  }
  assert {
    condition     = aws_elasticache_replication_group.this.cluster_mode == "disabled" && aws_elasticache_replication_group.this.num_cache_clusters == 2
    error_message = "Cluster mode must be disabled with 2 nodes (primary + 1 replica)."
  }
  assert {
    condition     = aws_elasticache_replication_group.this.preferred_cache_cluster_azs == tolist(["us-east-1a", "us-east-1b"])
    error_message = "The primary must go to zone A and the replica to zone B."
  }
  assert {
    condition     = aws_elasticache_replication_group.this.multi_az_enabled == true && aws_elasticache_replication_group.this.automatic_failover_enabled == true
    error_message = "Multi-AZ and automatic failover must be on."
  }
  assert {
    condition     = aws_elasticache_replication_group.this.transit_encryption_enabled == false
    error_message = "In-transit encryption must be off (online migration requires it)."
  }
  assert {
    # A string attribute in provider 6.x (bool in 5.x): tostring() compares both the same way.
    condition     = tostring(aws_elasticache_replication_group.this.at_rest_encryption_enabled) == "false"
    error_message = "At-rest encryption must be off explicitly (the provider defaults it on for valkey)."
  }
  assert {
    condition     = aws_elasticache_replication_group.this.snapshot_retention_limit >= 1
    error_message = "Automatic snapshots must be on."
  }
  assert {
    condition     = aws_elasticache_replication_group.this.port == 6379 && aws_elasticache_replication_group.this.apply_immediately == true
    error_message = "Port must be 6379 and changes applied immediately by default."
  }
  assert {
    condition     = aws_elasticache_replication_group.this.security_group_ids == toset(["sg-0valkey00000000000"])
    error_message = "The group must use only the Valkey SG."
  }
  assert {
    condition     = aws_elasticache_subnet_group.this.subnet_ids == toset(["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"])
    error_message = "The subnet group must span both private subnets."
  }
  assert {
    condition     = aws_elasticache_parameter_group.this.family == "valkey8"
    error_message = "The parameter group family must be valkey8."
  }
  assert {
    condition = toset([
      for c in aws_elasticache_replication_group.this.log_delivery_configuration : "${c.log_type}|${c.destination_type}|${c.destination}"
      ]) == toset([
      "slow-log|cloudwatch-logs|/aws/vendedlogs/elasticache/test/valkey/slow-log",
      "engine-log|cloudwatch-logs|/aws/vendedlogs/elasticache/test/valkey/engine-log",
    ])
    error_message = "Slow log and engine log must be delivered to their CloudWatch Logs groups."
  }
  assert {
    # Vended-log delivery keeps the account's CloudWatch Logs resource policy under 5,120 characters only
    # for groups under this prefix.
    condition     = alltrue([for g in aws_cloudwatch_log_group.this : startswith(g.name, "/aws/vendedlogs/")])
    error_message = "ElastiCache log groups must live under /aws/vendedlogs/."
  }
  assert {
    condition     = output.configuration_endpoint == null && output.cluster_mode_enabled == false && aws_elasticache_parameter_group.this.name == "test-valkey-valkey8"
    error_message = "Cluster mode disabled: no configuration endpoint, the plain valkey8 parameter group."
  }
  assert {
    condition     = aws_cloudwatch_log_group.this["slow-log"].retention_in_days == 14 && aws_cloudwatch_log_group.this["engine-log"].retention_in_days == 14
    error_message = "Log groups must keep the default 14 days."
  }
  assert {
    condition     = output.replication_group_id == "test-valkey"
    error_message = "The replication group id must default to <name>-valkey."
  }
}

run "scaling_knobs" {
  command = plan

  module {
    source = "./modules/valkey_target"
  }

  variables {
    node_type          = "cache.r6g.large"
    num_cache_clusters = 3
  }

  assert {
    condition     = aws_elasticache_replication_group.this.node_type == "cache.r6g.large" && aws_elasticache_replication_group.this.num_cache_clusters == 3
    error_message = "node_type and num_cache_clusters must be the scaling knobs."
  }
  assert {
    condition     = aws_elasticache_replication_group.this.preferred_cache_cluster_azs == tolist(["us-east-1a", "us-east-1b", "us-east-1a"])
    error_message = "Replicas must alternate between the zones."
  }
}

run "cluster_mode_shards" {
  command = plan

  module {
    source = "./modules/valkey_target"
  }

  variables {
    num_node_groups = 3
  }

  assert {
    condition = (
      aws_elasticache_replication_group.this.cluster_mode == "enabled" &&
      aws_elasticache_replication_group.this.num_node_groups == 3 &&
      aws_elasticache_replication_group.this.replicas_per_node_group == 1
    )
    error_message = "num_node_groups > 1 must enable cluster mode with one replica per shard."
  }
  assert {
    condition     = contains([for p in aws_elasticache_parameter_group.this.parameter : "${p.name}=${p.value}"], "cluster-enabled=yes")
    error_message = "Cluster mode needs cluster-enabled=yes in the parameter group."
  }
  assert {
    condition     = aws_elasticache_parameter_group.this.family == "valkey8" && aws_elasticache_parameter_group.this.name == "test-valkey-valkey8-cluster"
    error_message = "The cluster-mode parameter group is the engine's family with its own name (a new group, not an edit of one in use)."
  }
  assert {
    condition     = aws_elasticache_replication_group.this.preferred_cache_cluster_azs == null
    error_message = "Cluster mode places shards itself: no per-node zone list."
  }
  assert {
    condition     = output.cluster_mode_enabled && output.reader_endpoint == ""
    error_message = "Cluster mode: cluster_mode_enabled true, no reader endpoint."
  }
}

run "cluster_mode_outputs_the_configuration_endpoint" {
  command = apply

  module {
    source = "./modules/valkey_target"
  }

  variables {
    num_node_groups = 3
  }

  assert {
    condition     = output.configuration_endpoint == aws_elasticache_replication_group.this.configuration_endpoint_address && output.primary_endpoint == output.configuration_endpoint
    error_message = "A cluster-mode group is reached through its configuration endpoint (it has no primary endpoint)."
  }
}

run "parameters_reach_the_parameter_group" {
  command = plan

  module {
    source = "./modules/valkey_target"
  }

  variables {
    num_node_groups = 2
    parameters      = [{ name = "maxmemory-policy", value = "noeviction" }]
  }

  assert {
    condition     = toset([for p in aws_elasticache_parameter_group.this.parameter : "${p.name}=${p.value}"]) == toset(["cluster-enabled=yes", "maxmemory-policy=noeviction"])
    error_message = "User parameters must reach the parameter group next to cluster-enabled."
  }
}

run "cluster_enabled_as_a_user_parameter_is_rejected" {
  command = plan

  module {
    source = "./modules/valkey_target"
  }

  variables {
    parameters = [{ name = "cluster-enabled", value = "yes" }]
  }

  expect_failures = [var.parameters]
}

run "node_type_without_cache_prefix_is_rejected" {
  command = plan

  module {
    source = "./modules/valkey_target"
  }

  variables {
    node_type = "t3.medium"
  }

  expect_failures = [var.node_type]
}

run "single_node_is_rejected" {
  command = plan

  module {
    source = "./modules/valkey_target"
  }

  variables {
    num_cache_clusters = 1
  }

  expect_failures = [var.num_cache_clusters]
}

run "snapshots_off_is_rejected" {
  command = plan

  module {
    source = "./modules/valkey_target"
  }

  variables {
    snapshot_retention_limit = 0
  }

  expect_failures = [var.snapshot_retention_limit]
}

run "engine_version_with_patch_is_rejected" {
  command = plan

  module {
    source = "./modules/valkey_target"
  }

  variables {
    engine_version = "8.2.1"
  }

  expect_failures = [var.engine_version]
}
