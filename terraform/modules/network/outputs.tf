################################################################################
# VPC
################################################################################

output "vpc_id" {
  description = "ID of the VPC"
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "CIDR block of the VPC"
  value       = aws_vpc.this.cidr_block
}

output "availability_zones" {
  description = "The two availability zones in use, `[A, B]`"
  value       = var.availability_zones
}

################################################################################
# Subnets
################################################################################

output "public_subnet_ids" {
  description = "IDs of the public subnets, `[A, B]`"
  value       = [aws_subnet.public["a"].id, aws_subnet.public["b"].id]
}

# The private subnets are only useful once their default route through the NAT gateway exists: the Redis
# host downloads its source tarball at first boot. Waiting here orders every consumer after the route.
output "private_subnet_ids" {
  description = "IDs of the private subnets, `[A, B]` (available once their NAT route exists)"
  value       = [aws_subnet.private["a"].id, aws_subnet.private["b"].id]

  depends_on = [aws_route.private_nat_gateway, aws_route_table_association.private]
}

################################################################################
# NAT Gateway
################################################################################

output "nat_gateway_ids" {
  description = "IDs of the NAT gateways (one by design)"
  value       = [aws_nat_gateway.this.id]
}

output "nat_public_ip" {
  description = "Public IP the private subnets reach the internet from"
  value       = aws_eip.nat.public_ip
}

################################################################################
# Flow Log
################################################################################

output "flow_log_id" {
  description = "ID of the VPC flow log"
  value       = aws_flow_log.this.id
}

output "flow_log_group_name" {
  description = "CloudWatch Logs group receiving the VPC flow log"
  value       = aws_cloudwatch_log_group.flow_log.name
}
