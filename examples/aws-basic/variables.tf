variable "name" {
  description = "Name prefix of every resource"
  type        = string
  default     = "migrator-basic"
}

variable "region" {
  description = "AWS region, e.g. `us-east-1`"
  type        = string
  default     = "us-east-1"
}

variable "tags" {
  description = "Tags for every resource"
  type        = map(string)
  default = {
    Purpose = "redis-to-valkey-migration-rehearsal"
  }
}

variable "redis_instance_type" {
  description = "EC2 instance type of the Redis source host"
  type        = string
  default     = "t3.medium"
}

variable "valkey_node_type" {
  description = "ElastiCache node type of the Valkey target"
  type        = string
  default     = "cache.t3.medium"
}

variable "valkey_num_cache_clusters" {
  description = "Valkey nodes (primary + replicas), at least 2"
  type        = number
  default     = 2
}

variable "redis_version" {
  description = "Redis OSS version compiled on the source host"
  type        = string
  default     = "7.4.6"
}

variable "redis_source_sha256" {
  description = "SHA-256 of redis-<redis_version>.tar.gz"
  type        = string
  default     = "73b94484e00fb4c2440b490dc4021142fb0b6efc8b64c6329c10d24f0b531c99"
}

variable "valkey_parameters" {
  description = "Extra parameters for the target's parameter group, e.g. `[{ name = \"maxmemory-policy\", value = \"noeviction\" }]`"
  type = list(object({
    name  = string
    value = string
  }))
  default = []
}
