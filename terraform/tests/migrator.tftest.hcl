# modules/migrator, the reusable, provider-free module: its derived defaults (bridge, cluster), its outputs
# (the CLI's API, passed through by the root), the dashboard, and every variable validation.

mock_provider "aws" {
  source = "./tests/mocks"
}

################################################################################
# Defaults: the seed's pair, bridged (issue 10)
################################################################################

run "seed_defaults_turn_the_bridge_on" {
  command = plan

  module {
    source = "./modules/migrator"
  }

  assert {
    condition     = output.redis_version == "7.4.6" && output.bridge_enabled && output.bridge_port == 6380 && output.bridge_valkey_version == "9.1.1"
    error_message = "Redis 7.4.6 writes RDB 12, which Valkey 8.x refuses: the bridge must be on by default, on 6380, Valkey 9.1.1."
  }
  assert {
    condition     = output.region == "us-east-1" && output.availability_zones == tolist(["us-east-1a", "us-east-1b"])
    error_message = "The region comes from the provider; the zones are its first two."
  }
  assert {
    condition     = !output.redis_cluster_enabled && tolist(output.redis_node_ports) == tolist([6379]) && length(output.redis_cluster_slots) == 0
    error_message = "One shard: a standalone source on 6379."
  }
  assert {
    condition     = !output.valkey_cluster_mode_enabled && output.valkey_num_node_groups == 1 && output.valkey_configuration_endpoint == null
    error_message = "One shard: cluster mode disabled, no configuration endpoint."
  }
  assert {
    condition = (
      output.redis_source_log_group == "/migrator/redis-source" && output.redis_log_group_name == output.redis_source_log_group &&
      output.valkey_slow_log_group_name == "/aws/vendedlogs/elasticache/migrator/valkey/slow-log" &&
      output.valkey_engine_log_group_name == "/aws/vendedlogs/elasticache/migrator/valkey/engine-log" &&
      output.flow_log_group_name == "/migrator/vpc-flow-logs"
    )
    error_message = "Log groups: /<name>/... for the host and the flow log, /aws/vendedlogs/... for ElastiCache's deliveries."
  }
  assert {
    condition     = output.dashboard_url == "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards/dashboard/migrator-migration"
    error_message = "dashboard_url must open the migration dashboard in the provider's region."
  }
}

run "a_source_older_than_7_4_needs_no_bridge" {
  command = plan

  module {
    source = "./modules/migrator"
  }

  variables {
    redis_version       = "7.2.11"
    redis_source_sha256 = "0000000000000000000000000000000000000000000000000000000000000001"
  }

  assert {
    condition     = !output.bridge_enabled && output.bridge_port == null && output.bridge_valkey_version == null
    error_message = "Redis 7.2 writes RDB 11, which Valkey 8 reads: no bridge by default, bridge_port null."
  }
}

run "the_bridge_can_be_turned_off" {
  command = plan

  module {
    source = "./modules/migrator"
  }

  variables {
    bridge_enabled = false
  }

  assert {
    condition     = !output.bridge_enabled && output.bridge_port == null
    error_message = "bridge_enabled = false must win over the version's default."
  }
}

run "redis_8_is_bridged_too" {
  command = plan

  module {
    source = "./modules/migrator"
  }

  variables {
    redis_version       = "8.0.2"
    redis_source_sha256 = "0000000000000000000000000000000000000000000000000000000000000002"
  }

  assert {
    condition     = output.bridge_enabled
    error_message = "Redis >= 7.4 (here 8.0) writes RDB >= 12: bridged by default."
  }
}

################################################################################
# Cluster mode (issue 11)
################################################################################

