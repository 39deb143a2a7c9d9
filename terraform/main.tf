# The thin root `migrator up --target aws` applies: the provider lives here, the test bed in the reusable,
# provider-free modules/migrator (call that one from your own configuration, see examples/aws-basic).

provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ Project = "migrator", Environment = var.name, ManagedBy = "terraform" }, var.tags)
  }
}

module "migrator" {
  source = "./modules/migrator"

  # var.tags reach every resource through the provider's default_tags above.
  name                        = var.name
  availability_zones          = var.availability_zones
  vpc_cidr                    = var.vpc_cidr
  public_subnet_a_cidr        = var.public_subnet_a_cidr
  public_subnet_b_cidr        = var.public_subnet_b_cidr
  private_subnet_a_cidr       = var.private_subnet_a_cidr
  private_subnet_b_cidr       = var.private_subnet_b_cidr
  redis_instance_type         = var.redis_instance_type
  redis_version               = var.redis_version
  redis_source_sha256         = var.redis_source_sha256
  redis_cluster_masters       = var.redis_cluster_masters
  ssm_session_manager_enabled = var.ssm_session_manager_enabled
  bridge_enabled              = var.bridge_enabled
  bridge_port                 = var.bridge_port
  bridge_valkey_version       = var.bridge_valkey_version
  bridge_valkey_sha256        = var.bridge_valkey_sha256
  valkey_node_type            = var.valkey_node_type
  valkey_engine_version       = var.valkey_engine_version
  valkey_num_cache_clusters   = var.valkey_num_cache_clusters
  valkey_num_node_groups      = var.valkey_num_node_groups
  valkey_parameters           = var.valkey_parameters
  snapshot_retention_limit    = var.snapshot_retention_limit
  apply_immediately           = var.apply_immediately
  log_retention_days          = var.log_retention_days
  dashboard_enabled           = var.dashboard_enabled
}

# Environments applied before the test bed moved into modules/migrator keep their resources: Terraform
# moves them in the state instead of destroying and re-creating the source host and the target.
moved {
  from = module.network
  to   = module.migrator.module.network
}

moved {
  from = module.security
  to   = module.migrator.module.security
}

moved {
  from = module.redis_source
  to   = module.migrator.module.redis_source
}

moved {
  from = module.valkey_target
  to   = module.migrator.module.valkey_target
}
