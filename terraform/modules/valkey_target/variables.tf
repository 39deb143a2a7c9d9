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

variable "subnet_ids" {
  description = "IDs of the private subnets for the cache subnet group, `[A, B]`"
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "Multi-AZ needs subnets in at least two availability zones: give at least two subnet IDs."
  }
}

variable "availability_zones" {
  description = "Availability zones of `subnet_ids`, `[A, B]`: the primary goes to A, replicas alternate B, A, ... (cluster mode disabled only)"
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2 && length(distinct(var.availability_zones)) == length(var.availability_zones)
    error_message = "Give at least two distinct availability zones."
  }
}

variable "security_group_ids" {
  description = "IDs of the security groups of the cache nodes"
  type        = list(string)
}

################################################################################
# Replication Group
################################################################################

variable "replication_group_id" {
  description = "Replication group identifier; defaults to `<name>-valkey`. 1-40 characters: lowercase letters, digits, hyphens, starting with a letter"
  type        = string
  default     = null

  validation {
    condition     = var.replication_group_id == null || can(regex("^[a-z][a-z0-9-]{0,38}[a-z0-9]$", var.replication_group_id))
    error_message = "The replication_group_id must be 2-40 lowercase letters, digits or hyphens, start with a letter and not end with a hyphen."
  }
}

variable "engine_version" {
  description = "Valkey engine version, `MAJOR.MINOR`. Valid values: `7.2`, `8.0`, `8.1`, `8.2`"
  type        = string
  default     = "8.2"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+$", var.engine_version)) && try(tonumber(split(".", var.engine_version)[0]) >= 7, false)
    error_message = "The engine_version must be a Valkey `MAJOR.MINOR` of 7.2 or later, e.g. `8.2`."
  }
}

variable "node_type" {
  description = "Cache node type, e.g. `cache.t3.medium`, `cache.r6g.large`"
  type        = string
  default     = "cache.t3.medium"

  validation {
    condition     = can(regex("^cache\\.[a-z0-9]+\\.[a-z0-9]+$", var.node_type))
    error_message = "The node_type must be an ElastiCache node type starting with `cache.`, e.g. `cache.t3.medium`."
  }
}

variable "num_cache_clusters" {
  description = "Nodes per shard: one primary plus replicas. At least `2`: Multi-AZ and automatic failover need a replica"
  type        = number
  default     = 2

  validation {
    condition     = var.num_cache_clusters >= 2 && var.num_cache_clusters <= 6 && floor(var.num_cache_clusters) == var.num_cache_clusters
    error_message = "The num_cache_clusters must be an integer from 2 (primary + one replica, required by Multi-AZ) to 6."
  }
}

variable "num_node_groups" {
  description = "Shards. `1` keeps cluster mode disabled (as the seed); more than `1` enables cluster mode with that many shards"
  type        = number
  default     = 1

  validation {
    condition     = var.num_node_groups >= 1 && var.num_node_groups <= 500 && floor(var.num_node_groups) == var.num_node_groups
    error_message = "The num_node_groups must be an integer from 1 to 500."
  }
}

variable "port" {
  description = "TCP port of the cache nodes"
  type        = number
  default     = 6379
}

variable "parameters" {
  description = "Extra engine parameters for the group's parameter group, e.g. `[{ name = \"maxmemory-policy\", value = \"noeviction\" }]`. `cluster-enabled` is not one of them: it follows `num_node_groups`"
  type = list(object({
    name  = string
    value = string
  }))
  default = []

  validation {
    condition     = !contains([for p in var.parameters : p.name], "cluster-enabled") && length(distinct([for p in var.parameters : p.name])) == length(var.parameters)
    error_message = "The parameters must name each parameter once and leave out `cluster-enabled` (set by num_node_groups > 1)."
  }
}

variable "apply_immediately" {
  description = "Whether changes apply now instead of in the next maintenance window"
  type        = bool
  default     = true
}

variable "maintenance_window" {
  description = "Weekly maintenance window, `ddd:hh24:mi-ddd:hh24:mi` (UTC)"
  type        = string
  default     = "sun:05:00-sun:06:00"
}

################################################################################
# Snapshots
################################################################################

variable "snapshot_retention_limit" {
  description = "Days automatic snapshots are kept. At least `1`: the seed's recovery plan restores from them"
  type        = number
  default     = 1

  validation {
    condition     = var.snapshot_retention_limit >= 1 && var.snapshot_retention_limit <= 35 && floor(var.snapshot_retention_limit) == var.snapshot_retention_limit
    error_message = "The snapshot_retention_limit must be an integer from 1 to 35 (0 would turn automatic snapshots off)."
  }
}

variable "snapshot_window" {
  description = "Daily window for automatic snapshots, `hh24:mi-hh24:mi` (UTC); must not overlap `maintenance_window`"
  type        = string
  default     = "03:00-04:00"
}

################################################################################
# Logs
################################################################################

variable "log_retention_days" {
  description = "Days CloudWatch Logs keeps the slow log and the engine log. Valid values: `1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653`"
  type        = number
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "The log_retention_days must be one of the CloudWatch Logs retention values: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "log_format" {
  description = "Format of the delivered slow and engine logs. Valid values: `json`, `text`"
  type        = string
  default     = "json"

  validation {
    condition     = contains(["json", "text"], var.log_format)
    error_message = "The log_format must be `json` or `text`."
  }
}
