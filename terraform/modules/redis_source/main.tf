locals {
  # The default hash belongs to 7.4.6 only; another version with it would fail at boot, so refuse at plan.
  redis_746_sha256 = "73b94484e00fb4c2440b490dc4021142fb0b6efc8b64c6329c10d24f0b531c99"

  log_group_name = "/${var.name}/redis-source"

  user_data = templatefile("${path.module}/templates/user_data.sh.tftpl", {
    redis_version           = var.redis_version
    redis_source_sha256     = var.redis_source_sha256
    redis_download_base_url = trimsuffix(var.redis_download_base_url, "/")
    log_group_name          = local.log_group_name
  })
}

data "aws_partition" "current" {}

data "aws_ssm_parameter" "al2023" {
  count = var.ami_id == null ? 1 : 0

  name = var.ami_ssm_parameter_name
}

################################################################################
# Instance
################################################################################

resource "aws_instance" "this" {
  ami                         = coalesce(var.ami_id, try(data.aws_ssm_parameter.al2023[0].insecure_value, null))
  instance_type               = var.instance_type
  subnet_id                   = var.subnet_id
  vpc_security_group_ids      = [var.security_group_id]
  iam_instance_profile        = aws_iam_instance_profile.this.name
  associate_public_ip_address = false
  monitoring                  = var.detailed_monitoring
  ebs_optimized               = true

  user_data                   = local.user_data
  user_data_replace_on_change = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  root_block_device {
    volume_type           = "gp3"
    volume_size           = var.root_volume_size
    encrypted             = true
    delete_on_termination = true
  }

  tags        = merge({ Name = "${var.name}-redis-source", Role = "redis-source" }, var.tags)
  volume_tags = merge({ Name = "${var.name}-redis-source" }, var.tags)

  lifecycle {
    # A newly published AL2023 AMI must not replace the migration source (and its data) on the next
    # apply; rebuild on purpose with `terraform apply -replace=module.redis_source.aws_instance.this`.
    ignore_changes = [ami]

    precondition {
      condition     = var.redis_version == "7.4.6" || var.redis_source_sha256 != local.redis_746_sha256
      error_message = "redis_source_sha256 is still the hash of redis-7.4.6.tar.gz but redis_version is ${var.redis_version}: set redis_source_sha256 to the hash of redis-${var.redis_version}.tar.gz (redis/redis-hashes README)."
    }
  }

  # The CloudWatch agent needs its group before the host's first log line.
  depends_on = [aws_cloudwatch_log_group.redis]
}

################################################################################
# EC2 Instance Connect Endpoint
################################################################################

resource "aws_ec2_instance_connect_endpoint" "this" {
  subnet_id          = var.subnet_id
  security_group_ids = [var.eic_security_group_id]
  # false: connections leave the endpoint from its own network interface, so the Redis host's rule
  # "SSH from the endpoint's security group" matches. With true the source would be the caller's IP.
  preserve_client_ip = false

  tags = merge({ Name = "${var.name}-eic" }, var.tags)
}

################################################################################
# IAM (least privilege: SSM Session Manager + CloudWatch agent, nothing else)
################################################################################

resource "aws_iam_role" "this" {
  name_prefix = "${var.name}-redis-"
  description = "Redis source host: SSM Session Manager and CloudWatch agent only"

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "Ec2AssumeRole"
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  tags = merge({ Name = "${var.name}-redis-source" }, var.tags)
}

resource "aws_iam_role_policy_attachment" "ssm_core" {
  role       = aws_iam_role.this.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_role_policy_attachment" "cloudwatch_agent" {
  role       = aws_iam_role.this.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/CloudWatchAgentServerPolicy"
}

resource "aws_iam_instance_profile" "this" {
  name_prefix = "${var.name}-redis-"
  role        = aws_iam_role.this.name

  tags = merge({ Name = "${var.name}-redis-source" }, var.tags)
}

################################################################################
# Logs
################################################################################

resource "aws_cloudwatch_log_group" "redis" {
  #checkov:skip=CKV_AWS_158: CloudWatch Logs encrypts every log group with an AWS-owned key already; a customer-managed KMS key would add cost and a key policy to a short-lived test bed for no gain in isolation.
  #checkov:skip=CKV_AWS_338: Retention is the `log_retention_days` variable (default 14 days): a rehearsal environment keeps logs for the rehearsal, not for a year of audit.
  name              = local.log_group_name
  retention_in_days = var.log_retention_days

  tags = merge({ Name = "${var.name}-redis-source" }, var.tags)
}
