# modules/security: exactly the seed's rules, each a separate resource with a description, none from 0.0.0.0/0.

mock_provider "aws" {}

variables {
  name   = "test"
  vpc_id = "vpc-0123456789abcdef0"
}

run "rules_reference_the_right_groups" {
  # apply with the mock provider so group ids are known and can be compared. Nothing is created.
  command = apply

  module {
    source = "./modules/security"
  }

  # Redis source host
  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.redis_from_valkey.security_group_id == aws_security_group.redis.id &&
      aws_vpc_security_group_ingress_rule.redis_from_valkey.referenced_security_group_id == aws_security_group.valkey.id &&
      aws_vpc_security_group_ingress_rule.redis_from_valkey.ip_protocol == "tcp" &&
      aws_vpc_security_group_ingress_rule.redis_from_valkey.from_port == 6379 &&
      aws_vpc_security_group_ingress_rule.redis_from_valkey.to_port == 6379
    )
    error_message = "Redis SG must admit tcp/6379 from the Valkey SG."
  }
  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.redis_ssh_from_eic.security_group_id == aws_security_group.redis.id &&
      aws_vpc_security_group_ingress_rule.redis_ssh_from_eic.referenced_security_group_id == aws_security_group.eic.id &&
      aws_vpc_security_group_ingress_rule.redis_ssh_from_eic.ip_protocol == "tcp" &&
      aws_vpc_security_group_ingress_rule.redis_ssh_from_eic.from_port == 22 &&
      aws_vpc_security_group_ingress_rule.redis_ssh_from_eic.to_port == 22
    )
    error_message = "Redis SG must admit tcp/22 from the EIC endpoint SG only."
  }
  assert {
    condition = (
      aws_vpc_security_group_egress_rule.redis_all.security_group_id == aws_security_group.redis.id &&
      aws_vpc_security_group_egress_rule.redis_all.ip_protocol == "-1" &&
      aws_vpc_security_group_egress_rule.redis_all.cidr_ipv4 == "0.0.0.0/0"
    )
    error_message = "Redis SG must allow all outbound traffic (seed)."
  }

  # Valkey target
  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.valkey_from_redis.security_group_id == aws_security_group.valkey.id &&
      aws_vpc_security_group_ingress_rule.valkey_from_redis.referenced_security_group_id == aws_security_group.redis.id &&
      aws_vpc_security_group_ingress_rule.valkey_from_redis.ip_protocol == "tcp" &&
      aws_vpc_security_group_ingress_rule.valkey_from_redis.from_port == 6379 &&
      aws_vpc_security_group_ingress_rule.valkey_from_redis.to_port == 6379
    )
    error_message = "Valkey SG must admit tcp/6379 from the Redis SG."
  }
  assert {
    condition = (
      aws_vpc_security_group_egress_rule.valkey_all.security_group_id == aws_security_group.valkey.id &&
      aws_vpc_security_group_egress_rule.valkey_all.ip_protocol == "-1" &&
      aws_vpc_security_group_egress_rule.valkey_all.cidr_ipv4 == "0.0.0.0/0"
    )
    error_message = "Valkey SG must allow all outbound traffic (seed)."
  }

  # EC2 Instance Connect Endpoint
  assert {
    condition = (
      aws_vpc_security_group_egress_rule.eic_ssh_to_redis.security_group_id == aws_security_group.eic.id &&
      aws_vpc_security_group_egress_rule.eic_ssh_to_redis.referenced_security_group_id == aws_security_group.redis.id &&
      aws_vpc_security_group_egress_rule.eic_ssh_to_redis.ip_protocol == "tcp" &&
      aws_vpc_security_group_egress_rule.eic_ssh_to_redis.from_port == 22 &&
      aws_vpc_security_group_egress_rule.eic_ssh_to_redis.to_port == 22 &&
      aws_vpc_security_group_egress_rule.eic_ssh_to_redis.cidr_ipv4 == null
    )
    error_message = "EIC SG must allow tcp/22 to the Redis SG and nothing else."
  }

  # Nothing inbound from anywhere: every ingress rule names a security group and no CIDR or prefix list.
  assert {
    condition = alltrue([
      for r in [
        aws_vpc_security_group_ingress_rule.redis_from_valkey,
        aws_vpc_security_group_ingress_rule.redis_ssh_from_eic,
        aws_vpc_security_group_ingress_rule.valkey_from_redis,
      ] : r.cidr_ipv4 == null && r.cidr_ipv6 == null && r.prefix_list_id == null && r.referenced_security_group_id != null
    ])
    error_message = "No ingress rule may admit a CIDR (least of all 0.0.0.0/0) or prefix list."
  }

  # Every rule and group says why it exists.
  assert {
    condition = alltrue([
      for d in [
        aws_vpc_security_group_ingress_rule.redis_from_valkey.description,
        aws_vpc_security_group_ingress_rule.redis_ssh_from_eic.description,
        aws_vpc_security_group_ingress_rule.valkey_from_redis.description,
        aws_vpc_security_group_egress_rule.redis_all.description,
        aws_vpc_security_group_egress_rule.valkey_all.description,
        aws_vpc_security_group_egress_rule.eic_ssh_to_redis.description,
        aws_security_group.redis.description,
        aws_security_group.valkey.description,
        aws_security_group.eic.description,
      ] : d != null && length(d) > 10
    ])
    error_message = "Every security group and rule needs a description."
  }

  # Inline rules would conflict with the separate rule resources.
  assert {
    condition     = alltrue([for g in [aws_security_group.redis, aws_security_group.valkey, aws_security_group.eic] : g.vpc_id == "vpc-0123456789abcdef0" && startswith(g.name_prefix, "test-")])
    error_message = "Groups must live in the given VPC and use the name prefix."
  }
  assert {
    condition     = output.redis_security_group_id == aws_security_group.redis.id && output.valkey_security_group_id == aws_security_group.valkey.id && output.eic_security_group_id == aws_security_group.eic.id
    error_message = "Outputs must return the matching group ids."
  }
}

