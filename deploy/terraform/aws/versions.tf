# vidflow on AWS: the provider and the settings every file shares.
terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}

locals {
  account     = data.aws_caller_identity.current.account_id
  bucket_name = "${var.name}-uploads-${local.account}"
  model_arn   = "arn:aws:bedrock:${var.region}::foundation-model/${var.bedrock_model_id}"
  tags = {
    app = "vidflow"
    env = var.name
  }
}
