variable "name" {
  description = "Name prefix of every resource (VPC, security groups, log groups, replication group `<name>-valkey`). 2-24 lowercase letters, digits or hyphens, starting with a letter"
  type        = string
  default     = "migrator"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,22}[a-z0-9]$", var.name)) && !strcontains(var.name, "--")
    error_message = "The name must be 2-24 lowercase letters, digits or single hyphens, start with a letter and end with a letter or digit (it prefixes ElastiCache and IAM names)."
  }
}

variable "tags" {
  description = "Tags for every resource, merged over each resource's `Name` (the provider's `default_tags` apply too)"
  type        = map(string)
  default     = {}
  nullable    = false
}

################################################################################
# Network
################################################################################

variable "availability_zones" {
  description = "Two availability zones `[A, B]`; `[]` takes the region's first two available zones"
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = length(var.availability_zones) == 0 || (length(var.availability_zones) == 2 && length(distinct(var.availability_zones)) == 2)
    error_message = "The availability_zones must be empty (automatic) or two distinct zone names, e.g. `[\"us-east-1a\", \"us-east-1b\"]`."
  }
}

variable "vpc_cidr" {
  description = "IPv4 CIDR block of the VPC"
  type        = string
  default     = "10.0.0.0/16"
  nullable    = false

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && try(cidrsubnet(var.vpc_cidr, 0, 0) == var.vpc_cidr, false)
    error_message = "The vpc_cidr must be an IPv4 network address in CIDR form, e.g. `10.0.0.0/16`."
  }
}

variable "public_subnet_a_cidr" {
  description = "CIDR of the public subnet in zone A (NAT gateway); must lie inside `vpc_cidr`"
  type        = string
  default     = "10.0.0.0/24"
  nullable    = false

  validation {
    condition     = can(cidrhost(var.public_subnet_a_cidr, 0)) && try(cidrsubnet(var.public_subnet_a_cidr, 0, 0) == var.public_subnet_a_cidr, false)
    error_message = "The public_subnet_a_cidr must be an IPv4 network address in CIDR form, e.g. `10.0.0.0/24`."
  }
}

variable "public_subnet_b_cidr" {
  description = "CIDR of the public subnet in zone B (reserved); must lie inside `vpc_cidr`"
  type        = string
  default     = "10.0.1.0/24"
  nullable    = false

  validation {
    condition     = can(cidrhost(var.public_subnet_b_cidr, 0)) && try(cidrsubnet(var.public_subnet_b_cidr, 0, 0) == var.public_subnet_b_cidr, false)
    error_message = "The public_subnet_b_cidr must be an IPv4 network address in CIDR form, e.g. `10.0.1.0/24`."
  }
}

variable "private_subnet_a_cidr" {
  description = "CIDR of the private subnet in zone A (Redis host, EC2 Instance Connect Endpoint, Valkey primary); must lie inside `vpc_cidr`"
  type        = string
  default     = "10.0.2.0/24"
  nullable    = false

  validation {
    condition     = can(cidrhost(var.private_subnet_a_cidr, 0)) && try(cidrsubnet(var.private_subnet_a_cidr, 0, 0) == var.private_subnet_a_cidr, false)
    error_message = "The private_subnet_a_cidr must be an IPv4 network address in CIDR form, e.g. `10.0.2.0/24`."
  }
}

variable "private_subnet_b_cidr" {
  description = "CIDR of the private subnet in zone B (Valkey replica); must lie inside `vpc_cidr`"
  type        = string
  default     = "10.0.3.0/24"
  nullable    = false

  validation {
    condition     = can(cidrhost(var.private_subnet_b_cidr, 0)) && try(cidrsubnet(var.private_subnet_b_cidr, 0, 0) == var.private_subnet_b_cidr, false)
    error_message = "The private_subnet_b_cidr must be an IPv4 network address in CIDR form, e.g. `10.0.3.0/24`."
  }
}

################################################################################
# Redis source host
################################################################################

variable "redis_instance_type" {
  description = "EC2 instance type of the Redis source host, e.g. `t3.medium` (default), `c5.large` (x86_64 types)"
  type        = string
  default     = "t3.medium"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.redis_instance_type))
    error_message = "The redis_instance_type must look like `family.size`, e.g. `t3.medium` or `c5.large`."
  }
}

variable "redis_version" {
  description = "Redis OSS version compiled from source on the host, `X.Y.Z`. `7.4.x` writes RDB format 12, which Valkey 8.0/8.1 refuse by default; `7.2.x` avoids the risk (set `redis_source_sha256` with it)"
  type        = string
  default     = "7.4.6"
  nullable    = false

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.redis_version))
    error_message = "The redis_version must be a release number `X.Y.Z`, e.g. `7.4.6` or `7.2.11`."
  }
}

variable "redis_source_sha256" {
  description = "SHA-256 of `redis-<redis_version>.tar.gz` (redis/redis-hashes README). The default is 7.4.6's; the host refuses a tarball that does not match, and plan refuses another version with this default"
  type        = string
  default     = "73b94484e00fb4c2440b490dc4021142fb0b6efc8b64c6329c10d24f0b531c99"
  nullable    = false

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.redis_source_sha256))
    error_message = "The redis_source_sha256 must be 64 lowercase hexadecimal characters."
  }
}

variable "redis_cluster_masters" {
  description = "Masters of the source: `null` follows `valkey_num_node_groups` (online migration needs the same count). `1` runs one standalone Redis on 6379; more runs a Redis Cluster on the one host, ports `6379`..`6379+N-1`, cluster bus on each port + 10000"
  type        = number
  default     = null

  validation {
    condition     = var.redis_cluster_masters == null || try(var.redis_cluster_masters >= 1 && var.redis_cluster_masters <= 16 && floor(var.redis_cluster_masters) == var.redis_cluster_masters, false)
    error_message = "The redis_cluster_masters must be null or an integer from 1 to 16 (every node runs on the one source host)."
  }
}