run "ssh_port_outside_eic_tunnel_ports_is_rejected" {
  command = plan

  module {
    source = "./modules/security"
  }

  variables {
    ssh_port = 2222
  }

  expect_failures = [var.ssh_port]
}

run "no_bridge_rule_without_a_bridge" {
  command = plan

  module {
    source = "./modules/security"
  }

  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.bridge_from_valkey) == 0 && output.bridge_port == null
    error_message = "Without a bridge the Redis SG admits nothing but 6379 (and SSH from the endpoint)."
  }
}

run "bridge_port_is_admitted_from_the_valkey_group_only" {
  command = apply

  module {
    source = "./modules/security"
  }

  variables {
    bridge_port = 6380
  }

  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.bridge_from_valkey[0].security_group_id == aws_security_group.redis.id &&
      aws_vpc_security_group_ingress_rule.bridge_from_valkey[0].referenced_security_group_id == aws_security_group.valkey.id &&
      aws_vpc_security_group_ingress_rule.bridge_from_valkey[0].ip_protocol == "tcp" &&
      aws_vpc_security_group_ingress_rule.bridge_from_valkey[0].from_port == 6380 &&
      aws_vpc_security_group_ingress_rule.bridge_from_valkey[0].to_port == 6380 &&
      aws_vpc_security_group_ingress_rule.bridge_from_valkey[0].cidr_ipv4 == null
    )
    error_message = "The Redis SG must admit tcp/6380 (the bridge) from the Valkey SG and from nowhere else."
  }
  assert {
    condition     = aws_vpc_security_group_ingress_rule.redis_from_valkey.from_port == 6379 && aws_vpc_security_group_ingress_rule.redis_from_valkey.to_port == 6379
    error_message = "The source's own rule stays tcp/6379."
  }
}

run "cluster_source_admits_every_master_port_and_no_bus" {
  command = plan

  module {
    source = "./modules/security"
  }

  variables {
    redis_node_count = 3
  }

  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.redis_from_valkey.from_port == 6379 &&
      aws_vpc_security_group_ingress_rule.redis_from_valkey.to_port == 6381 &&
      aws_vpc_security_group_ingress_rule.redis_from_valkey.ip_protocol == "tcp"
    )
    error_message = "Three masters: the Redis SG must admit tcp/6379-6381 from the Valkey SG."
  }
  assert {
    # The bus (16379-16381) stays on the host: no rule may reach it.
    condition     = aws_vpc_security_group_ingress_rule.redis_from_valkey.to_port < 16379 && length(aws_vpc_security_group_ingress_rule.bridge_from_valkey) == 0
    error_message = "No rule may open the cluster bus ports."
  }
}

run "bridge_port_inside_the_cluster_ports_is_refused" {
  command = plan

  module {
    source = "./modules/security"
  }

  variables {
    redis_node_count = 3
    bridge_port      = 6380
  }

  expect_failures = [aws_vpc_security_group_ingress_rule.bridge_from_valkey]
}
