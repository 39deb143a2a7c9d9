locals {
  # Zone A carries everything that exists once (NAT gateway, Redis host, EIC endpoint); zone B is there
  # so ElastiCache can place its replica in a second zone, which Multi-AZ requires.
  public_subnets = {
    a = { cidr = var.public_subnet_a_cidr, availability_zone = var.availability_zones[0] }
    b = { cidr = var.public_subnet_b_cidr, availability_zone = var.availability_zones[1] }
  }
  private_subnets = {
    a = { cidr = var.private_subnet_a_cidr, availability_zone = var.availability_zones[0] }
    b = { cidr = var.private_subnet_b_cidr, availability_zone = var.availability_zones[1] }
  }

  vpc_prefix_length  = tonumber(split("/", var.vpc_cidr)[1])
  vpc_network_prefix = split("/", var.vpc_cidr)[0]
}

################################################################################
# VPC
################################################################################

resource "aws_vpc" "this" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = merge({ Name = var.name }, var.tags)
}

# Adopting the default security group with no rules closes it: nothing can use it by accident.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id

  tags = merge({ Name = "${var.name}-default-closed" }, var.tags)
}

################################################################################
# Subnets
################################################################################

resource "aws_subnet" "public" {
  for_each = local.public_subnets

  vpc_id            = aws_vpc.this.id
  cidr_block        = each.value.cidr
  availability_zone = each.value.availability_zone
  # Nothing here needs a public address of its own: the NAT gateway uses an Elastic IP.
  map_public_ip_on_launch = false

  tags = merge({ Name = "${var.name}-public-${each.key}", Tier = "public" }, var.tags)

  lifecycle {
    precondition {
      condition = (
        tonumber(split("/", each.value.cidr)[1]) >= local.vpc_prefix_length &&
        cidrhost(format("%s/%d", split("/", each.value.cidr)[0], local.vpc_prefix_length), 0) == local.vpc_network_prefix
      )
      error_message = "Public subnet ${each.key} (${each.value.cidr}) is not inside the VPC CIDR ${var.vpc_cidr}."
    }
  }
}

resource "aws_subnet" "private" {
  for_each = local.private_subnets

  vpc_id                  = aws_vpc.this.id
  cidr_block              = each.value.cidr
  availability_zone       = each.value.availability_zone
  map_public_ip_on_launch = false

  tags = merge({ Name = "${var.name}-private-${each.key}", Tier = "private" }, var.tags)

  lifecycle {
    precondition {
      condition = (
        tonumber(split("/", each.value.cidr)[1]) >= local.vpc_prefix_length &&
        cidrhost(format("%s/%d", split("/", each.value.cidr)[0], local.vpc_prefix_length), 0) == local.vpc_network_prefix
      )
      error_message = "Private subnet ${each.key} (${each.value.cidr}) is not inside the VPC CIDR ${var.vpc_cidr}."
    }
  }
}

################################################################################
# Internet Gateway and NAT Gateway
################################################################################

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id

  tags = merge({ Name = var.name }, var.tags)
}

resource "aws_eip" "nat" {
  domain = "vpc"

  tags = merge({ Name = "${var.name}-nat" }, var.tags)

  depends_on = [aws_internet_gateway.this]
}

# One NAT gateway, in public subnet A, for the whole VPC: a test bed does not need zone-redundant egress,
# and a second gateway would double the largest fixed network cost. Private subnet B routes through
# zone A too (cross-zone data is charged, but ElastiCache nodes barely use the internet).
resource "aws_nat_gateway" "this" {
  allocation_id = aws_eip.nat.id
  subnet_id     = aws_subnet.public["a"].id

  tags = merge({ Name = var.name }, var.tags)

  depends_on = [aws_internet_gateway.this]
}

################################################################################
# Route Tables
################################################################################

# The `local` route for the VPC CIDR is implicit in every route table.
resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id

  tags = merge({ Name = "${var.name}-public" }, var.tags)
}

resource "aws_route" "public_internet_gateway" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}

resource "aws_route_table_association" "public" {
  for_each = aws_subnet.public

  subnet_id      = each.value.id
  route_table_id = aws_route_table.public.id
}

resource "aws_route_table" "private" {
  vpc_id = aws_vpc.this.id

  tags = merge({ Name = "${var.name}-private" }, var.tags)
}

resource "aws_route" "private_nat_gateway" {
  route_table_id         = aws_route_table.private.id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this.id
}

resource "aws_route_table_association" "private" {
  for_each = aws_subnet.private

  subnet_id      = each.value.id
  route_table_id = aws_route_table.private.id
}
