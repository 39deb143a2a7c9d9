# The reusable module is provider-free (issue 13 item 5): a caller can use it with for_each, depends_on and
# an aliased provider, and the example applies it. Both would fail at init if modules/migrator (or any
# module it calls) had a `provider "aws"` block of its own.

mock_provider "aws" {
  alias = "rehearsal"

  mock_data "aws_availability_zones" {
    defaults = {
      names = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    }
  }
  mock_data "aws_ssm_parameter" {
    defaults = {
      insecure_value = "ami-0123456789abcdef0"
    }
  }
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
  mock_data "aws_region" {
    defaults = {
      region = "eu-west-1"
      name   = "eu-west-1"
    }
  }
}

run "for_each_depends_on_and_an_aliased_provider" {
  command = apply

  module {
    source = "./tests/fixtures/two_environments"
  }

  assert {
    condition     = length(output.replication_group_ids) == 2 && output.replication_group_ids["blue"] == "rehearsal-blue-valkey" && output.replication_group_ids["green"] == "rehearsal-green-valkey"
    error_message = "for_each must build one environment per key."
  }
  assert {
    condition     = output.regions["blue"] == "eu-west-1" && output.regions["green"] == "eu-west-1"
    error_message = "The module must take its region from the aliased provider it was given."
  }
  assert {
    condition     = output.dashboard_urls["blue"] == "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards/dashboard/rehearsal-blue-migration" && output.dashboard_urls["green"] == null
    error_message = "Each environment's dashboard follows its own dashboard_enabled."
  }
}
