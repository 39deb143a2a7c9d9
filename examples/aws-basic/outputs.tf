output "redis_private_ip" {
  description = "Private IPv4 address of the Redis source (StartMigration's customer node endpoint)"
  value       = module.migrator.redis_private_ip
}

output "redis_instance_id" {
  description = "ID of the Redis source EC2 instance (for `aws ec2-instance-connect ssh`)"
  value       = module.migrator.redis_instance_id
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
