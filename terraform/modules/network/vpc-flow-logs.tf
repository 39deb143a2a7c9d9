################################################################################
# Flow Log
################################################################################

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  # `region` in provider 6.x, `name` (deprecated in 6.x) in 5.x: an index lookup resolves whichever exists
  # without a static reference to the other, so neither version warns nor fails.
  region_data = data.aws_region.current
  region      = try(local.region_data["region"], local.region_data["name"])
}

resource "aws_flow_log" "this" {
  vpc_id               = aws_vpc.this.id
  traffic_type         = var.flow_log_traffic_type
  log_destination_type = "cloud-watch-logs"
  log_destination      = aws_cloudwatch_log_group.flow_log.arn
  iam_role_arn         = aws_iam_role.flow_log.arn

  tags = merge({ Name = var.name }, var.tags)
}

resource "aws_cloudwatch_log_group" "flow_log" {
  #checkov:skip=CKV_AWS_158: CloudWatch Logs encrypts every log group with an AWS-owned key already; a customer-managed KMS key would add cost and a key policy to a short-lived test bed for no gain in isolation.
  #checkov:skip=CKV_AWS_338: Retention is the `log_retention_days` variable (default 14 days): a rehearsal environment keeps logs for the rehearsal, not for a year of audit.
  name              = "/${var.name}/vpc-flow-logs"
  retention_in_days = var.flow_log_retention_days

  tags = merge({ Name = "${var.name}-vpc-flow-logs" }, var.tags)
}

resource "aws_iam_role" "flow_log" {
  name_prefix = "${var.name}-flow-log-"
  description = "Lets VPC Flow Logs write to the ${var.name} flow log group"

  # Confused-deputy guard (AWS VPC user guide, "IAM role for publishing flow logs"): only flow logs of this
  # account and region may assume the role. The flow log's id does not exist before the role, hence `*`.
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "VpcFlowLogsAssumeRole"
      Effect    = "Allow"
      Principal = { Service = "vpc-flow-logs.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringEquals = { "aws:SourceAccount" = local.account_id }
        ArnLike      = { "aws:SourceArn" = "arn:${local.partition}:ec2:${local.region}:${local.account_id}:vpc-flow-log/*" }
      }
    }]
  })

  tags = merge({ Name = "${var.name}-flow-log" }, var.tags)
}

# Scoped to this one log group and its streams: the service needs nothing else.
resource "aws_iam_role_policy" "flow_log" {
  name_prefix = "${var.name}-flow-log-"
  role        = aws_iam_role.flow_log.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid    = "WriteFlowLogGroup"
      Effect = "Allow"
      Action = [
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:DescribeLogGroups",
        "logs:DescribeLogStreams",
      ]
      Resource = [
        aws_cloudwatch_log_group.flow_log.arn,
        "${aws_cloudwatch_log_group.flow_log.arn}:*",
      ]
    }]
  })
}
