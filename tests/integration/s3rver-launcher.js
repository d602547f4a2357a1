// Usage: node s3rver-launcher.js <s3rver-module-path> <port> <dataDir> [webhookUrl [webhookToken]]
//
// Starts @20minutes/s3rver on 127.0.0.1 with a bucket "uploads" (access key
// S3RVER / secret S3RVER) and prints one line once it listens:
//   s3rver <version> ready on 127.0.0.1:<port> in <ms> ms
// Port 0 picks a free port; the line tells which. With a webhook URL, each S3
// event is forwarded re-shaped like MinIO's webhook body {EventName, Key,
// Records}, with 'Authorization: Bearer <webhookToken>' as MinIO sends its
// auth_token; 5xx answers and failed connections are redelivered as MinIO
// does (see deliver). With S3RVER_EXIT_ON_EOF=1 it exits when stdin closes, so a test
// that dies cannot leave it running. S3RVER_CORS_ORIGIN: see corsConfigs.
//
// Adapted from shared/reference/s3rver-webhook-launcher.js: the port actually
// bound is printed, start-up failures exit non-zero, and Key uses the record's
// key as is, since s3rver (unlike MinIO) does not URL-encode it (decoding it
// would throw on a literal '%').
const [modPath, port, dir, webhook, webhookToken] = process.argv.slice(2);
if (!modPath || port === undefined || !dir) {
  console.error('usage: node s3rver-launcher.js <s3rver module> <port> <dir> [webhook URL]');
  process.exit(2);
}
const S3rver = require(modPath);

// With S3RVER_CORS_ORIGIN (the web app's origin), the bucket lets pages of
// that origin PUT to presigned URLs and read the ETag, as a real S3 bucket
// with a CORS rule does (docs/web.md); without it, CORS is off.
function corsConfigs() {
  const origin = process.env.S3RVER_CORS_ORIGIN;
  if (!origin) return [];
  return [Buffer.from(
    '<CORSConfiguration><CORSRule>' +
    `<AllowedOrigin>${origin}</AllowedOrigin>` +
    '<AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod>' +
    '<AllowedMethod>HEAD</AllowedMethod><AllowedHeader>*</AllowedHeader>' +
    '<ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>600</MaxAgeSeconds>' +
    '</CORSRule></CORSConfiguration>')];
}
const http = require('http');
const t0 = Date.now();
const server = new S3rver({ address: '127.0.0.1', port: Number(port), directory: dir,
  silent: true, configureBuckets: [{ name: 'uploads', configs: corsConfigs() }] });
server.on('event', (ev) => {
  if (!webhook) return;
  const rec = ev.Records[0];
  const body = JSON.stringify({
    EventName: 's3:' + rec.eventName,            // MinIO prefixes "s3:"; AWS does not
    Key: rec.s3.bucket.name + '/' + rec.s3.object.key,
    Records: ev.Records,
  });
  const headers = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) };
  if (webhookToken) headers['Authorization'] = 'Bearer ' + webhookToken;
  deliver(body, headers, 1, 200, Date.now());
});

// Redelivers like MinIO with a queue_dir: a 5xx answer or a failed
// connection is retried with backoff (200 ms doubling to 2 s) for up to a
// minute; a 2xx or 4xx answer ends it. Every failed try is logged as
//   webhook delivery <n> of <key>: <status or error>; retrying in <ms> ms
function deliver(body, headers, n, delay, started) {
  const key = JSON.parse(body).Key;
  const retry = (why) => {
    if (Date.now() - started > 60000) {
      console.error(`webhook delivery ${n} of ${key}: ${why}; giving up`);
      return;
    }
    console.log(`webhook delivery ${n} of ${key}: ${why}; retrying in ${delay} ms`);
    setTimeout(() => deliver(body, headers, n + 1, Math.min(delay * 2, 2000), started), delay);
  };
  const req = http.request(webhook, { method: 'POST', headers }, (res) => {
    res.resume();
    if (res.statusCode >= 500) retry(`status ${res.statusCode}`);
    else console.log(`webhook delivery ${n} of ${key}: status ${res.statusCode}`);
  });
  req.on('error', (e) => retry(`error ${e.message}`));
  req.end(body);
}
if (process.env.S3RVER_EXIT_ON_EOF === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('close', () => process.exit(0));
  process.stdin.resume();
}
server.run().then((addr) => {
  const version = require(modPath + '/package.json').version;
  console.log(`s3rver ${version} ready on 127.0.0.1:${addr.port} in ${Date.now() - t0} ms`);
}, (err) => {
  console.error('s3rver failed to start:', err.message);
  process.exit(1);
});
