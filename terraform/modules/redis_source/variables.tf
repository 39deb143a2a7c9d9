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
