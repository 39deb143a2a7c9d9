# modules/redis_source: hardened EC2 host, least-privilege role, EIC endpoint, and the rendered user data.

mock_provider "aws" {
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
}

variables {
  name                  = "test"
  subnet_id             = "subnet-0aaaaaaaaaaaaaaaa"
  security_group_id     = "sg-0redis000000000000"
  eic_security_group_id = "sg-0eic00000000000000"
}

run "host_is_private_and_hardened" {
  command = plan

  module {
    source = "./modules/redis_source"
  }

  assert {
    condition     = aws_instance.this.instance_type == "t3.medium"
    error_message = "Default instance type must be t3.medium."
  }
  assert {
    condition     = aws_instance.this.ami == "ami-0123456789abcdef0"
    error_message = "The AMI must come from the Amazon Linux 2023 SSM parameter."
  }
  assert {
    condition     = data.aws_ssm_parameter.al2023[0].name == "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    error_message = "The AMI parameter must be the latest Amazon Linux 2023 (x86_64)."
  }
  assert {
    condition     = aws_instance.this.subnet_id == "subnet-0aaaaaaaaaaaaaaaa" && aws_instance.this.vpc_security_group_ids == toset(["sg-0redis000000000000"])
    error_message = "The host must sit in the given private subnet with only the Redis SG."
  }
  assert {
    condition     = aws_instance.this.associate_public_ip_address == false
    error_message = "The host must have no public IP."
  }
  assert {
    condition     = aws_instance.this.metadata_options[0].http_tokens == "required" && aws_instance.this.metadata_options[0].http_endpoint == "enabled"
    error_message = "IMDSv2 must be required."
  }
  assert {
    condition     = aws_instance.this.root_block_device[0].encrypted == true && aws_instance.this.root_block_device[0].volume_type == "gp3"
    error_message = "The root volume must be encrypted gp3."
  }
  assert {
    condition     = aws_instance.this.monitoring == true
    error_message = "Detailed CloudWatch monitoring must be on by default."
  }
  assert {
    condition     = aws_ec2_instance_connect_endpoint.this.subnet_id == "subnet-0aaaaaaaaaaaaaaaa" && aws_ec2_instance_connect_endpoint.this.preserve_client_ip == false
    error_message = "The EIC endpoint must sit in private subnet A with preserve_client_ip = false."
  }
  assert {
    condition     = aws_ec2_instance_connect_endpoint.this.security_group_ids == toset(["sg-0eic00000000000000"])
    error_message = "The EIC endpoint must use only the EIC SG."
  }
  assert {
    condition     = jsondecode(aws_iam_role.this.assume_role_policy).Statement[0].Principal.Service == "ec2.amazonaws.com"
    error_message = "Only EC2 may assume the host role."
  }
  assert {
    condition = toset([aws_iam_role_policy_attachment.ssm_core.policy_arn, aws_iam_role_policy_attachment.cloudwatch_agent.policy_arn]) == toset([
      "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
      "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
    ])
    error_message = "The host role must carry SSM core and CloudWatch agent policies and nothing else."
  }
  assert {
    condition     = aws_cloudwatch_log_group.redis.name == "/test/redis-source" && aws_cloudwatch_log_group.redis.retention_in_days == 14
    error_message = "The Redis log group must be /<name>/redis-source with 14-day retention."
  }
}

