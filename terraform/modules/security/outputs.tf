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
