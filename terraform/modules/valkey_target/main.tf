locals {
  replication_group_id = coalesce(var.replication_group_id, "${var.name}-valkey")
  engine_major         = split(".", var.engine_version)[0]
  cluster_mode_enabled = var.num_node_groups > 1

  # Primary in zone A, first replica in zone B (the seed's layout), further replicas alternate.
  preferred_azs = [for i in range(var.num_cache_clusters) : var.availability_zones[i % length(var.availability_zones)]]

  parameters = concat(
    local.cluster_mode_enabled ? [{ name = "cluster-enabled", value = "yes" }] : [],
    var.parameters,
  )

  # Vended-log delivery adds each destination group to the account's CloudWatch Logs resource policy,
  # which is capped at 5,120 characters; groups under /aws/vendedlogs/ are covered by one wildcard
  # entry instead (AWS, "Enabling logging from AWS services"), so many environments fit in one account.
  log_groups = {
    slow-log   = "/aws/vendedlogs/elasticache/${var.name}/valkey/slow-log"
    engine-log = "/aws/vendedlogs/elasticache/${var.name}/valkey/engine-log"
  }
}

################################################################################
# Subnet Group and Parameter Group
################################################################################

resource "aws_elasticache_subnet_group" "this" {
  name        = local.replication_group_id
  description = "Private subnets of ${var.name} for the Valkey migration target"
  subnet_ids  = var.subnet_ids

  tags = merge({ Name = local.replication_group_id }, var.tags)
}

resource "aws_elasticache_parameter_group" "this" {
  # The family (and cluster mode, which a parameter group cannot change while in use) is part of the name,
  # so an engine upgrade or a switch of cluster mode creates the new group before dropping the old. The
  # cluster-mode group is the family's own (`valkey8`) with `cluster-enabled yes`, as ElastiCache's
  # `default.valkey8.cluster.on` is.
  name        = "${local.replication_group_id}-valkey${local.engine_major}${local.cluster_mode_enabled ? "-cluster" : ""}"
  family      = "valkey${local.engine_major}"
  description = "Valkey ${local.engine_major} parameters for ${local.replication_group_id}${local.cluster_mode_enabled ? " (cluster mode)" : ""}"

  dynamic "parameter" {
    for_each = local.parameters
    content {
      name  = parameter.value.name
      value = parameter.value.value
    }
  }

  tags = merge({ Name = local.replication_group_id }, var.tags)

  lifecycle {
    create_before_destroy = true
  }
}

################################################################################
# Replication Group
################################################################################

resource "aws_elasticache_replication_group" "this" {
  #checkov:skip=CKV_AWS_29: ElastiCache online migration requires at-rest encryption off on the target (AWS docs, and the seed's design decision); this is a rehearsal environment.
  #checkov:skip=CKV_AWS_30: ElastiCache online migration requires in-transit encryption off: the source replicates over plain TCP inside the VPC.
  #checkov:skip=CKV_AWS_31: An AUTH token requires in-transit encryption, which online migration forbids; access is limited by security groups instead.
  #checkov:skip=CKV_AWS_191: No at-rest encryption at all (see CKV_AWS_29), so there is no KMS key to choose.
  replication_group_id = local.replication_group_id
  description          = "Valkey migration target of ${var.name}"

  engine               = "valkey"
  engine_version       = var.engine_version
  node_type            = var.node_type
  port                 = var.port
  parameter_group_name = aws_elasticache_parameter_group.this.name

  subnet_group_name  = aws_elasticache_subnet_group.this.name
  security_group_ids = var.security_group_ids

  # Cluster mode disabled (the seed): one shard of num_cache_clusters nodes, placed per zone.
  # Cluster mode enabled: num_node_groups shards of one primary and num_cache_clusters - 1 replicas.
  cluster_mode                = local.cluster_mode_enabled ? "enabled" : "disabled"
  num_cache_clusters          = local.cluster_mode_enabled ? null : var.num_cache_clusters
  preferred_cache_cluster_azs = local.cluster_mode_enabled ? null : local.preferred_azs
  num_node_groups             = local.cluster_mode_enabled ? var.num_node_groups : null
  replicas_per_node_group     = local.cluster_mode_enabled ? var.num_cache_clusters - 1 : null

  automatic_failover_enabled = true
  multi_az_enabled           = true

  # Online migration needs both off. The provider turns at-rest encryption ON for valkey unless told.
  transit_encryption_enabled = false
  at_rest_encryption_enabled = false

  snapshot_retention_limit   = var.snapshot_retention_limit
  snapshot_window            = var.snapshot_window
  maintenance_window         = var.maintenance_window
  auto_minor_version_upgrade = true
  apply_immediately          = var.apply_immediately

  log_delivery_configuration {
    destination      = aws_cloudwatch_log_group.this["slow-log"].name
    destination_type = "cloudwatch-logs"
    log_format       = var.log_format
    log_type         = "slow-log"
  }

  log_delivery_configuration {
    destination      = aws_cloudwatch_log_group.this["engine-log"].name
    destination_type = "cloudwatch-logs"
    log_format       = var.log_format
    log_type         = "engine-log"
  }

  tags = merge({ Name = local.replication_group_id }, var.tags)
}

################################################################################
# Logs
################################################################################

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158: CloudWatch Logs encrypts every log group with an AWS-owned key already; a customer-managed KMS key would add cost and a key policy to a short-lived test bed for no gain in isolation.
  #checkov:skip=CKV_AWS_338: Retention is the `log_retention_days` variable (default 14 days): a rehearsal environment keeps logs for the rehearsal, not for a year of audit.
  for_each = local.log_groups

  name              = each.value
  retention_in_days = var.log_retention_days

  tags = merge({ Name = "${local.replication_group_id}-${each.key}" }, var.tags)
}
