# Three groups, each rule its own resource: groups reference each other (Redis <-> Valkey), which inline
# rules would turn into a dependency cycle. No rule admits 0.0.0.0/0 inbound.

################################################################################
# Redis source host
################################################################################

resource "aws_security_group" "redis" {
  #checkov:skip=CKV2_AWS_5: Attached in module redis_source (aws_instance.this) through this module's output; checkov's graph does not follow module outputs.
  name_prefix = "${var.name}-redis-"
  description = "Redis source host: replication from Valkey, SSH from the EC2 Instance Connect Endpoint"
  vpc_id      = var.vpc_id

  tags = merge({ Name = "${var.name}-redis" }, var.tags)

  lifecycle {
    create_before_destroy = true
  }
}

# One rule over the source's node ports: 6379 alone, or 6379..6379+N-1 for a Redis Cluster of N masters
# (each target shard replicates the source master that owns its slots). The cluster bus (port + 10000)
# gets no rule: every node runs on this one host, so bus traffic never leaves it, and ElastiCache
# replicates over the data ports only.
resource "aws_vpc_security_group_ingress_rule" "redis_from_valkey" {
  security_group_id            = aws_security_group.redis.id
  description                  = var.redis_node_count > 1 ? "Redis Cluster nodes from the ElastiCache Valkey nodes (online migration replication, one port per master)" : "Redis from the ElastiCache Valkey nodes (online migration replication)"
  ip_protocol                  = "tcp"
  from_port                    = var.redis_port
  to_port                      = var.redis_port + var.redis_node_count - 1
  referenced_security_group_id = aws_security_group.valkey.id

  tags = merge({ Name = "${var.name}-redis-from-valkey" }, var.tags)
}

# The Valkey 9 bridge (a replica of the source that ElastiCache replicates instead, for sources whose RDB
# format the target refuses) listens on its own port on the same host.
resource "aws_vpc_security_group_ingress_rule" "bridge_from_valkey" {
  count = var.bridge_port == null ? 0 : 1

  security_group_id            = aws_security_group.redis.id
  description                  = "Valkey bridge from the ElastiCache Valkey nodes (online migration replication through the bridge)"
  ip_protocol                  = "tcp"
  from_port                    = var.bridge_port
  to_port                      = var.bridge_port
  referenced_security_group_id = aws_security_group.valkey.id

  tags = merge({ Name = "${var.name}-bridge-from-valkey" }, var.tags)

  lifecycle {
    precondition {
      condition     = var.bridge_port < var.redis_port || var.bridge_port > var.redis_port + var.redis_node_count - 1
      error_message = "The bridge_port ${var.bridge_port} falls inside the Redis node ports ${var.redis_port}-${var.redis_port + var.redis_node_count - 1}."
    }
  }
}

resource "aws_vpc_security_group_ingress_rule" "redis_ssh_from_eic" {
  #checkov:skip=CKV_AWS_24: False positive: the source is the EIC endpoint's security group (`referenced_security_group_id`), not 0.0.0.0/0; checkov does not read that argument on this resource type.
  security_group_id            = aws_security_group.redis.id
  description                  = "SSH from the EC2 Instance Connect Endpoint only"
  ip_protocol                  = "tcp"
  from_port                    = var.ssh_port
  to_port                      = var.ssh_port
  referenced_security_group_id = aws_security_group.eic.id

  tags = merge({ Name = "${var.name}-redis-ssh-from-eic" }, var.tags)
}

resource "aws_vpc_security_group_egress_rule" "redis_all" {
  #checkov:skip=CKV_AWS_382: The host downloads the Redis source, OS packages and the CloudWatch agent through the NAT gateway and talks to SSM/CloudWatch endpoints; their addresses are not knowable in advance (seed: outbound all).
  security_group_id = aws_security_group.redis.id
  description       = "All outbound: source tarballs, OS packages, CloudWatch Logs and metrics (SSM when enabled)"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"

  tags = merge({ Name = "${var.name}-redis-all-out" }, var.tags)
}

################################################################################
# Valkey target (ElastiCache)
################################################################################

resource "aws_security_group" "valkey" {
  #checkov:skip=CKV2_AWS_5: Attached in module valkey_target (aws_elasticache_replication_group.this) through this module's output; checkov's graph does not follow module outputs.
  name_prefix = "${var.name}-valkey-"
  description = "ElastiCache Valkey target: verification traffic from the Redis source host"
  vpc_id      = var.vpc_id

  tags = merge({ Name = "${var.name}-valkey" }, var.tags)

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "valkey_from_redis" {
  security_group_id            = aws_security_group.valkey.id
  description                  = "Valkey from the Redis source host (verification and tunnelled client traffic)"
  ip_protocol                  = "tcp"
  from_port                    = var.redis_port
  to_port                      = var.redis_port
  referenced_security_group_id = aws_security_group.redis.id

  tags = merge({ Name = "${var.name}-valkey-from-redis" }, var.tags)
}

resource "aws_vpc_security_group_egress_rule" "valkey_all" {
  #checkov:skip=CKV_AWS_382: ElastiCache opens the replication connection to the source and reaches AWS service endpoints; the seed keeps its outbound open.
  security_group_id = aws_security_group.valkey.id
  description       = "All outbound: replication connection to the source, AWS service traffic"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"

  tags = merge({ Name = "${var.name}-valkey-all-out" }, var.tags)
}

################################################################################
# EC2 Instance Connect Endpoint
################################################################################

# The endpoint only forwards connections it accepts from IAM-authorised callers, so the group needs no
# inbound rule; outbound is SSH to the Redis host and nothing else.
resource "aws_security_group" "eic" {
  #checkov:skip=CKV2_AWS_5: Attached in module redis_source (aws_ec2_instance_connect_endpoint.this) through this module's output; checkov's graph does not follow module outputs.
  name_prefix = "${var.name}-eic-"
  description = "EC2 Instance Connect Endpoint: SSH to the Redis source host only"
  vpc_id      = var.vpc_id

  tags = merge({ Name = "${var.name}-eic" }, var.tags)

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_egress_rule" "eic_ssh_to_redis" {
  security_group_id            = aws_security_group.eic.id
  description                  = "SSH to the Redis source host only"
  ip_protocol                  = "tcp"
  from_port                    = var.ssh_port
  to_port                      = var.ssh_port
  referenced_security_group_id = aws_security_group.redis.id

  tags = merge({ Name = "${var.name}-eic-ssh-to-redis" }, var.tags)
}
