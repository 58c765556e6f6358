# Where everything runs: the default VPC (EMR needs its DNS hostnames and internet gateway, which
# the wizard's prerequisites step checks) and its default subnets.

data "aws_vpc" "default" {
  default = true
}

data "aws_subnets" "default" {
  filter {
    name   = "vpc-id"
    values = [data.aws_vpc.default.id]
  }

  filter {
    name   = "default-for-az"
    values = ["true"]
  }
}

locals {
  name = "${var.customer_name}-${var.environment}"

  # Sorted so the same subnet is picked on every run.
  subnet_id = sort(data.aws_subnets.default.ids)[0]

  any_ipv4 = ["0.0.0.0/0"]
  any_ipv6 = ["::/0"]
}

# The analytics instances: Insights and the API are public (80/443); SSH and Jenkins (8080) only
# from the director. Jenkins as installed is unprotected, so 8080 never opens to the world.
resource "aws_security_group" "analytics" {
  name        = "${local.name}-analytics"
  description = "Analytics instances: web public, SSH and Jenkins from the director only"
  vpc_id      = data.aws_vpc.default.id

  ingress {
    description      = "HTTP (Insights, Analytics API)"
    from_port        = 80
    to_port          = 80
    protocol         = "tcp"
    cidr_blocks      = local.any_ipv4
    ipv6_cidr_blocks = local.any_ipv6
  }

  ingress {
    description      = "HTTPS (Insights, Analytics API)"
    from_port        = 443
    to_port          = 443
    protocol         = "tcp"
    cidr_blocks      = local.any_ipv4
    ipv6_cidr_blocks = local.any_ipv6
  }

  ingress {
    description     = "SSH from the director"
    from_port       = 22
    to_port         = 22
    protocol        = "tcp"
    security_groups = [var.director_security_group_id]
  }

  ingress {
    description     = "Jenkins from the director only"
    from_port       = 8080
    to_port         = 8080
    protocol        = "tcp"
    security_groups = [var.director_security_group_id]
  }

  egress {
    description      = "All outbound"
    from_port        = 0
    to_port          = 0
    protocol         = "-1"
    cidr_blocks      = local.any_ipv4
    ipv6_cidr_blocks = local.any_ipv6
  }

  tags = { Name = "${local.name}-analytics" }
}

# EMR's managed groups, named per client so they never collide with the account-wide defaults
# (ElasticMapReduce-master/slave). EMR adds its own rules to them, so terraform leaves the rules
# alone after creating the groups.
resource "aws_security_group" "emr_master" {
  name                   = "${local.name}-emr-master"
  description            = "EMR master nodes of the analytics pipeline"
  vpc_id                 = data.aws_vpc.default.id
  revoke_rules_on_delete = true

  ingress {
    description     = "SSH from the analytics instances (Jenkins jobs)"
    from_port       = 22
    to_port         = 22
    protocol        = "tcp"
    security_groups = [aws_security_group.analytics.id]
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = local.any_ipv4
  }

  lifecycle {
    ignore_changes = [ingress, egress]
  }

  tags = { Name = "${local.name}-emr-master" }
}

resource "aws_security_group" "emr_slave" {
  name                   = "${local.name}-emr-slave"
  description            = "EMR core and task nodes of the analytics pipeline"
  vpc_id                 = data.aws_vpc.default.id
  revoke_rules_on_delete = true

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = local.any_ipv4
  }

  lifecycle {
    ignore_changes = [ingress, egress]
  }

  tags = { Name = "${local.name}-emr-slave" }
}

# "EMR RDS": attached to a database, it lets the EMR clusters in. It is on the analytics RDS here;
# add it to the edxapp RDS too so the pipeline can import from edxapp.
resource "aws_security_group" "emr_rds" {
  name        = "${local.name}-emr-rds"
  description = "EMR RDS: MySQL from the analytics EMR clusters"
  vpc_id      = data.aws_vpc.default.id

  ingress {
    description     = "MySQL from EMR"
    from_port       = 3306
    to_port         = 3306
    protocol        = "tcp"
    security_groups = [aws_security_group.emr_master.id, aws_security_group.emr_slave.id]
  }

  tags = { Name = "${local.name}-emr-rds" }
}

resource "aws_security_group" "rds" {
  name        = "${local.name}-rds"
  description = "Analytics RDS: MySQL from the analytics instances"
  vpc_id      = data.aws_vpc.default.id

  ingress {
    description     = "MySQL from the analytics instances"
    from_port       = 3306
    to_port         = 3306
    protocol        = "tcp"
    security_groups = [aws_security_group.analytics.id]
  }

  tags = { Name = "${local.name}-rds" }
}