run "three_shards_build_a_cluster_on_both_sides" {
  command = apply

  module {
    source = "./modules/migrator"
  }

  variables {
    valkey_num_node_groups = 3
  }

  assert {
    condition     = output.redis_cluster_enabled && tolist(output.redis_node_ports) == tolist([6379, 6380, 6381]) && output.redis_port == 6379
    error_message = "Three target shards: a source Redis Cluster of three masters on 6379-6381."
  }
  assert {
    condition     = output.valkey_cluster_mode_enabled && output.valkey_num_node_groups == 3
    error_message = "Three shards: a cluster-mode-enabled target."
  }
  assert {
    condition     = output.valkey_configuration_endpoint != null && output.valkey_primary_endpoint == output.valkey_configuration_endpoint && output.valkey_reader_endpoint == ""
    error_message = "Cluster mode: reach the target through its configuration endpoint."
  }
  assert {
    condition     = contains([for p in output.valkey_parameters : "${p.name}=${p.value}"], "cluster-enabled=yes") && endswith(output.valkey_parameter_group_name, "-cluster")
    error_message = "The target's parameter group must set cluster-enabled yes."
  }
  assert {
    condition     = !output.bridge_enabled && output.bridge_port == null
    error_message = "A cluster source is migrated master by master: no bridge."
  }
  assert {
    condition     = output.redis_cluster_slots[0].first_slot == 0 && output.redis_cluster_slots[2].last_slot == 16383
    error_message = "The source's masters must cover every slot."
  }
}

run "a_shard_count_mismatch_is_reported" {
  command = plan

  module {
    source = "./modules/migrator"
  }

  variables {
    valkey_num_node_groups = 3
    redis_cluster_masters  = 2
  }

  expect_failures = [check.source_and_target_have_the_same_shard_count]
}

################################################################################
# Parameters reach the target (issue 13 item 5)
################################################################################

run "valkey_parameters_reach_the_parameter_group" {
  command = plan

  module {
    source = "./modules/migrator"
  }

  variables {
    valkey_parameters = [{ name = "maxmemory-policy", value = "noeviction" }]
  }

  assert {
    condition     = output.valkey_parameters == tolist([{ name = "maxmemory-policy", value = "noeviction" }])
    error_message = "valkey_parameters must reach the target's parameter group."
  }
}

################################################################################
# Dashboard (issue 13 item 8)
################################################################################

run "dashboard_charts_the_target_and_the_host" {
  command = apply

  module {
    source = "./modules/migrator"
  }

  assert {
    condition     = aws_cloudwatch_dashboard.this[0].dashboard_name == "migrator-migration" && output.dashboard_name == "migrator-migration"
    error_message = "The dashboard must be <name>-migration."
  }
  assert {
    condition = alltrue([
      for metric in ["CPUUtilization", "EngineCPUUtilization", "DatabaseMemoryUsagePercentage", "NetworkBytesIn", "NetworkBytesOut", "PrimaryLinkHealthStatus", "ReplicationBytes"] :
      length([
        for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : w
        if contains([for m in w.properties.metrics : "${m[0]}|${m[1]}|${m[2]}|${m[3]}"], "AWS/ElastiCache|${metric}|CacheClusterId|migrator-valkey-001") &&
        contains([for m in w.properties.metrics : "${m[0]}|${m[1]}|${m[2]}|${m[3]}"], "AWS/ElastiCache|${metric}|CacheClusterId|migrator-valkey-002")
      ]) == 1
    ])
    error_message = "Each ElastiCache metric (CPU, engine CPU, memory, network, PrimaryLinkHealthStatus, replication bytes) must be charted for every node."
  }
  assert {
    condition = alltrue([
      for metric in ["AWS/EC2|CPUUtilization", "AWS/EC2|NetworkIn", "AWS/EC2|NetworkOut", "CWAgent|mem_used_percent"] :
      anytrue([
        for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets :
        contains([for m in w.properties.metrics : "${m[0]}|${m[1]}|${m[2]}|${m[3]}"], "${metric}|InstanceId|${output.redis_instance_id}")
      ])
    ])
    error_message = "The host's CPU, network (EC2) and memory (CloudWatch agent) must be charted for its instance."
  }
  assert {
    condition     = alltrue([for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : w.properties.region == "us-east-1" && w.type == "metric"])
    error_message = "Every widget must read the metrics of the environment's region."
  }
}

run "dashboard_can_be_left_out" {
  command = plan

  module {
    source = "./modules/migrator"
  }

  variables {
    dashboard_enabled = false
  }

  assert {
    condition     = length(aws_cloudwatch_dashboard.this) == 0 && output.dashboard_url == null && output.dashboard_name == null
    error_message = "dashboard_enabled = false: no dashboard, dashboard_url null."
  }
}

