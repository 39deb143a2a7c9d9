terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.73 is the first release with engine `valkey`; 7.0 may change types again, as 6.0 did for
      # `at_rest_encryption_enabled` (bool -> string). scripts/terraform-check.sh tests both 5.73 and 6.x.
      version = ">= 5.73, < 7.0"
    }
  }
}
