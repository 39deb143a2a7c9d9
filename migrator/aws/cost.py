"""`migrator cost`: what the environment costs per hour and per month, from a price table in code.

No network call: prices change rarely and a pricing API call would need credentials and the network. Update
PRICES_AS_OF with the table. Prices are on-demand, us-east-1, USD, Linux, from the public AWS price pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from migrator.errors import Code, MigratorError

PRICES_AS_OF = "2025-06-01"
PRICE_REGION = "us-east-1"
HOURS_PER_MONTH = 730  # AWS's own convention for monthly estimates

EC2_HOURLY = {
    "t3.micro": 0.0104,
    "t3.small": 0.0208,
    "t3.medium": 0.0416,
    "t3.large": 0.0832,
    "c5.large": 0.085,
    "c5.xlarge": 0.17,
    "c6i.large": 0.085,
    "m5.large": 0.096,
    "m6i.large": 0.096,
    "r5.large": 0.126,
}
# ElastiCache node types: (Redis OSS on-demand $/h, memory GiB). Valkey node-based pricing is 20% lower.
ELASTICACHE_NODES = {
    "cache.t3.micro": (0.017, 0.5),
    "cache.t3.small": (0.034, 1.37),
    "cache.t3.medium": (0.068, 3.09),
    "cache.t4g.micro": (0.016, 0.5),
    "cache.t4g.small": (0.032, 1.37),
    "cache.t4g.medium": (0.065, 3.09),
    "cache.m5.large": (0.156, 6.38),
    "cache.m6g.large": (0.149, 6.38),
    "cache.m7g.large": (0.158, 6.38),
    "cache.r5.large": (0.216, 13.07),
    "cache.r6g.large": (0.206, 13.07),
    "cache.r7g.large": (0.219, 13.07),
    "cache.r6g.xlarge": (0.411, 26.32),
}
VALKEY_DISCOUNT = 0.20
NAT_GATEWAY_HOURLY = 0.045
PUBLIC_IPV4_HOURLY = 0.005  # every public IPv4 address since 2024-02-01; here the NAT gateway's Elastic IP
# The host's 20 GiB gp3 root volume and its CloudWatch metrics (7 detailed-monitoring + 2 agent metrics),
# monthly prices spread over the hour like AWS's calculator does.
ROOT_VOLUME_GIB = 20
EBS_GP3_GIB_MONTH = 0.08
CLOUDWATCH_METRICS = 9
CLOUDWATCH_METRIC_MONTH = 0.30
NOT_INCLUDED = (
    "data processed by the NAT gateway ($0.045/GB)",
    "data transfer",
    "CloudWatch Logs and VPC flow logs (per GB)",
    "snapshots beyond the free one",
)
# The module's defaults (terraform/variables.tf), for an estimate before `up`.
DEFAULTS = {
    "redis_instance_type": "t3.medium",
    "valkey_node_type": "cache.t3.medium",
    "valkey_num_cache_clusters": 2,  # nodes per shard (primary + replicas)
    "valkey_num_node_groups": 1,  # shards: > 1 is cluster mode
}


@dataclass
class CostLine:
    item: str
    quantity: int
    unit_hourly: float

    @property
    def hourly(self) -> float:
        return round(self.quantity * self.unit_hourly, 4)

    @property
    def monthly(self) -> float:
        return round(self.hourly * HOURS_PER_MONTH, 2)


@dataclass
class CostEstimate:
    region: str
    lines: list[CostLine]
    prices_as_of: str = PRICES_AS_OF
    price_region: str = PRICE_REGION
    not_included: list[str] = field(default_factory=lambda: list(NOT_INCLUDED))
    warnings: list[str] = field(default_factory=list)

    @property
    def hourly(self) -> float:
        return round(sum(line.hourly for line in self.lines), 4)

    @property
    def monthly(self) -> float:
        return round(self.hourly * HOURS_PER_MONTH, 2)

    def to_dict(self) -> dict[str, object]:
        return {
            "region": self.region,
            "currency": "USD",
            "hourly": self.hourly,
            "monthly": self.monthly,
            "hours_per_month": HOURS_PER_MONTH,
            "prices_as_of": self.prices_as_of,
            "price_region": self.price_region,
            "lines": [
                {
                    "item": ln.item,
                    "quantity": ln.quantity,
                    "unit_hourly": ln.unit_hourly,
                    "hourly": ln.hourly,
                    "monthly": ln.monthly,
                }
                for ln in self.lines
            ],
            "not_included": self.not_included,
            "warnings": self.warnings,
        }


def _unknown(kind: str, name: str, known: Mapping[str, object]) -> MigratorError:
    return MigratorError(
        f"no price for {kind} {name!r} in the table ({PRICES_AS_OF})",
        f"use one of: {', '.join(sorted(known))}",
        Code.UNKNOWN_PRICE,
    )


def valkey_hourly(node_type: str) -> float:
    if node_type not in ELASTICACHE_NODES:
        raise _unknown("ElastiCache node type", node_type, ELASTICACHE_NODES)
    return round(ELASTICACHE_NODES[node_type][0] * (1 - VALKEY_DISCOUNT), 4)


def node_memory_bytes(node_type: str) -> int:
    """The node's memory (before reserved memory), 0 when the type is not in the table."""
    entry = ELASTICACHE_NODES.get(node_type)
    return int(entry[1] * 1024**3) if entry else 0


def estimate(instance_type: str, node_type: str, nodes: int, region: str = PRICE_REGION) -> CostEstimate:
    if instance_type not in EC2_HOURLY:
        raise _unknown("EC2 instance type", instance_type, EC2_HOURLY)
    if nodes < 1:
        raise MigratorError(
            f"node count {nodes} must be at least 1", "pass --nodes 2 (primary + replica)", Code.INVALID_VALUE
        )
    lines = [
        CostLine(f"EC2 {instance_type} (Redis source host)", 1, EC2_HOURLY[instance_type]),
        CostLine(f"ElastiCache for Valkey {node_type}", nodes, valkey_hourly(node_type)),
        CostLine("NAT gateway (one, in public subnet A)", 1, NAT_GATEWAY_HOURLY),
        CostLine("public IPv4 address (the NAT gateway's Elastic IP)", 1, PUBLIC_IPV4_HOURLY),
        CostLine(
            f"EBS gp3 root volume ({ROOT_VOLUME_GIB} GiB)",
            1,
            round(ROOT_VOLUME_GIB * EBS_GP3_GIB_MONTH / HOURS_PER_MONTH, 4),
        ),
        CostLine(
            "CloudWatch metrics (host detailed monitoring + agent)",
            CLOUDWATCH_METRICS,
            round(CLOUDWATCH_METRIC_MONTH / HOURS_PER_MONTH, 5),
        ),
        CostLine("EC2 Instance Connect Endpoint (no charge)", 1, 0.0),
    ]
    result = CostEstimate(region=region, lines=lines)
    if region != PRICE_REGION:
        result.warnings.append(f"prices are {PRICE_REGION}'s; {region} usually costs a little more")
    return result
