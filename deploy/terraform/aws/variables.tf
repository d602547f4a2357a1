variable "region" {
  description = "AWS region of everything (Bedrock must offer the model there)"
  type        = string
  default     = "eu-west-1"
}

variable "name" {
  description = "Prefix of every resource name (one deployment per name)"
  type        = string
  default     = "vidflow"
}

variable "image" {
  description = "vidflow container image (e.g. ACCOUNT.dkr.ecr.REGION.amazonaws.com/vidflow:TAG)"
  type        = string
}

variable "vpc_id" {
  description = "VPC the services run in"
  type        = string
}

variable "private_subnet_ids" {
  description = "Subnets of the tasks (with a NAT or VPC endpoints for S3, SQS, Bedrock, logs, ECR)"
  type        = list(string)
}

variable "public_subnet_ids" {
  description = "Subnets of the API's load balancer"
  type        = list(string)
}

variable "api_allowed_cidrs" {
  description = "Who may reach the JSON API"
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "workers" {
  description = "Worker nodes (vidflow worker) besides the coordinator"
  type        = number
  default     = 2
}

variable "coordinator_cpu" {
  type    = number
  default = 1024
}

variable "coordinator_memory" {
  type    = number
  default = 2048
}

variable "worker_cpu" {
  type    = number
  default = 2048
}

variable "worker_memory" {
  type    = number
  default = 4096
}

variable "bedrock_model_id" {
  description = "Model of summaries (summarizer.kind = bedrock)"
  type        = string
  default     = "anthropic.claude-3-haiku-20240307-v1:0"
}

variable "secret_arns" {
  description = <<-EOT
    Secrets Manager ARNs of what vidflow must not read from its image:
    jwt_secret (auth.jwt_secret), webhook_token, cluster_ca, coordinator_cert, coordinator_key, worker_cert, worker_key
    (PEM text of the cluster's mutual TLS, from `vidflow cluster init-certs`
    or your own CA).
  EOT
  type        = map(string)
}

variable "log_retention_days" {
  type    = number
  default = 30
}

variable "upload_origins" {
  description = "Web origins allowed to upload with presigned URLs (CORS)"
  type        = list(string)
  default     = ["*"]
}
