# The analytics instance(s): Insights, the Analytics API and Jenkins.

# Raising instance_iteration replaces the instances (a new generation, e.g. after an AMI change).
resource "terraform_data" "instance_iteration" {
  input = var.instance_iteration
}

resource "aws_instance" "analytics" {
  count = var.number_of_instances

  ami                    = var.analytics_image_id
  instance_type          = var.analytics_instance_type
  key_name               = var.analytics_key_pair_name
  subnet_id              = local.subnet_id
  vpc_security_group_ids = [aws_security_group.analytics.id]
  iam_instance_profile   = aws_iam_instance_profile.analytics.name

  root_block_device {
    volume_size = var.analytics_root_volume_size
    volume_type = "gp3"
    encrypted   = true
  }

  metadata_options {
    http_tokens = "required"
  }

  tags = {
    Name = "${local.name}-${var.instance_iteration}-${count.index + 1}"
  }

  lifecycle {
    replace_triggered_by = [terraform_data.instance_iteration]
  }
}

# Insights answers on the first instance.
data "aws_route53_zone" "hosted" {
  name         = var.hosted_zone_domain
  private_zone = false
}

resource "aws_route53_record" "insights" {
  zone_id = data.aws_route53_zone.hosted.zone_id
  name    = "${var.insights_subdomain}.${var.hosted_zone_domain}"
  type    = "A"
  ttl     = 300
  records = [aws_instance.analytics[0].public_ip]
}
