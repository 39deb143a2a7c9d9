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
  description = "TCP port Redis listens on (the first master's with `cluster_masters > 1`)"
  value       = local.redis_port
}

output "node_ports" {
  description = "TCP ports of every Redis process on the host: `[6379]`, or one per cluster master (cluster bus on each port + 10000)"
  value       = local.node_ports
}

output "cluster_enabled" {
  description = "Whether the host runs a Redis Cluster (`cluster_masters > 1`) instead of one standalone Redis"
  value       = local.cluster_enabled
}

output "cluster_slots" {
  description = "Slot ranges of the source cluster's masters, `[{ port, first_slot, last_slot }]` (empty when standalone)"
  value       = local.cluster_nodes
}

################################################################################
# Valkey bridge
################################################################################

output "bridge_enabled" {
  description = "Whether the host runs the Valkey bridge"
  value       = var.bridge_enabled
}

output "bridge_port" {
  description = "TCP port of the Valkey bridge; `null` without one"
  value       = var.bridge_enabled ? var.bridge_port : null
}

output "bridge_valkey_version" {
  description = "Valkey version of the bridge; `null` without one"
  value       = var.bridge_enabled ? var.bridge_valkey_version : null
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
  description = "CloudWatch Logs group receiving the host's Redis (and bridge) logs and /var/log/user-data.log"
  value       = aws_cloudwatch_log_group.redis.name
}

output "log_group_arn" {
  description = "ARN of that log group (the only one the host role may write to)"
  value       = aws_cloudwatch_log_group.redis.arn
}

output "user_data_log_stream" {
  description = "Log stream, in `log_group_name`, of /var/log/user-data.log: the build ends with a line starting `user-data: done` or `user-data: FATAL`"
  value       = "${aws_instance.this.id}/${basename(local.user_data_log_file)}"
}

output "log_streams" {
  description = "Every log stream the host ships, `<instance id>/<file name>`"
  value       = [for f in local.shipped_log_files : "${aws_instance.this.id}/${basename(f)}"]
}

output "agent_metric_namespace" {
  description = "CloudWatch namespace of the agent's host metrics (mem_used_percent, disk used_percent)"
  value       = local.agent_namespace
}
