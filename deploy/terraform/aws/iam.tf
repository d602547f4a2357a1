# Least privilege: every action named, every resource an ARN of this
# deployment (no "*" actions anywhere; tests/integration/terraform_check.py
# checks it).

data "aws_iam_policy_document" "ecs_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

# Pulls the image, writes logs, reads the secrets into the containers.
resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "EcrToken"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # this action has no resource-level permissions
  }
  statement {
    sid = "EcrPull"
    actions = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer",
    "ecr:BatchGetImage"]
    resources = ["arn:aws:ecr:${var.region}:${local.account}:repository/*"]
  }
  statement {
    sid     = "Logs"
    actions = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.coordinator.arn}:*",
    "${aws_cloudwatch_log_group.worker.arn}:*"]
  }
  statement {
    sid       = "Secrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = values(var.secret_arns)
  }
}

resource "aws_iam_role_policy" "execution" {
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# The coordinator: takes events from SQS, feeds failed jobs to the
# dead-letters queue, checks and reads uploads, writes outputs, summarizes,
# keeps its state in DynamoDB.
resource "aws_iam_role" "coordinator" {
  name               = "${var.name}-coordinator"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "coordinator" {
  statement {
    sid = "Events"
    actions = ["sqs:ReceiveMessage", "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
    resources = [aws_sqs_queue.events.arn]
  }
  statement {
    sid       = "DeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letters.arn]
  }
  statement {
    sid       = "Objects"
    actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject",
    "s3:AbortMultipartUpload"]
    resources = ["${aws_s3_bucket.uploads.arn}/*"]
  }
  statement {
    sid       = "ListOutputs"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.uploads.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["outputs/*"]
    }
  }
  statement {
    sid       = "Summaries"
    actions   = ["bedrock:InvokeModel"]
    resources = [local.model_arn]
  }
  statement {
    sid = "State"
    actions = ["dynamodb:DescribeTable", "dynamodb:GetItem",
      "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
    "dynamodb:Query"]
    resources = [aws_dynamodb_table.state.arn,
    "${aws_dynamodb_table.state.arn}/index/*"]
  }
  statement {
    sid = "Data"
    actions = ["elasticfilesystem:ClientMount",
    "elasticfilesystem:ClientWrite"]
    resources = [aws_efs_file_system.data.arn]
  }
}

resource "aws_iam_role_policy" "coordinator" {
  role   = aws_iam_role.coordinator.id
  policy = data.aws_iam_policy_document.coordinator.json
}

# Worker nodes fetch and upload through presigned URLs: they only
# summarize with their own role.
resource "aws_iam_role" "worker" {
  name               = "${var.name}-worker"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "worker" {
  statement {
    sid       = "Summaries"
    actions   = ["bedrock:InvokeModel"]
    resources = [local.model_arn]
  }
}

resource "aws_iam_role_policy" "worker" {
  role   = aws_iam_role.worker.id
  policy = data.aws_iam_policy_document.worker.json
}
