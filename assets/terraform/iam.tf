# Roles: the analytics instance (Jenkins starts EMR clusters from it) and EMR's two roles, named
# per client (the account-wide EMR_DefaultRole / EMR_EC2_DefaultRole may exist already).

data "aws_partition" "current" {}

locals {
  grades_bucket_arn = var.edxapp_s3_grade_bucket_arn != "" ? var.edxapp_s3_grade_bucket_arn : "arn:${data.aws_partition.current.partition}:s3:::${var.edxapp_s3_grade_bucket_id}"
  own_bucket_arns   = [for b in aws_s3_bucket.pipeline : b.arn]
  read_bucket_arns = [
    "arn:${data.aws_partition.current.partition}:s3:::${var.tracking_logs_bucket}",
    local.grades_bucket_arn,
  ]
  elasticsearch_arns = var.create_elasticsearch ? ["${aws_opensearch_domain.learners[0].arn}/*"] : ["*"]
}

data "aws_iam_policy_document" "ec2_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "emr_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["elasticmapreduce.amazonaws.com"]
    }
  }
}

# What the pipeline needs: its own buckets read-write, the tracking logs and grades read-only,
# and the learners index.
data "aws_iam_policy_document" "pipeline_data" {
  statement {
    sid       = "OwnBuckets"
    actions   = ["s3:*"]
    resources = concat(local.own_bucket_arns, [for arn in local.own_bucket_arns : "${arn}/*"])
  }

  statement {
    sid       = "ReadSourceBuckets"
    actions   = ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"]
    resources = concat(local.read_bucket_arns, [for arn in local.read_bucket_arns : "${arn}/*"])
  }

  statement {
    sid       = "LearnersIndex"
    actions   = ["es:ESHttp*"]
    resources = local.elasticsearch_arns
  }
}

data "aws_iam_policy_document" "start_emr" {
  statement {
    sid       = "RunEmrClusters"
    actions   = ["elasticmapreduce:*", "ec2:Describe*", "rds:DescribeDBInstances"]
    resources = ["*"]
  }

  statement {
    sid       = "PassEmrRoles"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.emr_service.arn, aws_iam_role.emr_ec2.arn]
  }
}

resource "aws_iam_role" "analytics" {
  name               = "${local.name}-analytics"
  description        = "Analytics instances of ${local.name}: start EMR clusters, use the pipeline buckets"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
}

resource "aws_iam_role_policy" "analytics_emr" {
  name   = "start-emr-clusters"
  role   = aws_iam_role.analytics.id
  policy = data.aws_iam_policy_document.start_emr.json
}

resource "aws_iam_role_policy" "analytics_data" {
  name   = "pipeline-data"
  role   = aws_iam_role.analytics.id
  policy = data.aws_iam_policy_document.pipeline_data.json
}

resource "aws_iam_instance_profile" "analytics" {
  name = aws_iam_role.analytics.name
  role = aws_iam_role.analytics.name
}

# EMR_DefaultRole's equivalent.
resource "aws_iam_role" "emr_service" {
  name               = "${local.name}-emr-service"
  description        = "EMR service role of ${local.name}"
  assume_role_policy = data.aws_iam_policy_document.emr_assume.json
}

resource "aws_iam_role_policy_attachment" "emr_service" {
  role       = aws_iam_role.emr_service.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonElasticMapReduceRole"
}

# EMR_EC2_DefaultRole's equivalent (the role of the cluster's nodes).
resource "aws_iam_role" "emr_ec2" {
  name               = "${local.name}-emr-ec2"
  description        = "EMR cluster nodes of ${local.name}"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
}

resource "aws_iam_role_policy_attachment" "emr_ec2" {
  role       = aws_iam_role.emr_ec2.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonElasticMapReduceforEC2Role"
}

resource "aws_iam_role_policy" "emr_ec2_data" {
  name   = "pipeline-data"
  role   = aws_iam_role.emr_ec2.id
  policy = data.aws_iam_policy_document.pipeline_data.json
}

resource "aws_iam_instance_profile" "emr_ec2" {
  name = aws_iam_role.emr_ec2.name
  role = aws_iam_role.emr_ec2.name
}
