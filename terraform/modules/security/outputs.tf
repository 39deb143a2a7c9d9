output "redis_security_group_id" {
  description = "ID of the Redis source host's security group"
  value       = aws_security_group.redis.id
}

output "valkey_security_group_id" {
  description = "ID of the ElastiCache Valkey target's security group"
  value       = aws_security_group.valkey.id
}

output "eic_security_group_id" {
  description = "ID of the EC2 Instance Connect Endpoint's security group"
  value       = aws_security_group.eic.id
}

output "bridge_port" {
  description = "Port the Redis security group admits from the Valkey group for the bridge; `null` without a bridge"
  value       = var.bridge_port
}
