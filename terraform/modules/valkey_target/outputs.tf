################################################################################
# Replication Group
################################################################################

output "replication_group_id" {
  description = "ID of the ElastiCache replication group (what the migration API calls take)"
  value       = aws_elasticache_replication_group.this.replication_group_id
}

output "replication_group_arn" {
  description = "ARN of the ElastiCache replication group"
  value       = aws_elasticache_replication_group.this.arn
}

output "primary_endpoint" {
  description = "Address that takes writes: the primary endpoint, or the configuration endpoint when cluster mode is enabled"
  value = (local.cluster_mode_enabled
    ? aws_elasticache_replication_group.this.configuration_endpoint_address
    : aws_elasticache_replication_group.this.primary_endpoint_address
  )
}

output "configuration_endpoint" {
  description = "Configuration endpoint address of a cluster-mode-enabled group (cluster clients discover every shard from it); `null` with cluster mode disabled"
  value       = local.cluster_mode_enabled ? aws_elasticache_replication_group.this.configuration_endpoint_address : null
}

output "cluster_mode_enabled" {
  description = "Whether the group runs in cluster mode (`num_node_groups > 1`)"
  value       = local.cluster_mode_enabled
}

output "reader_endpoint" {
  description = "Reader endpoint address (load-balanced over the replicas; empty when cluster mode is enabled)"
  value       = local.cluster_mode_enabled ? "" : aws_elasticache_replication_group.this.reader_endpoint_address
}

output "port" {
  description = "TCP port of the cache nodes"
  value       = var.port
}

output "engine_version_actual" {
  description = "Running Valkey version, e.g. `8.2.0`"
  value       = aws_elasticache_replication_group.this.engine_version_actual
}

output "node_type" {
  description = "Cache node type"
  value       = aws_elasticache_replication_group.this.node_type
}

output "num_cache_clusters" {
  description = "Nodes per shard (primary + replicas)"
  value       = var.num_cache_clusters
}

output "num_node_groups" {
  description = "Shards (`1` = cluster mode disabled)"
  value       = var.num_node_groups
}

output "member_clusters" {
  description = "IDs of the cache clusters (nodes) in the group"
  value       = aws_elasticache_replication_group.this.member_clusters
}

output "parameter_group_name" {
  description = "Name of the group's parameter group"
  value       = aws_elasticache_parameter_group.this.name
}

################################################################################
# Logs
################################################################################

output "slow_log_group_name" {
  description = "CloudWatch Logs group receiving the Valkey slow log"
  value       = aws_cloudwatch_log_group.this["slow-log"].name
}

output "engine_log_group_name" {
  description = "CloudWatch Logs group receiving the Valkey engine log"
  value       = aws_cloudwatch_log_group.this["engine-log"].name
}

output "parameters" {
  description = "Every parameter the group's parameter group sets, `[{ name, value }]` (`cluster-enabled` first when cluster mode is on)"
  value       = local.parameters
}
