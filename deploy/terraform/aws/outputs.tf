output "api_url" {
  description = "The JSON API (POST /auth/login, POST /jobs, ...)"
  value       = "http://${aws_lb.api.dns_name}"
}

output "bucket" {
  description = "Uploads and outputs"
  value       = aws_s3_bucket.uploads.id
}

output "state_table" {
  description = "vidflow's state: jobs, results, claims, ledger, dead letters"
  value       = aws_dynamodb_table.state.name
}

output "events_queue_url" {
  value = aws_sqs_queue.events.url
}

output "events_dlq_url" {
  description = "Event messages that kept failing (redrive after 5 receives)"
  value       = aws_sqs_queue.events_dlq.url
}

output "dead_letters_queue_url" {
  description = "Failed jobs, enriched (job_id, bucket, key, error_code, error_message, recommendation)"
  value       = aws_sqs_queue.dead_letters.url
}

output "log_groups" {
  value = [aws_cloudwatch_log_group.coordinator.name,
  aws_cloudwatch_log_group.worker.name]
}
