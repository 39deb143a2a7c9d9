# The whole test bed in one call: the seed's defaults, with a name and tags of your own.
# The module configures the AWS provider itself (region + default_tags), so nothing else is needed here.

module "migrator" {
  source = "../../terraform"

  name   = var.name
  region = var.region
  tags   = var.tags

  # Scaling knobs (the seed's defaults shown).
  redis_instance_type       = var.redis_instance_type
  valkey_node_type          = var.valkey_node_type
  valkey_num_cache_clusters = var.valkey_num_cache_clusters

  # Redis 7.4.x writes RDB format 12, which Valkey 8.0/8.1 refuse by default. To rehearse with a source
  # every Valkey target reads, choose a 7.2.x release and give its tarball's sha256 (redis/redis-hashes).
  redis_version       = var.redis_version
  redis_source_sha256 = var.redis_source_sha256
}
