variable "name" {
  description = "Name prefix for every resource of this module (also the `Name` tag)"
  type        = string
}

variable "tags" {
  description = "Extra tags for every resource of this module (the root module sets account-wide tags through provider `default_tags`)"
  type        = map(string)
  default     = {}
}

################################################################################
# Placement
################################################################################

variable "subnet_id" {
  description = "ID of the private subnet (zone A) for the Redis host and the EC2 Instance Connect Endpoint"
  type        = string
}

variable "security_group_id" {
  description = "ID of the Redis host's security group"
  type        = string
}

variable "eic_security_group_id" {
  description = "ID of the EC2 Instance Connect Endpoint's security group"
  type        = string
}

################################################################################
# Instance
################################################################################

variable "instance_type" {
  description = "EC2 instance type of the Redis host, e.g. `t3.medium`, `c5.large` (x86_64 unless `ami_ssm_parameter_name` names an arm64 image)"
  type        = string
  default     = "t3.medium"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.instance_type))
    error_message = "The instance_type must look like `family.size`, e.g. `t3.medium`."
  }
}

variable "ami_ssm_parameter_name" {
  description = "Public SSM parameter holding the latest Amazon Linux 2023 AMI ID"
  type        = string
  default     = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
}

variable "ami_id" {
  description = "AMI ID to use instead of the latest Amazon Linux 2023 at creation time (later AMI releases never replace a running host)"
  type        = string
  default     = null

  validation {
    condition     = var.ami_id == null || can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "The ami_id must be null or an AMI ID like `ami-0123456789abcdef0`."
  }
}

variable "root_volume_size" {
  description = "Size in GiB of the encrypted gp3 root volume (holds the build tree, RDB and AOF files)"
  type        = number
  default     = 20

  validation {
    condition     = var.root_volume_size >= 8 && var.root_volume_size <= 16384
    error_message = "The root_volume_size must be between 8 and 16384 GiB."
  }
}

variable "detailed_monitoring" {
  description = "Whether EC2 sends its metrics to CloudWatch every minute instead of every five"
  type        = bool
  default     = true
}

################################################################################
# Redis
################################################################################

variable "redis_version" {
  description = "Redis OSS version compiled on the host, `X.Y.Z`. `7.4.x` writes RDB format 12, which Valkey 8.0/8.1 refuse by default; `7.2.x` avoids that"
  type        = string
  default     = "7.4.6"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.redis_version))
    error_message = "The redis_version must be a release number `X.Y.Z`, e.g. `7.4.6` or `7.2.11`."
  }
}

variable "redis_source_sha256" {
  description = "SHA-256 of `redis-<redis_version>.tar.gz` (listed in the redis/redis-hashes README); the host refuses to build a tarball that does not match"
  type        = string
  default     = "73b94484e00fb4c2440b490dc4021142fb0b6efc8b64c6329c10d24f0b531c99"

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.redis_source_sha256))
    error_message = "The redis_source_sha256 must be 64 lowercase hexadecimal characters."
  }
}

variable "redis_download_base_url" {
  description = "Base URL the host downloads `redis-<version>.tar.gz` from"
  type        = string
  default     = "https://download.redis.io/releases"

  validation {
    condition     = can(regex("^https://", var.redis_download_base_url))
    error_message = "The redis_download_base_url must be an https:// URL."
  }
}

variable "cluster_masters" {
  description = "Redis processes on the host. `1`: one standalone Redis on 6379 (the seed). More: a Redis Cluster of that many masters on ports `6379`..`6379+N-1` (cluster bus on port + 10000), slots spread evenly, one systemd unit per node"
  type        = number
  default     = 1

  validation {
    condition     = var.cluster_masters >= 1 && var.cluster_masters <= 16 && floor(var.cluster_masters) == var.cluster_masters
    error_message = "The cluster_masters must be an integer from 1 to 16 (one host carries every node; more shards need more hosts than this test bed has)."
  }
}

################################################################################
# Valkey bridge
################################################################################

variable "bridge_enabled" {
  description = "Whether the host also runs a Valkey 9 **bridge**: a replica of the local Redis (`rdb-version-check relaxed`, read-only, no persistence) that ElastiCache replicates instead of the source, for sources whose RDB format the target refuses (Redis 7.4 writes RDB 12). Not with `cluster_masters > 1`"
  type        = bool
  default     = false
}

variable "bridge_port" {
  description = "TCP port of the Valkey bridge"
  type        = number
  default     = 6380

  validation {
    condition     = var.bridge_port >= 1024 && var.bridge_port <= 65535 && floor(var.bridge_port) == var.bridge_port && var.bridge_port != 6379
    error_message = "The bridge_port must be an integer from 1024 to 65535 other than Redis's 6379."
  }
}

variable "bridge_valkey_version" {
  description = "Valkey version compiled for the bridge, `X.Y.Z`; 9.0 or later (Valkey before 9.0 refuses RDB 12 even with `rdb-version-check relaxed`)"
  type        = string
  default     = "9.1.1"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.bridge_valkey_version)) && try(tonumber(split(".", var.bridge_valkey_version)[0]) >= 9, false)
    error_message = "The bridge_valkey_version must be a Valkey release `X.Y.Z` of 9.0.0 or later, e.g. `9.1.1`."
  }
}

variable "bridge_valkey_sha256" {
  description = "SHA-256 of the Valkey `<bridge_valkey_version>.tar.gz` release tarball (listed in the valkey-io/valkey-hashes README). The default is 9.1.1's; the host refuses a tarball that does not match, and plan refuses another version with this default"
  type        = string
  default     = "7d7232acd1b8a49b4e05d07a00b3ca8c801ae06ab633ca6a3423bc5f385ab7ee"

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.bridge_valkey_sha256))
    error_message = "The bridge_valkey_sha256 must be 64 lowercase hexadecimal characters."
  }
}

variable "bridge_download_base_url" {
  description = "Base URL the host downloads `<bridge_valkey_version>.tar.gz` from (the valkey-hashes README's addresses)"
  type        = string
  default     = "https://github.com/valkey-io/valkey/archive/refs/tags"

  validation {
    condition     = can(regex("^https://", var.bridge_download_base_url))
    error_message = "The bridge_download_base_url must be an https:// URL."
  }
}

################################################################################
# IAM
################################################################################

variable "ssm_session_manager_enabled" {
  description = "Whether the host role also gets `AmazonSSMManagedInstanceCore` (SSM Session Manager). Off by default: the architecture reaches the host through the EC2 Instance Connect Endpoint"
  type        = bool
  default     = false
}

################################################################################
# Logs
################################################################################

variable "log_retention_days" {
  description = "Days CloudWatch Logs keeps the Redis log and the user-data log. Valid values: `1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653`"
  type        = number
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "The log_retention_days must be one of the CloudWatch Logs retention values: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}
