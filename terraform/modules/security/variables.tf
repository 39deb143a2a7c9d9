variable "name" {
  description = "Name prefix for every security group of this module"
  type        = string
}

variable "tags" {
  description = "Extra tags for every resource of this module (the root module sets account-wide tags through provider `default_tags`)"
  type        = map(string)
  default     = {}
}

variable "vpc_id" {
  description = "ID of the VPC the security groups belong to"
  type        = string
}

################################################################################
# Ports
################################################################################

variable "redis_port" {
  description = "TCP port of the Redis source and of the Valkey target"
  type        = number
  default     = 6379

  validation {
    condition     = var.redis_port >= 1 && var.redis_port <= 65535 && floor(var.redis_port) == var.redis_port
    error_message = "The redis_port must be an integer between 1 and 65535."
  }
}

variable "redis_node_count" {
  description = "Redis nodes on the source host, on consecutive ports from `redis_port`: `1` (standalone) or the masters of a Redis Cluster"
  type        = number
  default     = 1

  validation {
    condition     = var.redis_node_count >= 1 && var.redis_node_count <= 16 && floor(var.redis_node_count) == var.redis_node_count
    error_message = "The redis_node_count must be an integer from 1 to 16."
  }
}

variable "bridge_port" {
  description = "TCP port of the Valkey bridge on the source host; `null` when there is no bridge"
  type        = number
  default     = null

  validation {
    condition     = var.bridge_port == null || try(var.bridge_port >= 1 && var.bridge_port <= 65535 && floor(var.bridge_port) == var.bridge_port, false)
    error_message = "The bridge_port must be null or an integer between 1 and 65535."
  }
}

variable "ssh_port" {
  description = "TCP port the EC2 Instance Connect Endpoint tunnels to on the Redis host"
  type        = number
  default     = 22

  validation {
    condition     = contains([22, 3389], var.ssh_port)
    error_message = "EC2 Instance Connect Endpoint tunnels only TCP `22` and `3389`."
  }
}
