# The whole migration test bed, provider-free: the caller configures `aws` (region, credentials,
# default_tags) and may use this module with count, for_each, depends_on or an aliased provider.

# Without `state = "available"` on purpose: a zone that is briefly impaired must not shift the choice
# and so re-plan every subnet into another zone.
data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394: Only the first two names are used (the provider sorts them), so a zone AWS adds later never changes the choice; pin `availability_zones` to fix it outright.
  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  availability_zones = length(var.availability_zones) == 2 ? var.availability_zones : slice(data.aws_availability_zones.available.names, 0, 2)

  # `region` in provider 6.x, `name` (deprecated in 6.x) in 5.x: an index lookup resolves whichever exists
  # without a static reference to the other, so neither version warns nor fails.
  region_data = data.aws_region.current
  region      = try(local.region_data["region"], local.region_data["name"])

  # Redis >= 7.4 writes RDB format 12, which the Valkey 8.x that ElastiCache runs refuses: the bridge is
  # the way through, so it is on by default there (issue 10). A cluster source cannot use it.
  redis_version_parts = [for part in split(".", var.redis_version) : tonumber(part)]
  redis_writes_rdb_12 = local.redis_version_parts[0] > 7 || (local.redis_version_parts[0] == 7 && local.redis_version_parts[1] >= 4)

  redis_cluster_masters = coalesce(var.redis_cluster_masters, var.valkey_num_node_groups)
  bridge_enabled        = coalesce(var.bridge_enabled, local.redis_writes_rdb_12 && local.redis_cluster_masters == 1)
}

################################################################################
# Network
################################################################################

module "network" {
  source = "../network"

  name                    = var.name
  tags                    = var.tags
  availability_zones      = local.availability_zones
  vpc_cidr                = var.vpc_cidr
  public_subnet_a_cidr    = var.public_subnet_a_cidr
  public_subnet_b_cidr    = var.public_subnet_b_cidr
  private_subnet_a_cidr   = var.private_subnet_a_cidr
  private_subnet_b_cidr   = var.private_subnet_b_cidr
  flow_log_retention_days = var.log_retention_days
}

################################################################################
# Security groups
################################################################################

module "security" {
  source = "../security"

  name             = var.name
  tags             = var.tags
  vpc_id           = module.network.vpc_id
  redis_node_count = local.redis_cluster_masters
  bridge_port      = local.bridge_enabled ? var.bridge_port : null
}

################################################################################
# Redis source host
################################################################################

module "redis_source" {
  source = "../redis_source"

  name                        = var.name
  tags                        = var.tags
  subnet_id                   = module.network.private_subnet_ids[0]
  security_group_id           = module.security.redis_security_group_id
  eic_security_group_id       = module.security.eic_security_group_id
  instance_type               = var.redis_instance_type
  redis_version               = var.redis_version
  redis_source_sha256         = var.redis_source_sha256
  cluster_masters             = local.redis_cluster_masters
  bridge_enabled              = local.bridge_enabled
  bridge_port                 = var.bridge_port
  bridge_valkey_version       = var.bridge_valkey_version
  bridge_valkey_sha256        = var.bridge_valkey_sha256
  ssm_session_manager_enabled = var.ssm_session_manager_enabled
  log_retention_days          = var.log_retention_days
}

################################################################################
# Valkey target
################################################################################

module "valkey_target" {
  source = "../valkey_target"

  name                     = var.name
  tags                     = var.tags
  subnet_ids               = module.network.private_subnet_ids
  availability_zones       = local.availability_zones
  security_group_ids       = [module.security.valkey_security_group_id]
  node_type                = var.valkey_node_type
  engine_version           = var.valkey_engine_version
  num_cache_clusters       = var.valkey_num_cache_clusters
  num_node_groups          = var.valkey_num_node_groups
  parameters               = var.valkey_parameters
  snapshot_retention_limit = var.snapshot_retention_limit
  apply_immediately        = var.apply_immediately
  log_retention_days       = var.log_retention_days
}

# Online migration needs as many source masters as target shards (AWS, "Preparing your source and target
# nodes"). A different count is allowed, to rehearse preflight refusing it, but never silently.
check "source_and_target_have_the_same_shard_count" {
  assert {
    condition     = local.redis_cluster_masters == var.valkey_num_node_groups
    error_message = "The source runs ${local.redis_cluster_masters} master(s) but the target has ${var.valkey_num_node_groups} shard(s): online migration needs the same number (preflight will fail)."
  }
}
