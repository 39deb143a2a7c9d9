# modules/redis_source: hardened EC2 host, least-privilege role, EIC endpoint, and the rendered user data.

mock_provider "aws" {
  source = "./tests/mocks"
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
    condition     = length(aws_iam_role_policy_attachment.ssm_core) == 0
    error_message = "SSM (AmazonSSMManagedInstanceCore) must be off by default: it is not part of the architecture."
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
      strcontains(aws_instance.this.user_data, local.cloudwatch_agent_config) &&
      contains([for f in jsondecode(local.cloudwatch_agent_config).logs.logs_collected.files.collect_list : "${f.file_path}|${f.log_group_name}" if f.file_path == "/var/log/redis.log"], "/var/log/redis.log|/test/redis-source") &&
      strcontains(aws_instance.this.user_data, "exec > >(tee -a /var/log/user-data.log) 2>&1")
    )
    error_message = "user_data must ship /var/log/redis.log to the log group and log itself to /var/log/user-data.log."
  }
  assert {
    condition     = startswith(aws_instance.this.user_data, "#!/bin/bash\n") && strcontains(aws_instance.this.user_data, "set -Eeuo pipefail")
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

################################################################################
# Least privilege (issue 13 item 3)
################################################################################

run "host_role_is_scoped_to_its_log_group_and_metric_namespace" {
  # apply: the log group's ARN is known, so the policy's resources can be compared with it.
  command = apply

  module {
    source = "./modules/redis_source"
  }

  assert {
    condition     = aws_iam_role_policy.cloudwatch_agent.role == aws_iam_role.this.id
    error_message = "The inline policy must belong to the host role."
  }
  assert {
    condition = alltrue([
      for st in jsondecode(aws_iam_role_policy.cloudwatch_agent.policy).Statement :
      st.Effect == "Allow" && (
        (toset(st.Action) == toset(["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]) &&
        toset(st.Resource) == toset([aws_cloudwatch_log_group.redis.arn, "${aws_cloudwatch_log_group.redis.arn}:*"])) ||
        (st.Action == "cloudwatch:PutMetricData" && st.Condition.StringEquals["cloudwatch:namespace"] == "CWAgent")
      )
    ])
    error_message = "The host may only write streams of its own log group and metrics of the agent's namespace."
  }
  assert {
    condition     = length(jsondecode(aws_iam_role_policy.cloudwatch_agent.policy).Statement) == 2
    error_message = "The host role's inline policy has exactly two statements (logs, metrics)."
  }
  assert {
    condition     = !strcontains(aws_iam_role_policy.cloudwatch_agent.policy, "logs:*") && !strcontains(aws_iam_role_policy.cloudwatch_agent.policy, "\"logs:CreateLogGroup\"")
    error_message = "No logs wildcard and no CreateLogGroup: the group exists already."
  }
  assert {
    condition     = jsondecode(local.cloudwatch_agent_config).metrics.namespace == "CWAgent"
    error_message = "The agent must publish into the namespace the policy allows."
  }
  assert {
    condition     = output.user_data_log_stream == "${aws_instance.this.id}/user-data.log" && output.log_group_arn == aws_cloudwatch_log_group.redis.arn
    error_message = "The build verdict's stream must be <instance id>/user-data.log in the host's group."
  }
}

run "ssm_session_manager_is_opt_in" {
  command = plan

  module {
    source = "./modules/redis_source"
  }

  variables {
    ssm_session_manager_enabled = true
  }

  assert {
    condition     = aws_iam_role_policy_attachment.ssm_core[0].policy_arn == "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    error_message = "ssm_session_manager_enabled = true must attach AmazonSSMManagedInstanceCore."
  }
}

################################################################################
# Build verdict (issue 13 item 1: the lines the CLI waits for)
################################################################################

run "every_failure_ends_in_a_fatal_line" {
  command = plan

  module {
    source = "./modules/redis_source"
  }

  assert {
    condition = (
      strcontains(aws_instance.this.user_data, "set -Eeuo pipefail") &&
      strcontains(aws_instance.this.user_data, "  echo \"user-data: FATAL: \\\"$BASH_COMMAND\\\" failed with exit status $status") &&
      strcontains(aws_instance.this.user_data, "\ntrap on_error ERR\n") &&
      endswith(aws_instance.this.user_data, "echo \"user-data: done $(date -u +%FT%TZ)\"\n")
    )
    error_message = "A failing command must print `user-data: FATAL: ...` (ERR trap) and success must end in `user-data: done`."
  }
  assert {
    condition = alltrue([
      for f in jsondecode(local.cloudwatch_agent_config).logs.logs_collected.files.collect_list :
      f.log_group_name == "/test/redis-source" && f.log_stream_name == "{instance_id}/${basename(f.file_path)}"
    ]) && contains([for f in jsondecode(local.cloudwatch_agent_config).logs.logs_collected.files.collect_list : f.file_path], "/var/log/user-data.log")
    error_message = "Every log file, user-data.log included, must reach the host's group as <instance id>/<file name>."
  }
}

################################################################################
# Valkey bridge (issue 10)
################################################################################

run "bridge_builds_valkey_9_checked_and_runs_it_as_a_relaxed_replica" {
  command = plan

  module {
    source = "./modules/redis_source"
  }

  variables {
    bridge_enabled = true
  }

  assert {
    condition = (
      strcontains(aws_instance.this.user_data, "BRIDGE_VERSION=\"9.1.1\"") &&
      strcontains(aws_instance.this.user_data, "BRIDGE_SHA256=\"7d7232acd1b8a49b4e05d07a00b3ca8c801ae06ab633ca6a3423bc5f385ab7ee\"") &&
      strcontains(aws_instance.this.user_data, "BRIDGE_TARBALL_URL=\"https://github.com/valkey-io/valkey/archive/refs/tags/$${BRIDGE_VERSION}.tar.gz\"") &&
      strcontains(aws_instance.this.user_data, "fetch_verified \"$BRIDGE_TARBALL_URL\" \"$BRIDGE_SHA256\"")
    )
    error_message = "The bridge must be Valkey 9.1.1 from its release tarball, downloaded through the SHA-256 check."
  }
  assert {
    condition     = strcontains(aws_instance.this.user_data, "if ! echo \"$sha256  $tarball\" | sha256sum -c -; then") && strcontains(aws_instance.this.user_data, "does not match the pinned $sha256\"\n    rm -f \"$tarball\"\n    exit 1")
    error_message = "A tarball whose hash does not match must never be built (fail closed)."
  }
  assert {
    condition = alltrue([
      for line in ["port 6380", "replicaof 127.0.0.1 6379", "rdb-version-check relaxed", "replica-read-only yes", "save \"\"", "appendonly no", "protected-mode no", "bind 0.0.0.0"] :
      strcontains(aws_instance.this.user_data, "\n${line}\n")
    ])
    error_message = "bridge.conf must make a read-only, persistence-free replica of 127.0.0.1:6379 on 6380 that loads RDB 12 (relaxed)."
  }
  assert {
    condition = alltrue([
      for s in [
        "/etc/systemd/system/valkey-bridge.service", "ExecStart=$BRIDGE_PREFIX/bin/valkey-server /etc/valkey/bridge.conf",
        "After=network-online.target redis.service", "WantedBy=multi-user.target", "systemctl enable valkey-bridge.service",
        "USE_REDIS_SYMLINKS=no", "master_link_status",
      ] : strcontains(aws_instance.this.user_data, s)
    ])
    error_message = "The bridge needs its own enabled systemd unit after Redis, its own prefix, and a sync check before `done`."
  }
  assert {
    condition     = output.bridge_port == 6380 && output.bridge_enabled && output.bridge_valkey_version == "9.1.1"
    error_message = "The bridge outputs must say it runs Valkey 9.1.1 on 6380."
  }
  assert {
    condition     = contains([for f in jsondecode(local.cloudwatch_agent_config).logs.logs_collected.files.collect_list : f.file_path], "/var/log/valkey-bridge.log")
    error_message = "The bridge's log must be shipped too."
  }
}

run "no_bridge_by_default_in_the_submodule" {
  command = plan

  module {
    source = "./modules/redis_source"
  }

  assert {
    condition     = !strcontains(aws_instance.this.user_data, "valkey") && output.bridge_port == null
    error_message = "Without bridge_enabled the user data must not mention Valkey and bridge_port must be null."
  }
}

run "bridge_with_another_version_and_its_hash_renders" {
  command = plan

  module {
    source = "./modules/redis_source"
  }

  variables {
    bridge_enabled        = true
    bridge_valkey_version = "9.0.5"
    bridge_valkey_sha256  = "42aa4fdf8b6212071b101f32c9bc23b99e40e8494eebe0c9e4bbc50d04153741"
  }

  assert {
    condition     = strcontains(aws_instance.this.user_data, "BRIDGE_VERSION=\"9.0.5\"") && strcontains(aws_instance.this.user_data, "BRIDGE_SHA256=\"42aa4fdf8b6212071b101f32c9bc23b99e40e8494eebe0c9e4bbc50d04153741\"")
    error_message = "The bridge must carry the chosen Valkey version and its hash."
  }
}

run "bridge_of_another_version_with_the_911_hash_is_refused" {
  command = plan

  module {
    source = "./modules/redis_source"
  }

  variables {
    bridge_enabled        = true
    bridge_valkey_version = "9.0.5"
  }

  expect_failures = [aws_instance.this]
}

run "bridge_older_than_valkey_9_is_rejected" {
  command = plan

  module {
    source = "./modules/redis_source"
  }

  variables {
    bridge_valkey_version = "8.1.4"
  }

  expect_failures = [var.bridge_valkey_version]
}

################################################################################
# Redis Cluster source (issue 11)
################################################################################

run "cluster_source_runs_one_unit_per_master_with_slots_spread_evenly" {
  command = plan

  module {
    source = "./modules/redis_source"
  }

  variables {
    cluster_masters = 3
  }

  assert {
    condition     = tolist(output.node_ports) == tolist([6379, 6380, 6381]) && output.cluster_enabled && output.redis_port == 6379
    error_message = "Three masters must listen on 6379, 6380 and 6381."
  }
  assert {
    # redis-cli --cluster create's layout for three masters.
    condition = output.cluster_slots == tolist([
      { port = 6379, first_slot = 0, last_slot = 5460 },
      { port = 6380, first_slot = 5461, last_slot = 10922 },
      { port = 6381, first_slot = 10923, last_slot = 16383 },
    ])
    error_message = "Slots must be spread evenly over the masters as redis-cli --cluster create spreads them."
  }
  assert {
    condition = alltrue([
      for s in [
        "CLUSTER_LAYOUT=\"6379:0:5460 6380:5461:10922 6381:10923:16383 \"", "cluster addslots $(seq \"$first_slot\" \"$last_slot\")",
        "NODE_PORTS=\"6379 6380 6381 \"", "if [ \"$port\" != 6379 ]; then", "-p 6379 cluster meet \"$PRIVATE_IP\" \"$port\"",
        "/etc/systemd/system/redis@.service", "ExecStart=/usr/local/bin/redis-server /etc/redis/redis-%i.conf",
        "PIDFile=/run/redis_%i.pid", "systemctl enable \"redis@$port.service\"",
        "cluster_state)\" != ok", "cluster_known_nodes)\" != 3",
      ] : strcontains(aws_instance.this.user_data, s)
    ])
    error_message = "The cluster variant needs a unit per node, every slot assigned once, the nodes met, and cluster_state:ok checked."
  }
  assert {
    condition = alltrue([
      for line in ["cluster-enabled yes", "port $1", "pidfile /var/run/redis_$1.pid", "logfile /var/log/redis-$1.log", "cluster-announce-ip $PRIVATE_IP", "protected-mode no", "bind 0.0.0.0", "appendonly yes"] :
      strcontains(aws_instance.this.user_data, "\n${line}\n")
    ])
    error_message = "Each cluster node keeps the seed's settings on its own port and announces the host's private address."
  }
  assert {
    condition     = !strcontains(aws_instance.this.user_data, "/etc/systemd/system/redis.service")
    error_message = "The cluster variant replaces the standalone unit."
  }
  assert {
    condition     = toset([for f in jsondecode(local.cloudwatch_agent_config).logs.logs_collected.files.collect_list : f.file_path]) == toset(["/var/log/redis-6379.log", "/var/log/redis-6380.log", "/var/log/redis-6381.log", "/var/log/user-data.log"])
    error_message = "Every node's log must be shipped."
  }
}

run "two_masters_split_the_slots_in_half" {
  # redis-cli --cluster create refuses fewer than 3 masters; the user data assigns slots itself.
  command = plan

  module {
    source = "./modules/redis_source"
  }

  variables {
    cluster_masters = 2
  }

  assert {
    condition     = output.cluster_slots == tolist([{ port = 6379, first_slot = 0, last_slot = 8191 }, { port = 6380, first_slot = 8192, last_slot = 16383 }])
    error_message = "Two masters must own 0-8191 and 8192-16383."
  }
}

run "sixteen_masters_cover_every_slot_and_fit_in_user_data" {
  command = plan

  module {
    source = "./modules/redis_source"
  }

  variables {
    cluster_masters = 16
  }

  assert {
    condition = (
      output.cluster_slots[0].first_slot == 0 && output.cluster_slots[15].last_slot == 16383 &&
      alltrue([for i in range(1, 16) : output.cluster_slots[i].first_slot == output.cluster_slots[i - 1].last_slot + 1]) &&
      alltrue([for n in output.cluster_slots : n.last_slot - n.first_slot + 1 >= 1023 && n.last_slot - n.first_slot + 1 <= 1025])
    )
    error_message = "Sixteen masters must cover 0-16383 contiguously with about 1024 slots each."
  }
  assert {
    condition     = length(aws_instance.this.user_data) <= 16384
    error_message = "The largest cluster's user data must fit EC2's 16 KB."
  }
}

run "bridge_with_a_cluster_source_is_refused" {
  command = plan

  module {
    source = "./modules/redis_source"
  }

  variables {
    cluster_masters = 3
    bridge_enabled  = true
  }

  expect_failures = [aws_instance.this]
}

run "seventeen_masters_are_rejected" {
  command = plan

  module {
    source = "./modules/redis_source"
  }

  variables {
    cluster_masters = 17
  }

  expect_failures = [var.cluster_masters]
}
