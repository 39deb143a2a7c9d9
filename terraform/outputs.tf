output "region" {
  description = "AWS region of the environment"
  value       = var.region
}

################################################################################
# Network
################################################################################

output "vpc_id" {
  description = "ID of the VPC"
  value       = module.network.vpc_id
}

output "availability_zones" {
  description = "The two availability zones in use, `[A, B]`"
  value       = module.network.availability_zones
}

output "public_subnet_ids" {
  description = "IDs of the public subnets, `[A, B]`"
  value       = module.network.public_subnet_ids
}

output "private_subnet_ids" {
  description = "IDs of the private subnets, `[A, B]`"
  value       = module.network.private_subnet_ids
}

output "nat_gateway_ids" {
  description = "IDs of the NAT gateways (one by design)"
  value       = module.network.nat_gateway_ids
}

################################################################################
# Security groups
################################################################################

output "redis_security_group_id" {
  description = "ID of the Redis source host's security group"
  value       = module.security.redis_security_group_id
}

output "valkey_security_group_id" {
  description = "ID of the ElastiCache Valkey target's security group"
  value       = module.security.valkey_security_group_id
}

output "eic_security_group_id" {
  description = "ID of the EC2 Instance Connect Endpoint's security group"
  value       = module.security.eic_security_group_id
}

################################################################################
# Redis source host
################################################################################

output "redis_instance_id" {
  description = "ID of the Redis source EC2 instance"
  value       = module.redis_source.instance_id
}

output "redis_private_ip" {
  description = "Private IPv4 address of the Redis source (the StartMigration `CustomerNodeEndpointList` address)"
  value       = module.redis_source.private_ip
}

output "redis_port" {
  description = "TCP port of the Redis source"
  value       = module.redis_source.redis_port
}

output "redis_version" {
  description = "Redis OSS version compiled on the source host"
  value       = module.redis_source.redis_version
}

output "redis_instance_type" {
  description = "EC2 instance type of the Redis source host (for cost estimates)"
  value       = module.redis_source.instance_type
}

output "eic_endpoint_id" {
  description = "ID of the EC2 Instance Connect Endpoint in private subnet A"
  value       = module.redis_source.eic_endpoint_id
}

################################################################################
# Valkey target
################################################################################

output "replication_group_id" {
  description = "ID of the ElastiCache replication group (the migration API's `ReplicationGroupId`)"
  value       = module.valkey_target.replication_group_id
}

output "valkey_primary_endpoint" {
  description = "Valkey address that takes writes (configuration endpoint when cluster mode is enabled)"
  value       = module.valkey_target.primary_endpoint
}

output "valkey_reader_endpoint" {
  description = "Valkey reader endpoint address (empty when cluster mode is enabled)"
  value       = module.valkey_target.reader_endpoint
}

output "valkey_port" {
  description = "TCP port of the Valkey nodes"
  value       = module.valkey_target.port
}

output "valkey_engine_version" {
  description = "Running Valkey version reported by ElastiCache"
  value       = module.valkey_target.engine_version_actual
}

output "valkey_node_type" {
  description = "ElastiCache node type (for cost estimates)"
  value       = module.valkey_target.node_type
}

output "valkey_num_cache_clusters" {
  description = "Valkey nodes per shard, primary + replicas (for cost estimates)"
  value       = module.valkey_target.num_cache_clusters
}

output "valkey_num_node_groups" {
  description = "Valkey shards (`1` = cluster mode disabled; for cost estimates)"
  value       = module.valkey_target.num_node_groups
}

################################################################################
# Monitoring
################################################################################

output "redis_log_group_name" {
  description = "CloudWatch Logs group with /var/log/redis.log and /var/log/user-data.log of the source host"
  value       = module.redis_source.log_group_name
}

output "valkey_slow_log_group_name" {
  description = "CloudWatch Logs group with the Valkey slow log"
  value       = module.valkey_target.slow_log_group_name
}

output "valkey_engine_log_group_name" {
  description = "CloudWatch Logs group with the Valkey engine log"
  value       = module.valkey_target.engine_log_group_name
}

output "flow_log_group_name" {
  description = "CloudWatch Logs group with the VPC flow log"
  value       = module.network.flow_log_group_name
}
