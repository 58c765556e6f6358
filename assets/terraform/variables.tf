# Every value analytics-wizard writes into terraform.tfvars.json. The names follow the runbook's
# variables so an operator who knows the old layout finds them again.

variable "customer_name" {
  description = "Short name of the client; prefixes every resource and bucket name."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,38}[a-z0-9]$", var.customer_name))
    error_message = "customer_name: lowercase letters, digits and hyphens; 2-40 characters, starting with a letter, not ending with a hyphen."
  }
}

variable "environment" {
  description = "Environment name used in resource and bucket names (the runbook uses \"analytics\")."
  type        = string
  default     = "analytics"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,38}[a-z0-9]$", var.environment))
    error_message = "environment: lowercase letters, digits and hyphens; 2-40 characters, starting with a letter."
  }
}

variable "aws_region" {
  description = "The one AWS region of the analytics stack (EMR, Elasticsearch and the pipeline use it too)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region: an AWS region name such as us-east-1."
  }
}

variable "aws_profile" {
  description = "Named profile (~/.aws/config) terraform authenticates with; it needs AdministratorAccess."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.+=,@-]{1,64}$", var.aws_profile))
    error_message = "aws_profile: a profile name of letters, digits and _ . + = , @ -."
  }
}

variable "analytics_image_id" {
  description = "AMI of the analytics instance(s): an Ubuntu LTS image of the region."
  type        = string

  validation {
    condition     = can(regex("^ami-([0-9a-f]{8}|[0-9a-f]{17})$", var.analytics_image_id))
    error_message = "analytics_image_id: ami- followed by 8 or 17 hex digits."
  }
}

variable "analytics_instance_type" {
  description = "EC2 instance type of the analytics instance(s) (Insights, Analytics API, Jenkins)."
  type        = string
  default     = "t3.medium"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.analytics_instance_type))
    error_message = "analytics_instance_type: an EC2 instance type such as t3.medium."
  }
}

variable "analytics_key_pair_name" {
  description = "Existing EC2 key pair of the analytics instances (its private key is analytics.pem in the secure repo)."
  type        = string

  validation {
    condition     = length(var.analytics_key_pair_name) >= 1 && length(var.analytics_key_pair_name) <= 255
    error_message = "analytics_key_pair_name: 1 to 255 characters."
  }
}

variable "analytics_root_volume_size" {
  description = "Size in GiB of each analytics instance's root volume."
  type        = number
  default     = 50

  validation {
    condition     = var.analytics_root_volume_size >= 20 && var.analytics_root_volume_size <= 16384 && floor(var.analytics_root_volume_size) == var.analytics_root_volume_size
    error_message = "analytics_root_volume_size: a whole number of GiB from 20 to 16384."
  }
}

variable "number_of_instances" {
  description = "How many analytics instances to run. Run the Jenkins pipeline on one of them only."
  type        = number
  default     = 1

  validation {
    condition     = var.number_of_instances >= 1 && var.number_of_instances <= 10 && floor(var.number_of_instances) == var.number_of_instances
    error_message = "number_of_instances: a whole number from 1 to 10."
  }
}

variable "instance_iteration" {
  description = "Generation of the analytics instances; raising it replaces them with new ones."
  type        = number
  default     = 1

  validation {
    condition     = var.instance_iteration >= 1 && var.instance_iteration <= 999 && floor(var.instance_iteration) == var.instance_iteration
    error_message = "instance_iteration: a whole number from 1 to 999."
  }
}

variable "director_security_group_id" {
  description = "Security group of the director instance: the only source allowed to reach SSH (22) and Jenkins (8080)."
  type        = string

  validation {
    condition     = can(regex("^sg-([0-9a-f]{8}|[0-9a-f]{17})$", var.director_security_group_id))
    error_message = "director_security_group_id: sg- followed by 8 or 17 hex digits."
  }
}

variable "hosted_zone_domain" {
  description = "Existing public Route 53 hosted zone that gets the Insights record (insights.<zone>)."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.hosted_zone_domain))
    error_message = "hosted_zone_domain: a lowercase DNS domain such as example.com (no trailing dot)."
  }
}

variable "insights_subdomain" {
  description = "Name of the Insights record inside the hosted zone."
  type        = string
  default     = "insights"

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.insights_subdomain))
    error_message = "insights_subdomain: one DNS label such as insights."
  }
}

variable "rds_instance_class" {
  description = "Instance class of the analytics RDS MySQL."
  type        = string
  default     = "db.t3.medium"

  validation {
    condition     = can(regex("^db\\.[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.rds_instance_class))
    error_message = "rds_instance_class: an RDS class such as db.t3.medium."
  }
}

variable "rds_engine_version" {
  description = "MySQL engine version of the analytics RDS (a version RDS still supports; 5.6 and 5.7 are retired)."
  type        = string
  default     = "8.0"

  validation {
    condition     = can(regex("^8\\.[0-9]+(\\.[0-9]+)?$", var.rds_engine_version))
    error_message = "rds_engine_version: a MySQL 8 version such as 8.0 or 8.0.40."
  }
}

variable "rds_allocated_storage" {
  description = "Allocated storage of the analytics RDS, in GiB."
  type        = number
  default     = 20

  validation {
    condition     = var.rds_allocated_storage >= 20 && var.rds_allocated_storage <= 65536 && floor(var.rds_allocated_storage) == var.rds_allocated_storage
    error_message = "rds_allocated_storage: a whole number of GiB from 20 to 65536."
  }
}

variable "rds_root_username" {
  description = "Master user of the analytics RDS."
  type        = string
  default     = "analyticsroot"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9]{0,15}$", var.rds_root_username)) && lower(var.rds_root_username) != "rdsadmin"
    error_message = "rds_root_username: 1-16 letters and digits, starting with a letter; not rdsadmin (RDS reserves it)."
  }
}

