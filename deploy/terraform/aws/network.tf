# Who may talk to whom: clients → load balancer → coordinator's API;
# worker nodes → coordinator's cluster port (mutual TLS); coordinator →
# EFS. Workers reach the coordinator by name through Cloud Map.

resource "aws_security_group" "lb" {
  name        = "${var.name}-lb"
  description = "JSON API load balancer"
  vpc_id      = var.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "lb_http" {
  count             = length(var.api_allowed_cidrs)
  security_group_id = aws_security_group.lb.id
  cidr_ipv4         = var.api_allowed_cidrs[count.index]
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
}

resource "aws_vpc_security_group_egress_rule" "lb_to_api" {
  security_group_id            = aws_security_group.lb.id
  referenced_security_group_id = aws_security_group.coordinator.id
  ip_protocol                  = "tcp"
  from_port                    = 8000
  to_port                      = 8000
}

resource "aws_security_group" "coordinator" {
  name        = "${var.name}-coordinator"
  description = "vidflow coordinator"
  vpc_id      = var.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "api_from_lb" {
  security_group_id            = aws_security_group.coordinator.id
  referenced_security_group_id = aws_security_group.lb.id
  ip_protocol                  = "tcp"
  from_port                    = 8000
  to_port                      = 8000
}

resource "aws_vpc_security_group_ingress_rule" "cluster_from_workers" {
  security_group_id            = aws_security_group.coordinator.id
  referenced_security_group_id = aws_security_group.worker.id
  ip_protocol                  = "tcp"
  from_port                    = 4242
  to_port                      = 4242
}

resource "aws_vpc_security_group_egress_rule" "coordinator_out" {
  security_group_id = aws_security_group.coordinator.id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "coordinator_efs" {
  security_group_id            = aws_security_group.coordinator.id
  referenced_security_group_id = aws_security_group.efs.id
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
}

resource "aws_security_group" "worker" {
  name        = "${var.name}-worker"
  description = "vidflow worker nodes"
  vpc_id      = var.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_egress_rule" "worker_cluster" {
  security_group_id            = aws_security_group.worker.id
  referenced_security_group_id = aws_security_group.coordinator.id
  ip_protocol                  = "tcp"
  from_port                    = 4242
  to_port                      = 4242
}

resource "aws_vpc_security_group_egress_rule" "worker_out" {
  security_group_id = aws_security_group.worker.id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_security_group" "efs" {
  name        = "${var.name}-efs"
  description = "coordinator data (EFS)"
  vpc_id      = var.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "efs_from_coordinator" {
  security_group_id            = aws_security_group.efs.id
  referenced_security_group_id = aws_security_group.coordinator.id
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
}

resource "aws_lb" "api" {
  name               = "${var.name}-api"
  load_balancer_type = "application"
  security_groups    = [aws_security_group.lb.id]
  subnets            = var.public_subnet_ids
  # Live event streams (SSE) stay open; the API sends a comment every 15 s.
  idle_timeout = 120
  tags         = local.tags
}

resource "aws_lb_target_group" "api" {
  name        = "${var.name}-api"
  port        = 8000
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = var.vpc_id
  health_check {
    path    = "/readyz"
    matcher = "200"
  }
  tags = local.tags
}

resource "aws_lb_listener" "api" {
  load_balancer_arn = aws_lb.api.arn
  port              = 80
  protocol          = "HTTP"
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }
}

resource "aws_service_discovery_private_dns_namespace" "cluster" {
  name = "${var.name}.internal"
  vpc  = var.vpc_id
  tags = local.tags
}

resource "aws_service_discovery_service" "coordinator" {
  name = "coordinator"
  dns_config {
    namespace_id = aws_service_discovery_private_dns_namespace.cluster.id
    dns_records {
      type = "A"
      ttl  = 10
    }
  }
  health_check_custom_config {
    failure_threshold = 1
  }
}
