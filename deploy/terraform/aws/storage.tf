# Uploads and outputs: one private bucket; S3 tells EventBridge of every
# new object.
resource "aws_s3_bucket" "uploads" {
  bucket = local.bucket_name
  tags   = local.tags
}

resource "aws_s3_bucket_public_access_block" "uploads" {
  bucket                  = aws_s3_bucket.uploads.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "uploads" {
  bucket = aws_s3_bucket.uploads.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

# vidflow deletes nothing in s3 mode: uploads of failed jobs expire here.
resource "aws_s3_bucket_lifecycle_configuration" "uploads" {
  bucket = aws_s3_bucket.uploads.id
  rule {
    id     = "abort-incomplete-multipart"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 2
    }
  }
}

# Browsers upload with presigned PUTs.
resource "aws_s3_bucket_cors_configuration" "uploads" {
  bucket = aws_s3_bucket.uploads.id
  cors_rule {
    allowed_methods = ["PUT", "GET"]
    allowed_origins = var.upload_origins
    allowed_headers = ["content-type"]
    max_age_seconds = 3600
  }
}

resource "aws_s3_bucket_notification" "uploads" {
  bucket      = aws_s3_bucket.uploads.id
  eventbridge = true
}

# vidflow's state (store.backend = dynamodb): jobs with their journal and
# callback deliveries, results, claims, the attempt ledger, dead letters
# and Idempotency-Keys, in one table with the indexes vidflow's queries
# use (adapters/vf/adapters/aws/dynamodb.cpp, table_definition: the same
# keys and indexes). Idempotency-Keys carry a `ttl`; DynamoDB deletes them
# after two days.
resource "aws_dynamodb_table" "state" {
  name         = "${var.name}-state"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"
  range_key    = "sk"

  dynamic "attribute" {
    for_each = local.state_key_attributes
    content {
      name = attribute.value
      type = "S"
    }
  }

  dynamic "global_secondary_index" {
    for_each = local.state_indexes
    content {
      name            = global_secondary_index.key
      hash_key        = global_secondary_index.value[0]
      range_key       = global_secondary_index.value[1]
      projection_type = "ALL"
    }
  }

  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }

  tags = local.tags
}

locals {
  state_indexes = {
    by_owner   = ["gsi1pk", "gsi1sk"]
    by_status  = ["gsi2pk", "gsi2sk"]
    by_due     = ["gsi3pk", "gsi3sk"]
    by_content = ["gsi4pk", "gsi4sk"]
    by_purge   = ["gsi5pk", "gsi5sk"]
  }
  state_key_attributes = concat(["pk", "sk"], flatten(values(local.state_indexes)))
}

# The coordinator's data directory (accounts, the SQS dead-letter outbox,
# the lease journal) lives on EFS (one coordinator task at a time).
resource "aws_efs_file_system" "data" {
  encrypted = true
  tags      = merge(local.tags, { Name = "${var.name}-data" })
}

resource "aws_efs_mount_target" "data" {
  count           = length(var.private_subnet_ids)
  file_system_id  = aws_efs_file_system.data.id
  subnet_id       = var.private_subnet_ids[count.index]
  security_groups = [aws_security_group.efs.id]
}

resource "aws_efs_access_point" "data" {
  file_system_id = aws_efs_file_system.data.id
  posix_user {
    uid = 1000
    gid = 1000
  }
  root_directory {
    path = "/vidflow"
    creation_info {
      owner_uid   = 1000
      owner_gid   = 1000
      permissions = "0700"
    }
  }
}
