################################################################################
# Instance
################################################################################

output "instance_id" {
  description = "ID of the Redis source EC2 instance"
  value       = aws_instance.this.id
}

output "private_ip" {
  description = "Private IPv4 address of the Redis source host (what StartMigration is given)"
  value       = aws_instance.this.private_ip
}

output "instance_type" {
  description = "EC2 instance type of the Redis source host"
  value       = aws_instance.this.instance_type
}

output "ami_id" {
  description = "AMI the Redis source host runs"
  value       = aws_instance.this.ami
}

output "redis_version" {
  description = "Redis OSS version compiled on the host"
  value       = var.redis_version
}

output "redis_port" {
  description = "TCP port Redis listens on"
  value       = 6379
}

output "user_data" {
  description = "Rendered user data script of the Redis host (no secrets: the source has no password)"
  value       = local.user_data
}

################################################################################
# EC2 Instance Connect Endpoint
################################################################################

output "eic_endpoint_id" {
  description = "ID of the EC2 Instance Connect Endpoint (use with `aws ec2-instance-connect open-tunnel` or `ssh -o ProxyCommand`)"
  value       = aws_ec2_instance_connect_endpoint.this.id
}

################################################################################
# IAM
################################################################################

output "iam_role_name" {
  description = "Name of the Redis host's IAM role"
  value       = aws_iam_role.this.name
}

output "iam_instance_profile_name" {
  description = "Name of the Redis host's instance profile"
  value       = aws_iam_instance_profile.this.name
}

################################################################################
# Logs
################################################################################

output "log_group_name" {
  description = "CloudWatch Logs group receiving /var/log/redis.log and /var/log/user-data.log"
  value       = aws_cloudwatch_log_group.redis.name
}
