# The analytics stack of one client, as analytics-wizard deploys it.
#
# analytics-wizard copies this directory into the client's secure repo (terraform/) and writes
# terraform.tfvars.json beside it; run terraform there by hand just the same. With a local
# AWS-compatible endpoint the wizard also writes endpoints_override.tf.json.

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.30.0, < 6.0.0"
    }
  }
}

provider "aws" {
  region  = var.aws_region
  profile = var.aws_profile

  default_tags {
    tags = {
      "analytics:customer"    = var.customer_name
      "analytics:environment" = var.environment
      "analytics:managed-by"  = "analytics-wizard"
    }
  }
}