################################################################################
# Every validation rejects bad input
################################################################################

run "bad_name" {
  command = plan
  module {
    source = "./modules/migrator"
  }
  variables {
    name = "Migrator_1"
  }
  expect_failures = [var.name]
}

run "one_availability_zone" {
  command = plan
  module {
    source = "./modules/migrator"
  }
  variables {
    availability_zones = ["us-east-1a"]
  }
  expect_failures = [var.availability_zones]
}

run "vpc_cidr_not_a_network_address" {
  command = plan
  module {
    source = "./modules/migrator"
  }
  variables {
    vpc_cidr = "10.0.0.1/16"
  }
  expect_failures = [var.vpc_cidr]
}

run "vpc_cidr_not_a_cidr" {
  command = plan
  module {
    source = "./modules/migrator"
  }
  variables {
    vpc_cidr = "10.0.0.0"
  }
  expect_failures = [var.vpc_cidr]
}

run "bad_public_subnet_a_cidr" {
  command = plan
  module {
    source = "./modules/migrator"
  }
  variables {
    public_subnet_a_cidr = "10.0.0.0/33"
  }
  expect_failures = [var.public_subnet_a_cidr]
}

run "bad_public_subnet_b_cidr" {
  command = plan
  module {
    source = "./modules/migrator"
  }
  variables {
    public_subnet_b_cidr = "not-a-cidr"
  }
  expect_failures = [var.public_subnet_b_cidr]
}

run "bad_private_subnet_a_cidr" {
  command = plan
  module {
    source = "./modules/migrator"
  }
  variables {
    private_subnet_a_cidr = "10.0.2.7/24"
  }
  expect_failures = [var.private_subnet_a_cidr]
}

run "bad_private_subnet_b_cidr" {
  command = plan
  module {
    source = "./modules/migrator"
  }
  variables {
    private_subnet_b_cidr = "10.0.3.0"
  }
  expect_failures = [var.private_subnet_b_cidr]
}

run "bad_redis_instance_type" {
  command = plan
  module {
    source = "./modules/migrator"
  }
  variables {
    redis_instance_type = "medium"
  }
  expect_failures = [var.redis_instance_type]
}

run "bad_redis_version" {
  command = plan
  module {
    source = "./modules/migrator"
  }
  variables {
    redis_version = "7.4"
  }
  expect_failures = [var.redis_version]
}

run "bad_redis_source_sha256" {
  command = plan
  module {
    source = "./modules/migrator"
  }
  variables {
    redis_source_sha256 = "73B94484"
  }
  expect_failures = [var.redis_source_sha256]
}

run "bad_valkey_node_type" {
  command = plan
  module {
    source = "./modules/migrator"
  }
  variables {
    valkey_node_type = "t3.medium"
  }
  expect_failures = [var.valkey_node_type]
}

run "bad_valkey_engine_version" {
  command = plan
  module {
    source = "./modules/migrator"
  }
  variables {
    valkey_engine_version = "8"
  }
  expect_failures = [var.valkey_engine_version]
}

run "valkey_single_node" {
  command = plan
  module {
    source = "./modules/migrator"
  }
  variables {
    valkey_num_cache_clusters = 1
  }
  expect_failures = [var.valkey_num_cache_clusters]
}

run "bad_valkey_num_node_groups" {
  command = plan
  module {
    source = "./modules/migrator"
  }
  variables {
    valkey_num_node_groups = 0
  }
  expect_failures = [var.valkey_num_node_groups]
}

run "snapshots_off" {
  command = plan
  module {
    source = "./modules/migrator"
  }
  variables {
    snapshot_retention_limit = 0
  }
  expect_failures = [var.snapshot_retention_limit]
}

run "bad_log_retention_days" {
  command = plan
  module {
    source = "./modules/migrator"
  }
  variables {
    log_retention_days = 13
  }
  expect_failures = [var.log_retention_days]
}

run "bad_redis_cluster_masters" {
  command = plan
  module {
    source = "./modules/migrator"
  }
  variables {
    redis_cluster_masters = 0
  }
  expect_failures = [var.redis_cluster_masters]
}
