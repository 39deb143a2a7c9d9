output "region" {
  description = "AWS region of the environment (the provider's)"
  value       = local.region
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

output "redis_node_ports" {
  description = "TCP ports of the source's Redis processes on the host: `[6379]`, or one per cluster master (`6379`..`6379+N-1`; cluster bus on each port + 10000, host-local)"
  value       = module.redis_source.node_ports
}

output "redis_cluster_enabled" {
  description = "Whether the source is a Redis Cluster (more than one master) instead of one standalone Redis"
  value       = module.redis_source.cluster_enabled
}

output "redis_cluster_slots" {
  description = "Slot ranges of the source cluster's masters, `[{ port, first_slot, last_slot }]`; empty when standalone"
  value       = module.redis_source.cluster_slots
}

output "redis_source_log_group" {
  description = "CloudWatch Logs group of the source host (user data, Redis and bridge logs)"
  value       = module.redis_source.log_group_name
}

output "redis_source_log_stream" {
  description = "Log stream of the host's build in `redis_source_log_group`; its last line starts `user-data: done` (built, Redis answers PING) or `user-data: FATAL: <reason>`"
  value       = module.redis_source.user_data_log_stream
}

output "redis_source_log_streams" {
  description = "Every log stream the source host ships to `redis_source_log_group`, `<instance id>/<file name>`"
  value       = module.redis_source.log_streams
}

output "redis_iam_role_name" {
  description = "Name of the source host's IAM role"
  value       = module.redis_source.iam_role_name
}

output "eic_endpoint_id" {
  description = "ID of the EC2 Instance Connect Endpoint in private subnet A"
  value       = module.redis_source.eic_endpoint_id
}

################################################################################
# Valkey bridge
################################################################################

output "bridge_enabled" {
  description = "Whether the source host runs the Valkey bridge (StartMigration then names the host's address and `bridge_port`)"
  value       = module.redis_source.bridge_enabled
}

output "bridge_port" {
  description = "TCP port of the Valkey bridge on the source host; `null` without a bridge"
  value       = module.redis_source.bridge_port
}

output "bridge_valkey_version" {
  description = "Valkey version of the bridge; `null` without a bridge"
  value       = module.redis_source.bridge_valkey_version
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

output "valkey_configuration_endpoint" {
  description = "Configuration endpoint address of a cluster-mode-enabled target (cluster-mode groups have no primary endpoint); `null` with cluster mode disabled"
  value       = module.valkey_target.configuration_endpoint
}

output "valkey_cluster_mode_enabled" {
  description = "Whether the target runs in cluster mode (`valkey_num_node_groups > 1`)"
  value       = module.valkey_target.cluster_mode_enabled
}

output "valkey_member_clusters" {
  description = "IDs of the target's nodes (cache clusters), the `CacheClusterId` of their CloudWatch metrics"
  value       = sort(tolist(module.valkey_target.member_clusters))
}

output "valkey_parameter_group_name" {
  description = "Name of the target's parameter group"
  value       = module.valkey_target.parameter_group_name
}

output "valkey_parameters" {
  description = "Every parameter the target's parameter group sets, `[{ name, value }]`: `valkey_parameters` plus `cluster-enabled = yes` in cluster mode"
  value       = module.valkey_target.parameters
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
  description = "Valkey shards, the target's shard count (`1` = cluster mode disabled; also for cost estimates)"
  value       = module.valkey_target.num_node_groups
}

################################################################################
# Monitoring
################################################################################

output "redis_log_group_name" {
  description = "CloudWatch Logs group with the source host's Redis log(s), bridge log and /var/log/user-data.log (= `redis_source_log_group`)"
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

output "dashboard_name" {
  description = "Name of the migration's CloudWatch dashboard; `null` when `dashboard_enabled` is false"
  value       = var.dashboard_enabled ? aws_cloudwatch_dashboard.this[0].dashboard_name : null
}

output "dashboard_url" {
  description = "Console URL of the migration's CloudWatch dashboard; `null` when `dashboard_enabled` is false"
  value       = var.dashboard_enabled ? local.dashboard_url : null
}
