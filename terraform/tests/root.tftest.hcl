# The thin root the CLI applies: it configures the provider and passes every input through (null = the
# module's default). Assertions see only the root's outputs, the CLI's API; modules/migrator's own file
# checks the derived defaults and every validation.

mock_provider "aws" {
  source = "./tests/mocks"
}

run "defaults_plan" {
  command = plan

  assert {
    condition     = output.region == "us-east-1"
    error_message = "Default region must be us-east-1."
  }
  assert {
    condition     = output.availability_zones == tolist(["us-east-1a", "us-east-1b"])
    error_message = "With availability_zones = [] the first two zones of the region must be used."
  }
  assert {
    condition     = output.redis_instance_type == "t3.medium" && output.redis_version == "7.4.6"
    error_message = "The source defaults to t3.medium running Redis 7.4.6 (null inputs take the module's defaults)."
  }
  assert {
    condition     = output.valkey_node_type == "cache.t3.medium" && output.valkey_num_cache_clusters == 2 && output.valkey_num_node_groups == 1
    error_message = "The target defaults to two cache.t3.medium nodes, cluster mode disabled."
  }
  assert {
    condition     = output.replication_group_id == "migrator-valkey" && output.valkey_port == 6379 && output.redis_port == 6379
    error_message = "Replication group id and ports must follow the defaults."
  }
  assert {
    condition     = output.bridge_enabled && output.bridge_port == 6380
    error_message = "The seed's Redis 7.4.6 gets the Valkey bridge on 6380 by default."
  }
  assert {
    condition     = length(output.nat_gateway_ids) == 1
    error_message = "Exactly one NAT gateway."
  }
  assert {
    condition = (
      output.redis_log_group_name == "/migrator/redis-source" &&
      output.valkey_slow_log_group_name == "/aws/vendedlogs/elasticache/migrator/valkey/slow-log" &&
      output.valkey_engine_log_group_name == "/aws/vendedlogs/elasticache/migrator/valkey/engine-log" &&
      output.flow_log_group_name == "/migrator/vpc-flow-logs"
    )
    error_message = "Log group names must follow /<name>/... and /aws/vendedlogs/elasticache/<name>/..."
  }
}

run "every_output_has_a_value_after_apply" {
  # Mock apply: fake ids everywhere, nothing is created. Proves the CLI's outputs are all wired.
  command = apply

  variables {
    name               = "rehearsal"
    region             = "eu-west-1"
    availability_zones = ["eu-west-1b", "eu-west-1c"]
    tags               = { Owner = "sre" }
  }

  assert {
    condition = alltrue([
      for v in [
        output.vpc_id, output.redis_private_ip, output.redis_instance_id, output.eic_endpoint_id,
        output.eic_security_group_id, output.redis_security_group_id, output.valkey_security_group_id,
        output.valkey_primary_endpoint, output.valkey_reader_endpoint, output.replication_group_id,
        output.redis_log_group_name, output.valkey_slow_log_group_name, output.valkey_engine_log_group_name,
        output.flow_log_group_name, output.redis_source_log_group, output.redis_source_log_stream,
        output.dashboard_name, output.dashboard_url, output.valkey_parameter_group_name, output.redis_iam_role_name,
      ] : v != null && v != ""
    ])
    error_message = "Every output the CLI reads must have a value."
  }
  assert {
    condition     = output.redis_source_log_stream == "${output.redis_instance_id}/user-data.log" && contains(output.redis_source_log_streams, output.redis_source_log_stream)
    error_message = "The build verdict's stream is <instance id>/user-data.log in redis_source_log_group."
  }
  assert {
    condition     = length(output.public_subnet_ids) == 2 && length(output.private_subnet_ids) == 2
    error_message = "Two public and two private subnet ids."
  }
  assert {
    condition     = output.region == "eu-west-1" && output.availability_zones == tolist(["eu-west-1b", "eu-west-1c"])
    error_message = "region and availability_zones must be honoured."
  }
  assert {
    condition     = output.replication_group_id == "rehearsal-valkey" && output.redis_log_group_name == "/rehearsal/redis-source" && output.dashboard_name == "rehearsal-migration"
    error_message = "name must prefix the resources."
  }
  assert {
    condition     = length(distinct([output.redis_security_group_id, output.valkey_security_group_id, output.eic_security_group_id])) == 3
    error_message = "Three distinct security groups."
  }
}

run "scaling_knobs_reach_the_outputs" {
  command = plan

  variables {
    redis_instance_type       = "c5.large"
    valkey_node_type          = "cache.r6g.large"
    valkey_num_cache_clusters = 3
  }

  assert {
    condition     = output.redis_instance_type == "c5.large" && output.valkey_node_type == "cache.r6g.large" && output.valkey_num_cache_clusters == 3
    error_message = "Scaling knobs must reach the outputs the cost estimate reads."
  }
}

run "every_new_input_is_passed_through" {
  command = plan

  variables {
    valkey_num_node_groups = 2
    valkey_parameters      = [{ name = "maxmemory-policy", value = "noeviction" }]
    dashboard_enabled      = false
  }

  assert {
    condition     = toset([for p in output.valkey_parameters : "${p.name}=${p.value}"]) == toset(["cluster-enabled=yes", "maxmemory-policy=noeviction"])
    error_message = "valkey_parameters (and cluster mode's cluster-enabled) must reach the target's parameter group from the root."
  }
  assert {
    condition     = output.redis_cluster_enabled && tolist(output.redis_node_ports) == tolist([6379, 6380]) && output.valkey_cluster_mode_enabled
    error_message = "valkey_num_node_groups = 2 must build a 2-master source cluster and a cluster-mode target from the root."
  }
  assert {
    condition     = !output.bridge_enabled && output.dashboard_url == null
    error_message = "No bridge for a cluster source; dashboard_enabled = false must reach the module."
  }
}

run "bad_region" {
  command = plan
  variables {
    region = "us-east"
  }
  expect_failures = [var.region]
}
