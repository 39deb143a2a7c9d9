provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ Project = "migrator", Environment = var.name, ManagedBy = "terraform" }, var.tags)
  }
}

# Without `state = "available"` on purpose: a zone that is briefly impaired must not shift the choice
# and so re-plan every subnet into another zone.
data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394: Only the first two names are used (the provider sorts them), so a zone AWS adds later never changes the choice; pin `availability_zones` to fix it outright.
  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

locals {
  availability_zones = length(var.availability_zones) == 2 ? var.availability_zones : slice(data.aws_availability_zones.available.names, 0, 2)
}

################################################################################
# Network
################################################################################

module "network" {
  source = "./modules/network"

  name                    = var.name
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
  source = "./modules/security"

  name   = var.name
  vpc_id = module.network.vpc_id
}

################################################################################
# Redis source host
################################################################################

module "redis_source" {
  source = "./modules/redis_source"

  name                  = var.name
  subnet_id             = module.network.private_subnet_ids[0]
  security_group_id     = module.security.redis_security_group_id
  eic_security_group_id = module.security.eic_security_group_id
  instance_type         = var.redis_instance_type
  redis_version         = var.redis_version
  redis_source_sha256   = var.redis_source_sha256
  log_retention_days    = var.log_retention_days
}

################################################################################
# Valkey target
################################################################################

module "valkey_target" {
  source = "./modules/valkey_target"

  name                     = var.name
  subnet_ids               = module.network.private_subnet_ids
  availability_zones       = local.availability_zones
  security_group_ids       = [module.security.valkey_security_group_id]
  node_type                = var.valkey_node_type
  engine_version           = var.valkey_engine_version
  num_cache_clusters       = var.valkey_num_cache_clusters
  num_node_groups          = var.valkey_num_node_groups
  snapshot_retention_limit = var.snapshot_retention_limit
  apply_immediately        = var.apply_immediately
  log_retention_days       = var.log_retention_days
}
