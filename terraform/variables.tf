# The thin root module `migrator up --target aws` applies (and `terraform -chdir=terraform apply` too): it
# configures the AWS provider and passes every input to the reusable module. `null` means "the module's
# default", so defaults and validations live once, in modules/migrator.

variable "region" {
  description = "AWS region the provider works in (every resource), e.g. `us-east-1`"
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]+$", var.region))
    error_message = "The region must be an AWS region name such as `us-east-1` or `eu-west-2`."
  }
}

variable "name" {
  description = "Name prefix of every resource (VPC, security groups, log groups, replication group `<name>-valkey`). 2-24 lowercase letters, digits or hyphens, starting with a letter"
  type        = string
  default     = "migrator"
}

variable "tags" {
  description = "Tags added to every resource through the provider's `default_tags`"
  type        = map(string)
  default     = {}
}

################################################################################
# Network
################################################################################

variable "availability_zones" {
  description = "Two availability zones `[A, B]`; `[]` takes the region's first two available zones. `null` = the module default, `[]`"
  type        = list(string)
  default     = null
}

variable "vpc_cidr" {
  description = "IPv4 CIDR block of the VPC. `null` = the module default, `10.0.0.0/16`"
  type        = string
  default     = null
}

variable "public_subnet_a_cidr" {
  description = "CIDR of the public subnet in zone A (NAT gateway); must lie inside `vpc_cidr`. `null` = the module default, `10.0.0.0/24`"
  type        = string
  default     = null
}

variable "public_subnet_b_cidr" {
  description = "CIDR of the public subnet in zone B (reserved); must lie inside `vpc_cidr`. `null` = the module default, `10.0.1.0/24`"
  type        = string
  default     = null
}

variable "private_subnet_a_cidr" {
  description = "CIDR of the private subnet in zone A (Redis host, EC2 Instance Connect Endpoint, Valkey primary); must lie inside `vpc_cidr`. `null` = the module default, `10.0.2.0/24`"
  type        = string
  default     = null
}

variable "private_subnet_b_cidr" {
  description = "CIDR of the private subnet in zone B (Valkey replica); must lie inside `vpc_cidr`. `null` = the module default, `10.0.3.0/24`"
  type        = string
  default     = null
}

################################################################################
# Redis source host
################################################################################

variable "redis_instance_type" {
  description = "EC2 instance type of the Redis source host, e.g. `t3.medium` (default), `c5.large` (x86_64 types). `null` = the module default, `t3.medium`"
  type        = string
  default     = null
}

variable "redis_version" {
  description = "Redis OSS version compiled from source on the host, `X.Y.Z`. `7.4.x` writes RDB format 12, which Valkey 8.0/8.1 refuse by default; `7.2.x` avoids the risk (set `redis_source_sha256` with it). `null` = the module default, `7.4.6`"
  type        = string
  default     = null
}

variable "redis_source_sha256" {
  description = "SHA-256 of `redis-<redis_version>.tar.gz` (redis/redis-hashes README). The default is 7.4.6's; the host refuses a tarball that does not match, and plan refuses another version with this default. `null` = the module default, `73b94484e00fb4c2440b490dc4021142fb0b6efc8b64c6329c10d24f0b531c99`"
  type        = string
  default     = null
}

variable "redis_cluster_masters" {
  description = "Masters of the source: `null` follows `valkey_num_node_groups` (online migration needs the same count). `1` runs one standalone Redis on 6379; more runs a Redis Cluster on the one host, ports `6379`..`6379+N-1`, cluster bus on each port + 10000"
  type        = number
  default     = null
}

variable "ssm_session_manager_enabled" {
  description = "Whether the host role also gets `AmazonSSMManagedInstanceCore`. Off by default: the architecture reaches the host through the EC2 Instance Connect Endpoint only. `null` = the module default, `false`"
  type        = bool
  default     = null
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
  description = "TCP port of the Valkey bridge on the source host. `null` = the module default, `6380`"
  type        = number
  default     = null
}

variable "bridge_valkey_version" {
  description = "Valkey version compiled for the bridge, `X.Y.Z`, 9.0 or later (earlier Valkey refuses RDB 12 even relaxed). `null` = the module default, `9.1.1`"
  type        = string
  default     = null
}

variable "bridge_valkey_sha256" {
  description = "SHA-256 of the Valkey `<bridge_valkey_version>.tar.gz` release tarball (valkey-io/valkey-hashes README). The default is 9.1.1's; the host refuses a tarball that does not match, and plan refuses another version with this default. `null` = the module default, `7d7232acd1b8a49b4e05d07a00b3ca8c801ae06ab633ca6a3423bc5f385ab7ee`"
  type        = string
  default     = null
}

################################################################################
# Valkey target
################################################################################

variable "valkey_node_type" {
  description = "ElastiCache node type, e.g. `cache.t3.medium` (default), `cache.r6g.large`. `null` = the module default, `cache.t3.medium`"
  type        = string
  default     = null
}

variable "valkey_engine_version" {
  description = "Valkey engine version, `MAJOR.MINOR`. Valid values: `7.2`, `8.0`, `8.1`, `8.2`. `null` = the module default, `8.2`"
  type        = string
  default     = null
}

variable "valkey_num_cache_clusters" {
  description = "Valkey nodes per shard: one primary plus replicas. At least `2`, since Multi-AZ needs a replica. `null` = the module default, `2`"
  type        = number
  default     = null
}

variable "valkey_num_node_groups" {
  description = "Valkey shards. `1` keeps cluster mode disabled (the seed); more than `1` builds a cluster-mode-enabled target (parameter group `cluster-enabled yes`) with that many shards, and a source Redis Cluster with as many masters (at most 16 on the one host; set `redis_cluster_masters` for more target shards). `null` = the module default, `1`"
  type        = number
  default     = null
}

variable "valkey_parameters" {
  description = "Extra engine parameters for the target's parameter group, e.g. `[{ name = \"maxmemory-policy\", value = \"noeviction\" }]`; `cluster-enabled` follows `valkey_num_node_groups`. `null` = the module default, `[]`"
  type = list(object({
    name  = string
    value = string
  }))
  default = null
}

variable "snapshot_retention_limit" {
  description = "Days ElastiCache keeps automatic snapshots; at least `1` (snapshots are the target's recovery path). `null` = the module default, `1`"
  type        = number
  default     = null
}

variable "apply_immediately" {
  description = "Whether ElastiCache changes apply now instead of in the next maintenance window. `null` = the module default, `true`"
  type        = bool
  default     = null
}

################################################################################
# Monitoring
################################################################################

variable "log_retention_days" {
  description = "Days CloudWatch Logs keeps every log group (Redis log, Valkey slow/engine logs, VPC flow log). Valid values: `1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653`. `null` = the module default, `14`"
  type        = number
  default     = null
}

variable "dashboard_enabled" {
  description = "Whether to create the migration's CloudWatch dashboard (`<name>-migration`: target CPU/engine CPU, memory, network, PrimaryLinkHealthStatus, replication bytes; the source host's CPU, network, memory). `null` = the module default, `true`"
  type        = bool
  default     = null
}
