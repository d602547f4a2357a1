// Usage: node dynalite-launcher.js <dynalite-module-path> <port> <dataDir>
//
// Starts dynalite, a DynamoDB emulator (DynamoDB cannot run here), on
// 127.0.0.1, in memory (dataDir is unused: each run starts empty), tables
// ACTIVE at once, and prints one line once it listens:
//   dynalite <version> ready on 127.0.0.1:<port>
// Port 0 picks a free port. dynalite does not check signatures: our
// signer is checked by AWS's vectors and by botocore in e2e_bedrock and
// e2e_s3_aws. With DYNALITE_EXIT_ON_EOF=1 it exits when stdin closes, so a
// test that dies cannot leave it running.
const [modPath, port] = process.argv.slice(2);
if (!modPath || port === undefined) {
  console.error('usage: node dynalite-launcher.js <dynalite module> <port> [dir]');
  process.exit(2);
}
const dynalite = require(modPath);
const version = require(modPath + '/package.json').version;
const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
server.on('error', (e) => { console.error('dynalite: ' + e.message); process.exit(1); });
server.listen(Number(port), '127.0.0.1', () => {
  console.log(`dynalite ${version} ready on 127.0.0.1:${server.address().port}`);
});
if (process.env.DYNALITE_EXIT_ON_EOF === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('close', () => process.exit(0));
  process.stdin.resume();
}
process.on('SIGTERM', () => process.exit(0));
