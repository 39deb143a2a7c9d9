# modules/network: the seed's VPC, four subnets over two zones, one NAT gateway, routes and flow log.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name               = "test"
  availability_zones = ["us-east-1a", "us-east-1b"]
}

run "vpc_and_subnets_follow_the_seed" {
  command = plan

  module {
    source = "./modules/network"
  }

  assert {
    condition     = aws_vpc.this.cidr_block == "10.0.0.0/16"
    error_message = "VPC CIDR must be 10.0.0.0/16."
  }
  assert {
    condition     = aws_vpc.this.enable_dns_support && aws_vpc.this.enable_dns_hostnames
    error_message = "VPC must have DNS support and DNS hostnames on."
  }
  assert {
    condition     = length(aws_subnet.public) == 2 && length(aws_subnet.private) == 2
    error_message = "There must be exactly two public and two private subnets."
  }
  assert {
    condition     = aws_subnet.public["a"].cidr_block == "10.0.0.0/24" && aws_subnet.public["a"].availability_zone == "us-east-1a"
    error_message = "Public subnet A must be 10.0.0.0/24 in zone A."
  }
  assert {
    condition     = aws_subnet.public["b"].cidr_block == "10.0.1.0/24" && aws_subnet.public["b"].availability_zone == "us-east-1b"
    error_message = "Public subnet B must be 10.0.1.0/24 in zone B."
  }
  assert {
    condition     = aws_subnet.private["a"].cidr_block == "10.0.2.0/24" && aws_subnet.private["a"].availability_zone == "us-east-1a"
    error_message = "Private subnet A must be 10.0.2.0/24 in zone A."
  }
  assert {
    condition     = aws_subnet.private["b"].cidr_block == "10.0.3.0/24" && aws_subnet.private["b"].availability_zone == "us-east-1b"
    error_message = "Private subnet B must be 10.0.3.0/24 in zone B."
  }
  assert {
    condition     = alltrue([for s in concat(values(aws_subnet.public), values(aws_subnet.private)) : s.map_public_ip_on_launch == false])
    error_message = "No subnet may hand out public IPs on launch."
  }
  assert {
    condition     = length(output.nat_gateway_ids) == 1
    error_message = "There must be exactly one NAT gateway (cost decision)."
  }
  assert {
    condition     = aws_eip.nat.domain == "vpc"
    error_message = "The NAT gateway's Elastic IP must be a VPC address."
  }
  assert {
    condition     = aws_route.public_internet_gateway.destination_cidr_block == "0.0.0.0/0" && aws_route.private_nat_gateway.destination_cidr_block == "0.0.0.0/0"
    error_message = "Both route tables need a default route (public to the IGW, private to the NAT gateway)."
  }
  assert {
    condition     = length(aws_route_table_association.public) == 2 && length(aws_route_table_association.private) == 2
    error_message = "Every subnet must be associated with its tier's route table."
  }
  assert {
    condition     = aws_flow_log.this.traffic_type == "ALL" && aws_flow_log.this.log_destination_type == "cloud-watch-logs"
    error_message = "The VPC flow log must record ALL traffic into CloudWatch Logs."
  }
  assert {
    condition     = aws_cloudwatch_log_group.flow_log.retention_in_days == 14 && output.flow_log_group_name == "/test/vpc-flow-logs"
    error_message = "The flow log group must be /<name>/vpc-flow-logs with the default 14-day retention."
  }
  assert {
    condition     = jsondecode(aws_iam_role.flow_log.assume_role_policy).Statement[0].Principal.Service == "vpc-flow-logs.amazonaws.com"
    error_message = "Only the VPC Flow Logs service may assume the flow log role."
  }
  assert {
    # Confused-deputy guard: only this account's flow logs in this region may assume the role.
    condition = (
      jsondecode(aws_iam_role.flow_log.assume_role_policy).Statement[0].Condition.StringEquals["aws:SourceAccount"] == "123456789012" &&
      jsondecode(aws_iam_role.flow_log.assume_role_policy).Statement[0].Condition.ArnLike["aws:SourceArn"] == "arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/*"
    )
    error_message = "The flow log role's trust policy needs aws:SourceAccount and aws:SourceArn conditions."
  }
}

run "nat_and_routes_are_wired" {
  # apply with the mock provider: ids get (fake) values, so references can be compared. Nothing is created.
  command = apply

  module {
    source = "./modules/network"
  }

  assert {
    condition     = aws_nat_gateway.this.subnet_id == aws_subnet.public["a"].id
    error_message = "The NAT gateway must sit in public subnet A."
  }
  assert {
    condition     = aws_nat_gateway.this.allocation_id == aws_eip.nat.id
    error_message = "The NAT gateway must use the module's Elastic IP."
  }
  assert {
    condition     = aws_route.public_internet_gateway.gateway_id == aws_internet_gateway.this.id && aws_route.public_internet_gateway.route_table_id == aws_route_table.public.id
    error_message = "The public route table's default route must go to the internet gateway."
  }
  assert {
    condition     = aws_route.private_nat_gateway.nat_gateway_id == aws_nat_gateway.this.id && aws_route.private_nat_gateway.route_table_id == aws_route_table.private.id
    error_message = "The private route table's default route must go to the NAT gateway."
  }
  assert {
    condition     = alltrue([for k, a in aws_route_table_association.private : a.route_table_id == aws_route_table.private.id && a.subnet_id == aws_subnet.private[k].id])
    error_message = "Both private subnets must use the private route table."
  }
  assert {
    condition     = alltrue([for k, a in aws_route_table_association.public : a.route_table_id == aws_route_table.public.id && a.subnet_id == aws_subnet.public[k].id])
    error_message = "Both public subnets must use the public route table."
  }
  assert {
    condition     = aws_flow_log.this.vpc_id == aws_vpc.this.id && aws_flow_log.this.log_destination == aws_cloudwatch_log_group.flow_log.arn && aws_flow_log.this.iam_role_arn == aws_iam_role.flow_log.arn
    error_message = "The flow log must watch this VPC and write to its log group through its role."
  }
  assert {
    condition = alltrue([
      for r in jsondecode(aws_iam_role_policy.flow_log.policy).Statement[0].Resource : r != "*"
    ])
    error_message = "The flow log role's policy must be scoped to its log group, not '*'."
  }
  assert {
    condition     = length(aws_default_security_group.this.ingress) == 0 && length(aws_default_security_group.this.egress) == 0
    error_message = "The VPC's default security group must have no rules."
  }
  assert {
    condition     = output.private_subnet_ids == [aws_subnet.private["a"].id, aws_subnet.private["b"].id]
    error_message = "private_subnet_ids must be ordered [A, B]."
  }
}

run "subnet_outside_the_vpc_is_rejected" {
  command = plan

  module {
    source = "./modules/network"
  }

  variables {
    private_subnet_b_cidr = "10.1.3.0/24"
  }

  expect_failures = [aws_subnet.private]
}

run "one_availability_zone_is_rejected" {
  command = plan

  module {
    source = "./modules/network"
  }

  variables {
    availability_zones = ["us-east-1a", "us-east-1a"]
  }

  expect_failures = [var.availability_zones]
}
