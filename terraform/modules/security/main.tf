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

resource "aws_vpc_security_group_ingress_rule" "redis_from_valkey" {
  security_group_id            = aws_security_group.redis.id
  description                  = "Redis from the ElastiCache Valkey nodes (online migration replication)"
  ip_protocol                  = "tcp"
  from_port                    = var.redis_port
  to_port                      = var.redis_port
  referenced_security_group_id = aws_security_group.valkey.id

  tags = merge({ Name = "${var.name}-redis-from-valkey" }, var.tags)
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
  description       = "All outbound: source tarball, OS packages, CloudWatch Logs, SSM"
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