variable "ssm_session_manager_enabled" {
  description = "Whether the host role also gets `AmazonSSMManagedInstanceCore`. Off by default: the architecture reaches the host through the EC2 Instance Connect Endpoint only"
  type        = bool
  default     = false
  nullable    = false
}

################################################################################
# Valkey bridge (Redis >= 7.4 -> ElastiCache for Valkey 8.x)
################################################################################

variable "bridge_enabled" {
  description = "Whether the source host runs a Valkey 9 bridge on `bridge_port`: a replica of the source (`rdb-version-check relaxed`, read-only, no persistence) that ElastiCache replicates instead, for a source whose RDB format the target refuses. `null` (default): on when `redis_version` >= 7.4 (RDB 12) and the source is not a cluster"
  type        = bool
  default     = null
}

variable "bridge_port" {
  description = "TCP port of the Valkey bridge on the source host"
  type        = number
  default     = 6380
  nullable    = false
}

variable "bridge_valkey_version" {
  description = "Valkey version compiled for the bridge, `X.Y.Z`, 9.0 or later (earlier Valkey refuses RDB 12 even relaxed)"
  type        = string
  default     = "9.1.1"
  nullable    = false
}

variable "bridge_valkey_sha256" {
  description = "SHA-256 of the Valkey `<bridge_valkey_version>.tar.gz` release tarball (valkey-io/valkey-hashes README). The default is 9.1.1's; the host refuses a tarball that does not match, and plan refuses another version with this default"
  type        = string
  default     = "7d7232acd1b8a49b4e05d07a00b3ca8c801ae06ab633ca6a3423bc5f385ab7ee"
  nullable    = false
}

################################################################################
# Valkey target
################################################################################

variable "valkey_node_type" {
  description = "ElastiCache node type, e.g. `cache.t3.medium` (default), `cache.r6g.large`"
  type        = string
  default     = "cache.t3.medium"
  nullable    = false

  validation {
    condition     = can(regex("^cache\\.[a-z0-9]+\\.[a-z0-9]+$", var.valkey_node_type))
    error_message = "The valkey_node_type must be an ElastiCache node type starting with `cache.`, e.g. `cache.t3.medium`."
  }
}

variable "valkey_engine_version" {
  description = "Valkey engine version, `MAJOR.MINOR`. Valid values: `7.2`, `8.0`, `8.1`, `8.2`"
  type        = string
  default     = "8.2"
  nullable    = false

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+$", var.valkey_engine_version)) && try(tonumber(split(".", var.valkey_engine_version)[0]) >= 7, false)
    error_message = "The valkey_engine_version must be a Valkey `MAJOR.MINOR` of 7.2 or later, e.g. `8.2`."
  }
}

variable "valkey_num_cache_clusters" {
  description = "Valkey nodes per shard: one primary plus replicas. At least `2`, since Multi-AZ needs a replica"
  type        = number
  default     = 2
  nullable    = false

  validation {
    condition     = var.valkey_num_cache_clusters >= 2 && var.valkey_num_cache_clusters <= 6 && floor(var.valkey_num_cache_clusters) == var.valkey_num_cache_clusters
    error_message = "The valkey_num_cache_clusters must be an integer from 2 (primary + one replica, required by Multi-AZ) to 6."
  }
}

variable "valkey_num_node_groups" {
  description = "Valkey shards. `1` keeps cluster mode disabled (the seed); more than `1` builds a cluster-mode-enabled target (parameter group `cluster-enabled yes`) with that many shards, and a source Redis Cluster with as many masters (at most 16 on the one host; set `redis_cluster_masters` for more target shards)"
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = var.valkey_num_node_groups >= 1 && var.valkey_num_node_groups <= 500 && floor(var.valkey_num_node_groups) == var.valkey_num_node_groups
    error_message = "The valkey_num_node_groups must be an integer from 1 to 500."
  }
}

variable "valkey_parameters" {
  description = "Extra engine parameters for the target's parameter group, e.g. `[{ name = \"maxmemory-policy\", value = \"noeviction\" }]`; `cluster-enabled` follows `valkey_num_node_groups`"
  type = list(object({
    name  = string
    value = string
  }))
  default  = []
  nullable = false
}

variable "snapshot_retention_limit" {
  description = "Days ElastiCache keeps automatic snapshots; at least `1` (snapshots are the target's recovery path)"
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = var.snapshot_retention_limit >= 1 && var.snapshot_retention_limit <= 35 && floor(var.snapshot_retention_limit) == var.snapshot_retention_limit
    error_message = "The snapshot_retention_limit must be an integer from 1 to 35 (0 would turn automatic snapshots off)."
  }
}

variable "apply_immediately" {
  description = "Whether ElastiCache changes apply now instead of in the next maintenance window"
  type        = bool
  default     = true
  nullable    = false
}

################################################################################
# Monitoring
################################################################################

variable "log_retention_days" {
  description = "Days CloudWatch Logs keeps every log group (Redis log, Valkey slow/engine logs, VPC flow log). Valid values: `1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653`"
  type        = number
  default     = 14
  nullable    = false

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "The log_retention_days must be one of the CloudWatch Logs retention values: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "dashboard_enabled" {
  description = "Whether to create the migration's CloudWatch dashboard (`<name>-migration`: target CPU/engine CPU, memory, network, PrimaryLinkHealthStatus, replication bytes; the source host's CPU, network, memory)"
  type        = bool
  default     = true
  nullable    = false
}