variable "rds_root_password" {
  description = "Master password of the analytics RDS (analytics-wizard generates it; it stays in terraform.tfvars.json, mode 0600)."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.rds_root_password) >= 8 && length(var.rds_root_password) <= 41 && !can(regex("[/\"@ ]", var.rds_root_password))
    error_message = "rds_root_password: 8-41 printable characters without /, \", @ or spaces (RDS rules)."
  }
}

variable "rds_deletion_protection" {
  description = "Refuse to delete the analytics RDS (turn off only to tear the stack down on purpose)."
  type        = bool
  default     = true
}

variable "create_rds" {
  description = "Create the analytics RDS MySQL instance. Off: give existing_rds_host (a MySQL server the analytics instances reach)."
  type        = bool
  default     = true
}

variable "existing_rds_host" {
  description = "Host name (no port) of an existing MySQL server for the analytics databases, used when create_rds is false."
  type        = string
  default     = ""

  validation {
    condition     = var.existing_rds_host == "" || can(regex("^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$", var.existing_rds_host))
    error_message = "existing_rds_host: a host name without scheme, port or path, or empty."
  }
}

variable "create_elasticsearch" {
  description = "Create the Elasticsearch (OpenSearch Service) domain of the Analytics API learners index. Off: give existing_elasticsearch_host."
  type        = bool
  default     = true
}

variable "existing_elasticsearch_host" {
  description = "Endpoint host (no https://) of an existing Elasticsearch domain, used when create_elasticsearch is false."
  type        = string
  default     = ""

  validation {
    condition     = var.existing_elasticsearch_host == "" || can(regex("^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$", var.existing_elasticsearch_host))
    error_message = "existing_elasticsearch_host: a host name without scheme, port or path, or empty."
  }
}

variable "elasticsearch_version" {
  description = "Engine of the created domain, e.g. Elasticsearch_7.10; match what your Analytics API release supports."
  type        = string
  default     = "Elasticsearch_7.10"

  validation {
    condition     = can(regex("^(Elasticsearch|OpenSearch)_[0-9]+\\.[0-9]+$", var.elasticsearch_version))
    error_message = "elasticsearch_version: Elasticsearch_X.Y or OpenSearch_X.Y."
  }
}

variable "elasticsearch_instance_type" {
  description = "Instance type of the created Elasticsearch domain."
  type        = string
  default     = "t3.small.search"

  validation {
    condition     = can(regex("^[a-z0-9]+\\.[a-z0-9]+\\.(search|elasticsearch)$", var.elasticsearch_instance_type))
    error_message = "elasticsearch_instance_type: an OpenSearch Service type such as t3.small.search."
  }
}

variable "elasticsearch_volume_size" {
  description = "EBS volume size in GiB of the created Elasticsearch domain."
  type        = number
  default     = 10

  validation {
    condition     = var.elasticsearch_volume_size >= 10 && var.elasticsearch_volume_size <= 3584 && floor(var.elasticsearch_volume_size) == var.elasticsearch_volume_size
    error_message = "elasticsearch_volume_size: a whole number of GiB from 10 to 3584."
  }
}

variable "tracking_logs_bucket" {
  description = "Existing bucket the LMS rotates tracking logs into; the pipeline's roles get read access."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.tracking_logs_bucket))
    error_message = "tracking_logs_bucket: an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)."
  }
}

variable "edxapp_s3_grade_bucket_id" {
  description = "Existing edxapp bucket holding grade reports; the pipeline's roles get read access."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.edxapp_s3_grade_bucket_id))
    error_message = "edxapp_s3_grade_bucket_id: an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)."
  }
}

variable "edxapp_s3_grade_bucket_arn" {
  description = "ARN of the edxapp grades bucket (arn:aws:s3:::<bucket>); empty derives it from the id."
  type        = string
  default     = ""

  validation {
    condition     = var.edxapp_s3_grade_bucket_arn == "" || can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.edxapp_s3_grade_bucket_arn))
    error_message = "edxapp_s3_grade_bucket_arn: arn:aws:s3:::<bucket name>, or empty."
  }
}

variable "edxapp_s3_grade_user_arn" {
  description = "IAM user (or role) of edxapp that writes grade reports; with manage_grades_bucket_policy it may read grades-download/*."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(user|role)/[A-Za-z0-9+=,.@_/-]+$", var.edxapp_s3_grade_user_arn))
    error_message = "edxapp_s3_grade_user_arn: an IAM user or role ARN such as arn:aws:iam::123456789012:user/acme-edxapp-s3."
  }
}

variable "manage_grades_bucket_policy" {
  description = "Set the grades bucket's policy (edxapp user may read grades-download/*). It REPLACES any policy the bucket has, so it is off by default."
  type        = bool
  default     = false
}
