# The Analytics API's learners index. Creating a domain takes 10-20 minutes; switch it off to use
# an existing domain (existing_elasticsearch_host).

data "aws_iam_policy_document" "learners_access" {
  count = var.create_elasticsearch ? 1 : 0

  statement {
    actions   = ["es:ESHttp*"]
    resources = ["arn:${data.aws_partition.current.partition}:es:${var.aws_region}:*:domain/${local.elasticsearch_domain}/*"]
    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.analytics.arn, aws_iam_role.emr_ec2.arn]
    }
  }
}

locals {
  # Domain names: 3-28 lowercase letters, digits and hyphens, starting with a letter.
  elasticsearch_domain = trimsuffix(substr(local.name, 0, 28), "-")
}

resource "aws_opensearch_domain" "learners" {
  count = var.create_elasticsearch ? 1 : 0

  domain_name    = local.elasticsearch_domain
  engine_version = var.elasticsearch_version

  cluster_config {
    instance_type  = var.elasticsearch_instance_type
    instance_count = 1
  }

  ebs_options {
    ebs_enabled = true
    volume_size = var.elasticsearch_volume_size
    volume_type = "gp3"
  }

  encrypt_at_rest {
    enabled = true
  }

  node_to_node_encryption {
    enabled = true
  }

  domain_endpoint_options {
    enforce_https       = true
    tls_security_policy = "Policy-Min-TLS-1-2-2019-07"
  }

  access_policies = data.aws_iam_policy_document.learners_access[0].json
}
