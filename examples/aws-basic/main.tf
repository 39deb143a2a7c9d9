# The whole test bed from the reusable, provider-free module: this configuration owns the provider, so
# the module can take an aliased one (here), or be used with count / for_each / depends_on.

provider "aws" {
  alias  = "rehearsal"
  region = var.region

  default_tags {
    tags = merge({ Project = "migrator", Environment = var.name, ManagedBy = "terraform" }, var.tags)
  }
}

module "migrator" {
  source = "../../terraform/modules/migrator"

  providers = {
    aws = aws.rehearsal
  }

  name = var.name

  # Scaling knobs (the seed's defaults shown).
  redis_instance_type       = var.redis_instance_type
  valkey_node_type          = var.valkey_node_type
  valkey_num_cache_clusters = var.valkey_num_cache_clusters

  # Redis 7.4.x writes RDB format 12, which ElastiCache's Valkey 8.x refuses: the module turns on a Valkey 9
  # bridge on the source host for such a version (bridge_enabled = null). A 7.2.x source needs none:
  # choose one with its tarball's sha256 (redis/redis-hashes).
  redis_version       = var.redis_version
  redis_source_sha256 = var.redis_source_sha256

  valkey_parameters = var.valkey_parameters
}
