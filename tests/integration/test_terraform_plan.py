"""The Terraform adapter against real Terraform (tf-offline: Terraform 1.15 with an offline AWS provider)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from migrator import terraform_adapter as infra


def test_real_terraform_plans_a_tainted_instance_as_a_replacement(
    offline_terraform: None, tmp_path: Path
) -> None:
    """Terraform's own JSON plan (tf-offline: real Terraform 1.15, no AWS), read through the adapter."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "main.tf").write_text(
        'provider "aws" {\n  region = "us-east-1"\n}\n'
        'resource "aws_instance" "this" {\n  ami = "ami-0123"\n  instance_type = "t3.medium"\n}\n'
    )
    tf = infra.Terraform(infra.find_terraform(), work)
    tf.init()
    first = tf.plan(work / "tfplan")
    assert (first.add, first.destroy, first.replaced) == (1, 0, [])
    tf.apply(work / "tfplan")
    subprocess.run(
        ["terraform", f"-chdir={work}", "taint", "aws_instance.this"], check=True, capture_output=True
    )
    again = tf.plan(work / "tfplan")
    assert (again.add, again.destroy) == (1, 1)
    assert again.replaced == [infra.Replacement("aws_instance.this", "aws_instance", "it is tainted")]
