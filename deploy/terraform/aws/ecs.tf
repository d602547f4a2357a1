# One coordinator (SQLite on EFS: exactly one task) and var.workers worker
# nodes on Fargate. Secrets arrive as environment variables from Secrets
# Manager; the PEM files vidflow reads are written from them at start.

resource "aws_ecs_cluster" "this" {
  name = var.name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
  tags = local.tags
}

resource "aws_cloudwatch_log_group" "coordinator" {
  name              = "/ecs/${var.name}/coordinator"
  retention_in_days = var.log_retention_days
  tags              = local.tags
}

resource "aws_cloudwatch_log_group" "worker" {
  name              = "/ecs/${var.name}/worker"
  retention_in_days = var.log_retention_days
  tags              = local.tags
}

locals {
  # Writes the TLS files from the environment, then runs vidflow.
  pem_prelude = "umask 077 && mkdir -p /run/vidflow && printf '%s' \"$CLUSTER_CA\" > /run/vidflow/ca.pem && printf '%s' \"$NODE_CERT\" > /run/vidflow/node.pem && printf '%s' \"$NODE_KEY\" > /run/vidflow/node.key && exec "
  tls_flags   = "--cluster-ca /run/vidflow/ca.pem --cluster-cert /run/vidflow/node.pem --cluster-key /run/vidflow/node.key"
  coordinator_env = [
    { name = "VIDFLOW_LOG_FORMAT", value = "json" },
    { name = "VIDFLOW_HTTP_HOST", value = "0.0.0.0" },
    { name = "VIDFLOW_DATA_DIR", value = "/data" },
    { name = "VIDFLOW_STORE_MODE", value = "s3" },
    { name = "VIDFLOW_STORE_ENDPOINT", value = "https://s3.${var.region}.amazonaws.com" },
    { name = "VIDFLOW_STORE_CREDENTIALS", value = "aws" },
    { name = "VIDFLOW_STORE_BUCKET", value = aws_s3_bucket.uploads.id },
    { name = "VIDFLOW_STORE_REGION", value = var.region },
    { name = "VIDFLOW_STORE_BACKEND", value = "dynamodb" },
    { name = "VIDFLOW_DYNAMODB_TABLE", value = aws_dynamodb_table.state.name },
    { name = "VIDFLOW_DYNAMODB_REGION", value = var.region },
    { name = "VIDFLOW_SQS_QUEUE_URL", value = aws_sqs_queue.events.url },
    { name = "VIDFLOW_SQS_DLQ_URL", value = aws_sqs_queue.dead_letters.url },
    { name = "VIDFLOW_SUMMARIZER_KIND", value = "bedrock" },
    { name = "VIDFLOW_BEDROCK_MODEL_ID", value = var.bedrock_model_id },
    { name = "VIDFLOW_BEDROCK_REGION", value = var.region },
    { name = "VIDFLOW_CLUSTER_PORT", value = "4242" },
    { name = "VIDFLOW_CLUSTER_HOST", value = "0.0.0.0" },
  ]
}

resource "aws_ecs_task_definition" "coordinator" {
  family                   = "${var.name}-coordinator"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.coordinator_cpu
  memory                   = var.coordinator_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.coordinator.arn
  volume {
    name = "data"
    efs_volume_configuration {
      file_system_id     = aws_efs_file_system.data.id
      transit_encryption = "ENABLED"
      authorization_config {
        access_point_id = aws_efs_access_point.data.id
        iam             = "ENABLED"
      }
    }
  }
  container_definitions = jsonencode([{
    name         = "coordinator"
    image        = var.image
    essential    = true
    entryPoint   = ["/bin/sh", "-c"]
    command      = ["${local.pem_prelude}vidflow serve ${local.tls_flags}"]
    portMappings = [{ containerPort = 8000 }, { containerPort = 4242 }]
    environment  = local.coordinator_env
    secrets = [
      { name = "VIDFLOW_AUTH_JWT_SECRET", valueFrom = var.secret_arns["jwt_secret"] },
      { name = "VIDFLOW_WEBHOOK_TOKEN", valueFrom = var.secret_arns["webhook_token"] },
      { name = "CLUSTER_CA", valueFrom = var.secret_arns["cluster_ca"] },
      { name = "NODE_CERT", valueFrom = var.secret_arns["coordinator_cert"] },
      { name = "NODE_KEY", valueFrom = var.secret_arns["coordinator_key"] },
    ]
    mountPoints = [{ sourceVolume = "data", containerPath = "/data" }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.coordinator.name
        awslogs-region        = var.region
        awslogs-stream-prefix = "coordinator"
      }
    }
  }])
  tags = local.tags
}

resource "aws_ecs_service" "coordinator" {
  name          = "${var.name}-coordinator"
  cluster       = aws_ecs_cluster.this.id
  launch_type   = "FARGATE"
  desired_count = 1
  # SQLite on EFS: never two coordinators at once.
  deployment_maximum_percent         = 100
  deployment_minimum_healthy_percent = 0
  task_definition                    = aws_ecs_task_definition.coordinator.arn
  network_configuration {
    subnets         = var.private_subnet_ids
    security_groups = [aws_security_group.coordinator.id]
  }
  load_balancer {
    target_group_arn = aws_lb_target_group.api.arn
    container_name   = "coordinator"
    container_port   = 8000
  }
  service_registries {
    registry_arn = aws_service_discovery_service.coordinator.arn
  }
  depends_on = [aws_lb_listener.api, aws_efs_mount_target.data]
  tags       = local.tags
}

resource "aws_ecs_task_definition" "worker" {
  family                   = "${var.name}-worker"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.worker_cpu
  memory                   = var.worker_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.worker.arn
  container_definitions = jsonencode([{
    name       = "worker"
    image      = var.image
    essential  = true
    entryPoint = ["/bin/sh", "-c"]
    command = ["${local.pem_prelude}vidflow worker ${local.tls_flags} --join coordinator.${aws_service_discovery_private_dns_namespace.cluster.name}:4242"]
    environment = [
      { name = "VIDFLOW_LOG_FORMAT", value = "json" },
      { name = "VIDFLOW_DATA_DIR", value = "/tmp/vidflow" },
      { name = "VIDFLOW_SUMMARIZER_KIND", value = "bedrock" },
      { name = "VIDFLOW_BEDROCK_MODEL_ID", value = var.bedrock_model_id },
      { name = "VIDFLOW_BEDROCK_REGION", value = var.region },
    ]
    secrets = [
      { name = "CLUSTER_CA", valueFrom = var.secret_arns["cluster_ca"] },
      { name = "NODE_CERT", valueFrom = var.secret_arns["worker_cert"] },
      { name = "NODE_KEY", valueFrom = var.secret_arns["worker_key"] },
    ]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.worker.name
        awslogs-region        = var.region
        awslogs-stream-prefix = "worker"
      }
    }
  }])
  tags = local.tags
}

resource "aws_ecs_service" "worker" {
  name            = "${var.name}-worker"
  cluster         = aws_ecs_cluster.this.id
  launch_type     = "FARGATE"
  desired_count   = var.workers
  task_definition = aws_ecs_task_definition.worker.arn
  network_configuration {
    subnets         = var.private_subnet_ids
    security_groups = [aws_security_group.worker.id]
  }
  tags = local.tags
}
