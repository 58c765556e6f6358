# What later steps read (analytics-wizard stores these in its ledger). The names are part of the
# wizard's contract: rds_host_name, elasticsearch_learners_host, analytics_instance_*_ips,
# emr_subnet_id and the *_bucket outputs.

output "rds_host_name" {
  description = "Host name of the analytics RDS, without :port."
  value       = var.create_rds ? one(aws_db_instance.analytics[*].address) : var.existing_rds_host
}

output "rds_port" {
  description = "Port of the analytics RDS."
  value       = var.create_rds ? one(aws_db_instance.analytics[*].port) : 3306
}

output "elasticsearch_learners_host" {
  description = "Endpoint host of the learners Elasticsearch domain, without https://."
  value       = var.create_elasticsearch ? one(aws_opensearch_domain.learners[*].endpoint) : var.existing_elasticsearch_host

  precondition {
    condition     = var.create_elasticsearch || var.existing_elasticsearch_host != ""
    error_message = "With create_elasticsearch = false, set existing_elasticsearch_host to the endpoint of the domain to use."
  }
}

output "analytics_instance_ids" {
  description = "Ids of the analytics instances."
  value       = aws_instance.analytics[*].id
}

output "analytics_instance_private_ips" {
  description = "Private IPs of the analytics instances (Jenkins is reached on the first one)."
  value       = aws_instance.analytics[*].private_ip
}

output "analytics_instance_public_ips" {
  description = "Public IPs of the analytics instances."
  value       = aws_instance.analytics[*].public_ip
}

output "insights_host" {
  description = "DNS name of Insights."
  value       = aws_route53_record.insights.fqdn
}

output "emr_subnet_id" {
  description = "Default-VPC subnet the EMR clusters start in."
  value       = local.subnet_id
}

output "analytics_security_group_id" {
  description = "Security group of the analytics instances."
  value       = aws_security_group.analytics.id
}

output "rds_security_group_id" {
  description = "Security group of the analytics RDS (admits the analytics instances)."
  value       = aws_security_group.rds.id
}

output "emr_rds_security_group_id" {
  description = "\"EMR RDS\" security group: add it to the edxapp RDS so the pipeline can import from it."
  value       = aws_security_group.emr_rds.id
}

output "emr_master_security_group_id" {
  description = "Managed security group for the EMR master nodes."
  value       = aws_security_group.emr_master.id
}

output "emr_slave_security_group_id" {
  description = "Managed security group for the EMR core and task nodes."
  value       = aws_security_group.emr_slave.id
}

output "emr_service_role_name" {
  description = "EMR service role (EMR_DefaultRole's equivalent)."
  value       = aws_iam_role.emr_service.name
}

output "emr_ec2_instance_profile_name" {
  description = "Instance profile of the EMR nodes (EMR_EC2_DefaultRole's equivalent)."
  value       = aws_iam_instance_profile.emr_ec2.name
}

output "analytics_instance_profile_name" {
  description = "Instance profile of the analytics instances."
  value       = aws_iam_instance_profile.analytics.name
}

output "pipeline_bucket" {
  description = "The pipeline's bucket (<customer>-edx<environment>)."
  value       = aws_s3_bucket.pipeline["pipeline"].bucket
}

output "emr_bucket" {
  description = "Task configuration bucket of the EMR clusters."
  value       = aws_s3_bucket.pipeline["emr"].bucket
}

output "emr_logs_bucket" {
  description = "Log bucket of the EMR clusters."
  value       = aws_s3_bucket.pipeline["emr_logs"].bucket
}

output "api_reports_bucket" {
  description = "Bucket of the Analytics API's reports."
  value       = aws_s3_bucket.pipeline["api_reports"].bucket
}
