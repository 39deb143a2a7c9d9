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
# VPC
################################################################################

variable "vpc_cidr" {
  description = "IPv4 CIDR block of the VPC"
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && try(cidrsubnet(var.vpc_cidr, 0, 0) == var.vpc_cidr, false)
    error_message = "The vpc_cidr must be an IPv4 network address in CIDR form, e.g. `10.0.0.0/16`."
  }
}

variable "availability_zones" {
  description = "Exactly two availability zone names: `[A, B]`. A holds the NAT gateway and the Redis host, B the ElastiCache replica"
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) == 2 && length(distinct(var.availability_zones)) == 2
    error_message = "The availability_zones must be two distinct zone names, e.g. `[\"us-east-1a\", \"us-east-1b\"]`."
  }
}

################################################################################
# Subnets
################################################################################

variable "public_subnet_a_cidr" {
  description = "CIDR of the public subnet in zone A (holds the NAT gateway)"
  type        = string
  default     = "10.0.0.0/24"

  validation {
    condition     = can(cidrhost(var.public_subnet_a_cidr, 0)) && try(cidrsubnet(var.public_subnet_a_cidr, 0, 0) == var.public_subnet_a_cidr, false)
    error_message = "The public_subnet_a_cidr must be an IPv4 network address in CIDR form, e.g. `10.0.0.0/24`."
  }
}

variable "public_subnet_b_cidr" {
  description = "CIDR of the public subnet in zone B (reserved)"
  type        = string
  default     = "10.0.1.0/24"

  validation {
    condition     = can(cidrhost(var.public_subnet_b_cidr, 0)) && try(cidrsubnet(var.public_subnet_b_cidr, 0, 0) == var.public_subnet_b_cidr, false)
    error_message = "The public_subnet_b_cidr must be an IPv4 network address in CIDR form, e.g. `10.0.1.0/24`."
  }
}

variable "private_subnet_a_cidr" {
  description = "CIDR of the private subnet in zone A (Redis host, EC2 Instance Connect Endpoint, ElastiCache primary)"
  type        = string
  default     = "10.0.2.0/24"

  validation {
    condition     = can(cidrhost(var.private_subnet_a_cidr, 0)) && try(cidrsubnet(var.private_subnet_a_cidr, 0, 0) == var.private_subnet_a_cidr, false)
    error_message = "The private_subnet_a_cidr must be an IPv4 network address in CIDR form, e.g. `10.0.2.0/24`."
  }
}

variable "private_subnet_b_cidr" {
  description = "CIDR of the private subnet in zone B (ElastiCache replica)"
  type        = string
  default     = "10.0.3.0/24"

  validation {
    condition     = can(cidrhost(var.private_subnet_b_cidr, 0)) && try(cidrsubnet(var.private_subnet_b_cidr, 0, 0) == var.private_subnet_b_cidr, false)
    error_message = "The private_subnet_b_cidr must be an IPv4 network address in CIDR form, e.g. `10.0.3.0/24`."
  }
}

################################################################################
# Flow Log
################################################################################

variable "flow_log_retention_days" {
  description = "Days CloudWatch Logs keeps the VPC flow log. Valid values: `1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653`"
  type        = number
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_days)
    error_message = "The flow_log_retention_days must be one of the CloudWatch Logs retention values: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "flow_log_traffic_type" {
  description = "Traffic the VPC flow log records. Valid values: `ACCEPT`, `REJECT`, `ALL`"
  type        = string
  default     = "ALL"

  validation {
    condition     = contains(["ACCEPT", "REJECT", "ALL"], var.flow_log_traffic_type)
    error_message = "The flow_log_traffic_type must be `ACCEPT`, `REJECT` or `ALL`."
  }
}