run "user_data_builds_and_configures_redis_per_the_seed" {
  command = plan

  module {
    source = "./modules/redis_source"
  }

  # Each line of the seed's redis.conf, exactly, on a line of its own.
  assert {
    condition = alltrue([
      for line in [
        "bind 0.0.0.0",
        "protected-mode no",
        "port 6379",
        "daemonize yes",
        "pidfile /var/run/redis_6379.pid",
        "logfile /var/log/redis.log",
      ] : strcontains(aws_instance.this.user_data, "\n${line}\n")
    ])
    error_message = "redis.conf must contain every line the seed requires."
  }
  assert {
    condition = alltrue([
      for line in ["appendonly yes", "appendfsync everysec", "dbfilename dump.rdb", "save 3600 1 300 100 60 10000"] :
      strcontains(aws_instance.this.user_data, "\n${line}\n")
    ])
    error_message = "redis.conf must turn on RDB snapshots and AOF persistence."
  }
  assert {
    condition     = strcontains(aws_instance.this.user_data, "REDIS_VERSION=\"7.4.6\"") && strcontains(aws_instance.this.user_data, "Redis 7.4.6")
    error_message = "user_data must build Redis 7.4.6 by default."
  }
  assert {
    condition = (
      strcontains(aws_instance.this.user_data, "REDIS_SHA256=\"73b94484e00fb4c2440b490dc4021142fb0b6efc8b64c6329c10d24f0b531c99\"") &&
      strcontains(aws_instance.this.user_data, "sha256sum -c -") &&
      strcontains(aws_instance.this.user_data, "https://download.redis.io/releases/redis-$${REDIS_VERSION}.tar.gz")
    )
    error_message = "user_data must download the official tarball and verify its sha256 before building."
  }
  assert {
    condition = alltrue([
      for s in ["Type=forking", "PIDFile=/run/redis_6379.pid", "WantedBy=multi-user.target", "systemctl enable redis.service"] :
      strcontains(aws_instance.this.user_data, s)
    ])
    error_message = "user_data must install a forking systemd unit that matches the pidfile and is enabled at boot."
  }
  assert {
    condition = (
      strcontains(aws_instance.this.user_data, "amazon-cloudwatch-agent-ctl -a fetch-config") &&
      strcontains(aws_instance.this.user_data, "\"file_path\": \"/var/log/redis.log\", \"log_group_name\": \"/test/redis-source\"") &&
      strcontains(aws_instance.this.user_data, "/var/log/user-data.log")
    )
    error_message = "user_data must ship /var/log/redis.log to the log group and log itself to /var/log/user-data.log."
  }
  assert {
    condition     = startswith(aws_instance.this.user_data, "#!/bin/bash\n") && strcontains(aws_instance.this.user_data, "set -euo pipefail")
    error_message = "user_data must be a bash script that stops at the first error."
  }
  assert {
    condition     = aws_instance.this.user_data_replace_on_change == true
    error_message = "A changed build script must rebuild the host (user data runs only at first boot)."
  }
}

run "another_version_with_its_own_hash_renders" {
  command = plan

  module {
    source = "./modules/redis_source"
  }

  variables {
    redis_version       = "7.2.11"
    redis_source_sha256 = "0000000000000000000000000000000000000000000000000000000000000001"
    instance_type       = "c5.large"
  }

  assert {
    condition = (
      strcontains(aws_instance.this.user_data, "REDIS_VERSION=\"7.2.11\"") &&
      strcontains(aws_instance.this.user_data, "REDIS_SHA256=\"0000000000000000000000000000000000000000000000000000000000000001\"")
    )
    error_message = "user_data must carry the chosen version and its hash."
  }
  assert {
    condition     = aws_instance.this.instance_type == "c5.large"
    error_message = "instance_type must be the scaling knob."
  }
}

run "pinned_ami_skips_the_lookup" {
  command = plan

  module {
    source = "./modules/redis_source"
  }

  variables {
    ami_id = "ami-0fedcba9876543210"
  }

  assert {
    condition     = aws_instance.this.ami == "ami-0fedcba9876543210" && length(data.aws_ssm_parameter.al2023) == 0
    error_message = "A pinned ami_id must be used as is, without the SSM lookup."
  }
}

run "another_version_with_the_746_hash_is_refused" {
  command = plan

  module {
    source = "./modules/redis_source"
  }

  variables {
    redis_version = "7.2.11"
  }

  expect_failures = [aws_instance.this]
}

run "malformed_version_is_rejected" {
  command = plan

  module {
    source = "./modules/redis_source"
  }

  variables {
    redis_version = "7.4"
  }

  expect_failures = [var.redis_version]
}
