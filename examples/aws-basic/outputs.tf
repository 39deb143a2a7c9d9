output "redis_private_ip" {
  description = "Private IPv4 address of the Redis source (StartMigration's customer node endpoint)"
  value       = module.migrator.redis_private_ip
}

output "redis_instance_id" {
  description = "ID of the Redis source EC2 instance (for `aws ec2-instance-connect ssh`)"
  value       = module.migrator.redis_instance_id
}

output "redis_source_log_stream" {
  description = "Log group and stream of the host's build: its last line is `user-data: done …` or `user-data: FATAL: …`"
  value       = "${module.migrator.redis_source_log_group} ${module.migrator.redis_source_log_stream}"
}

output "bridge_port" {
  description = "Port of the Valkey bridge on the source host (null without one)"
  value       = module.migrator.bridge_port
}

output "eic_endpoint_id" {
  description = "ID of the EC2 Instance Connect Endpoint"
  value       = module.migrator.eic_endpoint_id
}

output "replication_group_id" {
  description = "ID of the ElastiCache Valkey replication group"
  value       = module.migrator.replication_group_id
}

output "valkey_primary_endpoint" {
  description = "Valkey primary endpoint address"
  value       = module.migrator.valkey_primary_endpoint
}

output "valkey_reader_endpoint" {
  description = "Valkey reader endpoint address"
  value       = module.migrator.valkey_reader_endpoint
}

output "dashboard_url" {
  description = "Console URL of the migration's CloudWatch dashboard"
  value       = module.migrator.dashboard_url
}
