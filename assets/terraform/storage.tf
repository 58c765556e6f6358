# The pipeline's four buckets (names from the runbook) and the analytics RDS MySQL.

locals {
  buckets = {
    emr         = "${local.name}-emr"
    emr_logs    = "${local.name}-emr-logs"
    pipeline    = "${var.customer_name}-edx${var.environment}"
    api_reports = "${local.name}-api-reports"
  }
}

resource "aws_s3_bucket" "pipeline" {
  for_each = local.buckets
  bucket   = each.value
}

resource "aws_s3_bucket_public_access_block" "pipeline" {
  for_each = aws_s3_bucket.pipeline
  bucket   = each.value.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "pipeline" {
  for_each = aws_s3_bucket.pipeline
  bucket   = each.value.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

# Optional, because a bucket has one policy and this one replaces whatever edxapp set.
data "aws_iam_policy_document" "grades_download" {
  statement {
    actions   = ["s3:GetObject"]
    resources = ["${local.grades_bucket_arn}/grades-download/*"]
    principals {
      type        = "AWS"
      identifiers = [var.edxapp_s3_grade_user_arn]
    }
  }
}

resource "aws_s3_bucket_policy" "grades" {
  count  = var.manage_grades_bucket_policy ? 1 : 0
  bucket = var.edxapp_s3_grade_bucket_id
  policy = data.aws_iam_policy_document.grades_download.json
}

resource "aws_db_instance" "analytics" {
  count = var.create_rds ? 1 : 0

  identifier     = local.name
  engine         = "mysql"
  engine_version = var.rds_engine_version
  instance_class = var.rds_instance_class

  allocated_storage = var.rds_allocated_storage
  storage_type      = "gp3"
  storage_encrypted = true

  username = var.rds_root_username
  password = var.rds_root_password

  vpc_security_group_ids = [aws_security_group.rds.id, aws_security_group.emr_rds.id]
  publicly_accessible    = false

  backup_retention_period   = 7
  deletion_protection       = var.rds_deletion_protection
  skip_final_snapshot       = false
  final_snapshot_identifier = "${local.name}-final"

  # Minor versions follow RDS's supported list rather than pinning one that gets retired.
  auto_minor_version_upgrade  = true
  allow_major_version_upgrade = false
}

# Before create_rds existed the instance had no index: keep it (a new address would replace it).
moved {
  from = aws_db_instance.analytics
  to   = aws_db_instance.analytics[0]
}
