# Root module: wiring, defaults and every root variable validation. The child modules' own files check
# their resources; here only the root's outputs (the CLI's API) can be asserted.

mock_provider "aws" {
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
    error_message = "The source defaults to t3.medium running Redis 7.4.6."
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
    condition     = length(output.nat_gateway_ids) == 1
    error_message = "Exactly one NAT gateway."
  }
  assert {
    condition = (
      output.redis_log_group_name == "/migrator/redis-source" &&
      output.valkey_slow_log_group_name == "/migrator/valkey/slow-log" &&
      output.valkey_engine_log_group_name == "/migrator/valkey/engine-log" &&
      output.flow_log_group_name == "/migrator/vpc-flow-logs"
    )
    error_message = "Log group names must follow /<name>/..."
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
        output.flow_log_group_name,
      ] : v != null && v != ""
    ])
    error_message = "Every output the CLI reads must have a value."
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
    condition     = output.replication_group_id == "rehearsal-valkey" && output.redis_log_group_name == "/rehearsal/redis-source"
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

################################################################################
# Every root validation rejects bad input
################################################################################

run "bad_name" {
  command = plan
  variables {
    name = "Migrator_1"
  }
  expect_failures = [var.name]
}

run "bad_region" {
  command = plan
  variables {
    region = "us-east"
  }
  expect_failures = [var.region]
}

run "one_availability_zone" {
  command = plan
  variables {
    availability_zones = ["us-east-1a"]
  }
  expect_failures = [var.availability_zones]
}

run "vpc_cidr_not_a_network_address" {
  command = plan
  variables {
    vpc_cidr = "10.0.0.1/16"
  }
  expect_failures = [var.vpc_cidr]
}

run "vpc_cidr_not_a_cidr" {
  command = plan
  variables {
    vpc_cidr = "10.0.0.0"
  }
  expect_failures = [var.vpc_cidr]
}

run "bad_public_subnet_a_cidr" {
  command = plan
  variables {
    public_subnet_a_cidr = "10.0.0.0/33"
  }
  expect_failures = [var.public_subnet_a_cidr]
}

run "bad_public_subnet_b_cidr" {
  command = plan
  variables {
    public_subnet_b_cidr = "not-a-cidr"
  }
  expect_failures = [var.public_subnet_b_cidr]
}

run "bad_private_subnet_a_cidr" {
  command = plan
  variables {
    private_subnet_a_cidr = "10.0.2.7/24"
  }
  expect_failures = [var.private_subnet_a_cidr]
}

run "bad_private_subnet_b_cidr" {
  command = plan
  variables {
    private_subnet_b_cidr = "10.0.3.0"
  }
  expect_failures = [var.private_subnet_b_cidr]
}

run "bad_redis_instance_type" {
  command = plan
  variables {
    redis_instance_type = "medium"
  }
  expect_failures = [var.redis_instance_type]
}

run "bad_redis_version" {
  command = plan
  variables {
    redis_version = "7.4"
  }
  expect_failures = [var.redis_version]
}

run "bad_redis_source_sha256" {
  command = plan
  variables {
    redis_source_sha256 = "73B94484"
  }
  expect_failures = [var.redis_source_sha256]
}

run "bad_valkey_node_type" {
  command = plan
  variables {
    valkey_node_type = "t3.medium"
  }
  expect_failures = [var.valkey_node_type]
}

run "bad_valkey_engine_version" {
  command = plan
  variables {
    valkey_engine_version = "8"
  }
  expect_failures = [var.valkey_engine_version]
}

run "valkey_single_node" {
  command = plan
  variables {
    valkey_num_cache_clusters = 1
  }
  expect_failures = [var.valkey_num_cache_clusters]
}

run "bad_valkey_num_node_groups" {
  command = plan
  variables {
    valkey_num_node_groups = 0
  }
  expect_failures = [var.valkey_num_node_groups]
}

run "snapshots_off" {
  command = plan
  variables {
    snapshot_retention_limit = 0
  }
  expect_failures = [var.snapshot_retention_limit]
}

run "bad_log_retention_days" {
  command = plan
  variables {
    log_retention_days = 13
  }
  expect_failures = [var.log_retention_days]
}
