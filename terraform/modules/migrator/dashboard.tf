################################################################################
# Migration dashboard (the architecture's monitoring plan, in one place)
################################################################################

locals {
  dashboard_name = "${var.name}-migration"

  # Every node of the target: ElastiCache publishes its metrics per cache cluster (= node) id.
  valkey_nodes = sort(tolist(module.valkey_target.member_clusters))
  host_id      = module.redis_source.instance_id

  per_node = {
    for metric in ["CPUUtilization", "EngineCPUUtilization", "DatabaseMemoryUsagePercentage", "NetworkBytesIn", "NetworkBytesOut", "PrimaryLinkHealthStatus", "ReplicationBytes"] :
    metric => [for node in local.valkey_nodes : ["AWS/ElastiCache", metric, "CacheClusterId", node, { label = "${node} ${metric}" }]]
  }

  dashboard_widgets = [
    { title = "Target: CPU and engine (Valkey thread) CPU, %", metrics = concat(local.per_node["CPUUtilization"], local.per_node["EngineCPUUtilization"]) },
    { title = "Target: memory used by the dataset, % of maxmemory", metrics = local.per_node["DatabaseMemoryUsagePercentage"] },
    { title = "Target: network bytes in / out", metrics = concat(local.per_node["NetworkBytesIn"], local.per_node["NetworkBytesOut"]) },
    { title = "Migration: PrimaryLinkHealthStatus (1 = in sync with the source)", metrics = local.per_node["PrimaryLinkHealthStatus"], stat = "Minimum" },
    { title = "Replication bytes (primary to replicas)", metrics = local.per_node["ReplicationBytes"] },
    { title = "Source host: CPU, %", metrics = [["AWS/EC2", "CPUUtilization", "InstanceId", local.host_id]] },
    { title = "Source host: network bytes in / out", metrics = [["AWS/EC2", "NetworkIn", "InstanceId", local.host_id], ["AWS/EC2", "NetworkOut", "InstanceId", local.host_id]] },
    { title = "Source host: memory used, % (CloudWatch agent)", metrics = [[module.redis_source.agent_metric_namespace, "mem_used_percent", "InstanceId", local.host_id]] },
  ]

  dashboard_body = jsonencode({
    widgets = [
      for i, w in local.dashboard_widgets : {
        type   = "metric"
        x      = (i % 2) * 12
        y      = floor(i / 2) * 6
        width  = 12
        height = 6
        properties = {
          title   = w.title
          region  = local.region
          view    = "timeSeries"
          stacked = false
          period  = 60
          stat    = try(w.stat, "Average")
          metrics = w.metrics
        }
      }
    ]
  })

  console_hosts = {
    aws        = "https://${local.region}.console.aws.amazon.com"
    aws-cn     = "https://${local.region}.console.amazonaws.cn"
    aws-us-gov = "https://console.amazonaws-us-gov.com"
  }
  dashboard_url = "${lookup(local.console_hosts, data.aws_partition.current.partition, local.console_hosts["aws"])}/cloudwatch/home?region=${local.region}#dashboards/dashboard/${local.dashboard_name}"
}

resource "aws_cloudwatch_dashboard" "this" {
  count = var.dashboard_enabled ? 1 : 0

  dashboard_name = local.dashboard_name
  dashboard_body = local.dashboard_body
}
