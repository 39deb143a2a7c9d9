locals {
  # The default hashes belong to the default versions only; another version with them would fail at boot,
  # so plan refuses it.
  redis_746_sha256    = "73b94484e00fb4c2440b490dc4021142fb0b6efc8b64c6329c10d24f0b531c99"
  bridge_911_sha256   = "7d7232acd1b8a49b4e05d07a00b3ca8c801ae06ab633ca6a3423bc5f385ab7ee"
  redis_port          = 6379
  redis_slots         = 16384
  cluster_enabled     = var.cluster_masters > 1
  node_ports          = [for i in range(var.cluster_masters) : local.redis_port + i]
  log_group_name      = "/${var.name}/redis-source"
  user_data_log_file  = "/var/log/user-data.log"
  agent_namespace     = "CWAgent"
  redis_log_files     = local.cluster_enabled ? [for p in local.node_ports : "/var/log/redis-${p}.log"] : ["/var/log/redis.log"]
  bridge_log_file     = "/var/log/valkey-bridge.log"
  shipped_log_files   = concat(local.redis_log_files, var.bridge_enabled ? [local.bridge_log_file] : [], [local.user_data_log_file])
  user_data_max_bytes = 16384 # EC2's limit on raw user data

  # Slots spread as `redis-cli --cluster create` spreads them: master i ends at round((i+1) * 16384/N - 1).
  cluster_last_slots = [for i in range(var.cluster_masters) : i == var.cluster_masters - 1 ? local.redis_slots - 1 : floor((i + 1) * local.redis_slots / var.cluster_masters - 0.5)]
  cluster_nodes = local.cluster_enabled ? [
    for i, port in local.node_ports : {
      port       = port
      first_slot = i == 0 ? 0 : local.cluster_last_slots[i - 1] + 1
      last_slot  = local.cluster_last_slots[i]
    }
  ] : []

  # The CloudWatch agent's configuration: memory and disk metrics in its own namespace (the only one the
  # host role may publish to), and every log file as a stream `<instance id>/<file name>`.
  cloudwatch_agent_config = jsonencode({
    agent = { metrics_collection_interval = 60, run_as_user = "root" }
    metrics = {
      namespace         = local.agent_namespace
      append_dimensions = { InstanceId = "$${aws:InstanceId}" }
      metrics_collected = {
        mem  = { measurement = ["mem_used_percent"] }
        disk = { measurement = ["used_percent"], resources = ["/"] }
      }
    }
    logs = {
      logs_collected = {
        files = {
          collect_list = [
            for f in local.shipped_log_files : {
              file_path       = f
              log_group_name  = local.log_group_name
              log_stream_name = "{instance_id}/${basename(f)}"
            }
          ]
        }
      }
    }
  })

  user_data = templatefile("${path.module}/templates/user_data.sh.tftpl", {
    redis_version            = var.redis_version
    redis_source_sha256      = var.redis_source_sha256
    redis_download_base_url  = trimsuffix(var.redis_download_base_url, "/")
    cloudwatch_agent_config  = local.cloudwatch_agent_config
    user_data_log_file       = local.user_data_log_file
    cluster_nodes            = local.cluster_nodes
    bridge_enabled           = var.bridge_enabled
    bridge_port              = var.bridge_port
    bridge_valkey_version    = var.bridge_valkey_version
    bridge_valkey_sha256     = var.bridge_valkey_sha256
    bridge_download_base_url = trimsuffix(var.bridge_download_base_url, "/")
    bridge_log_file          = local.bridge_log_file
    rotated_log_files        = setsubtract(local.shipped_log_files, [local.user_data_log_file])
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
    precondition {
      condition     = !var.bridge_enabled || var.bridge_valkey_version == "9.1.1" || var.bridge_valkey_sha256 != local.bridge_911_sha256
      error_message = "bridge_valkey_sha256 is still the hash of Valkey 9.1.1 but bridge_valkey_version is ${var.bridge_valkey_version}: set bridge_valkey_sha256 to the hash of valkey-${var.bridge_valkey_version}.tar.gz (valkey-io/valkey-hashes README)."
    }
    precondition {
      # ElastiCache replicates a cluster-mode source shard by shard from the masters themselves; one
      # standalone bridge cannot stand in for a cluster.
      condition     = !(var.bridge_enabled && local.cluster_enabled)
      error_message = "bridge_enabled needs a standalone source: turn it off with cluster_masters = ${var.cluster_masters}, or use one master."
    }
    precondition {
      condition     = !var.bridge_enabled || !contains(local.node_ports, var.bridge_port)
      error_message = "bridge_port ${var.bridge_port} is one of the Redis ports ${join(", ", local.node_ports)}."
    }
    precondition {
      condition     = length(local.user_data) <= local.user_data_max_bytes
      error_message = "The rendered user data is ${length(local.user_data)} bytes; EC2 accepts at most ${local.user_data_max_bytes}."
    }
  }

  # The CloudWatch agent needs its group and its permission before the host's first log line.
  depends_on = [aws_cloudwatch_log_group.redis, aws_iam_role_policy.cloudwatch_agent]
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
# IAM (least privilege: the CloudWatch agent's own log group and metric namespace; SSM only if asked)
################################################################################

resource "aws_iam_role" "this" {
  name_prefix = "${var.name}-redis-"
  description = "Redis source host: CloudWatch agent (its log group and metric namespace)${var.ssm_session_manager_enabled ? " and SSM Session Manager" : ""}"

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

# Instead of CloudWatchAgentServerPolicy (log writes to every group, metrics to any namespace): the group
# exists already (Terraform made it), so the agent only creates streams and writes events in it.
# PutMetricData has no resource type; the namespace condition is what scopes it.
resource "aws_iam_role_policy" "cloudwatch_agent" {
  name_prefix = "${var.name}-cloudwatch-agent-"
  role        = aws_iam_role.this.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ShipHostLogsToItsGroup"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
        Resource = [aws_cloudwatch_log_group.redis.arn, "${aws_cloudwatch_log_group.redis.arn}:*"]
      },
      {
        Sid       = "PublishAgentMetricsToItsNamespace"
        Effect    = "Allow"
        Action    = "cloudwatch:PutMetricData"
        Resource  = "*"
        Condition = { StringEquals = { "cloudwatch:namespace" = local.agent_namespace } }
      },
    ]
  })
}

resource "aws_iam_role_policy_attachment" "ssm_core" {
  count = var.ssm_session_manager_enabled ? 1 : 0

  role       = aws_iam_role.this.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
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
