// Usage: node sqs-launcher.js <local-aws-sqs module path> <port> [maxReceiveCount]
//
// Starts local-aws-sqs (an SQS emulator: SQS itself cannot run here) on
// 127.0.0.1 with two queues, as deploy/terraform would make them on AWS:
//   vidflow-events      fed by S3 notifications; RedrivePolicy to the DLQ
//                       after maxReceiveCount (default 3) receives
//   vidflow-events-dlq  its dead-letter queue
// and prints one line once it listens:
//   local-aws-sqs ready on 127.0.0.1:<port> queue <url> dlq <url>
// Port 0 picks a free port. With SQS_EXIT_ON_EOF=1 it exits when stdin
// closes, so a test that dies cannot leave it running. The emulator checks no signatures (vidflow's
// signer is checked against AWS's vectors and botocore elsewhere).
// Where it differs from SQS (tests rely on both):
// - a long poll takes the messages it finds at once (their visibility
//   timeout starts then) but answers only when it has MaxNumberOfMessages
//   or its wait is over;
// - ChangeMessageVisibility counts as a receive (ApproximateReceiveCount,
//   and so the redrive policy).
const [modPath, port, maxReceive] = process.argv.slice(2);
if (!modPath || port === undefined) {
  console.error('usage: node sqs-launcher.js <module> <port> [maxReceiveCount]');
  process.exit(2);
}
const { createSqsServer } = require(modPath);
const account = '123456789012';
(async () => {
  const server = await createSqsServer({
    port: Number(port), hostname: '127.0.0.1', region: 'us-east-1',
    accountId: account, emulateQueueCreationLifecycle: false,
    queues: [
      { QueueName: 'vidflow-events-dlq' },
      { QueueName: 'vidflow-events',
        Attributes: { VisibilityTimeout: '30', RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: `arn:aws:sqs:us-east-1:${account}:vidflow-events-dlq`,
          maxReceiveCount: Number(maxReceive || 3) }) } },
    ],
  });
  const bound = server.address().port;
  const base = `http://127.0.0.1:${bound}/${account}`;
  console.log(`local-aws-sqs ready on 127.0.0.1:${bound} queue ${base}/vidflow-events dlq ${base}/vidflow-events-dlq`);
})().catch((e) => { console.error('local-aws-sqs failed:', e); process.exit(1); });
if (process.env.SQS_EXIT_ON_EOF === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}
