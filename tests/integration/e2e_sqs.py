#!/usr/bin/env python3
"""Object events from SQS: S3 notifications (plain and through EventBridge)
taken by `vidflow serve --sqs-queue-url`, end to end.

This is AWS mode end to end: S3 → SQS → vidflow → DynamoDB. Real: the
vidflow binary, s3rver (@20minutes/s3rver@4.0.4) as the object store, and
botocore (AWS's Python client, Debian's python3-botocore) as the sender.
Emulated (the services cannot run here): SQS, by local-aws-sqs (npm), with
a redrive policy to a dead-letter queue after 3 receives; DynamoDB, by
dynalite (npm), which holds vidflow's state (`--store-backend dynamodb`:
jobs, results, claims, the attempt ledger, dead letters), one table per
test made by vidflow itself (`--dynamodb-create-table 1`). The harness
plays S3's notification plumbing: s3rver's events arrive at a forwarder in
this test, which sends each to the queue three times, once in each shape
(S3 → SQS, S3 → EventBridge → SQS, S3 → SNS → SQS), keys URL-encoded
as AWS does.

- 200 uploads, each event delivered three times (and in two shapes):
  every job SUCCEEDED with one probe and one summary; malformed bodies, an
  s3:TestEvent, events for an unknown key and a foreign bucket, an oversized
  body: deleted with a log line; the queue and its DLQ end empty.
- kill -9 of the coordinator mid-run, uploads while it is down: after the
  restart every job SUCCEEDED once; nothing left in the queue.
- A file that is not media: the failed job is in vidflow's dead letters,
  in the enriched shape in the SQS dead-letter queue (`--sqs-dlq-url`),
  and in the analyzer's scheduled incident report, written to the bucket
  under incidents/.
- The SQS DLQ down when a job fails, then `kill -9`: the message waits in
  the node's outbox and reaches the DLQ after the restart.
- A store slow to confirm objects (HEADs held 4 s behind a proxy): the
  messages' visibility (2 s) is extended while their events wait, none is
  received twice. A 300 KiB message (the queue allows 1 MiB) is deleted
  with a log line and the next one is taken.
- DynamoDB unreachable (a relay in front of it cut): POST /jobs, GET
  /jobs/{id} and /history answer 503 `storage_unavailable`; an upload's
  event stays in the queue until the state is back, then its job runs
  once.
- An event whose object the store cannot confirm (the store is down) is
  left, received again, and moved to the DLQ by the queue's redrive policy
  after maxReceiveCount; the source keeps consuming.
"""
import http.server
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vfharness as h  # noqa: E402
from e2e_s3rver import start_s3rver, ACCESS_KEY, SECRET_KEY  # noqa: E402

import botocore.session  # noqa: E402  (Debian's python3-botocore)

SQS_MODULE = os.environ.get(
    "VF_SQS_MODULE",
    os.path.join(h.REPO, "build", "tools", "node_modules", "local-aws-sqs"))
LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "sqs-launcher.js")
DYNALITE_MODULE = os.environ.get(
    "VF_DYNALITE_MODULE",
    os.path.join(h.REPO, "build", "tools", "node_modules", "dynalite"))
DYNALITE_LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                 "dynalite-launcher.js")
AWS_ENV = {"AWS_ACCESS_KEY_ID": "AKIDVFSQSTEST",
           "AWS_SECRET_ACCESS_KEY": "sqs-test-secret",
           "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "",
           "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_CONTAINER_CREDENTIALS_FULL_URI": "",
           "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": ""}


def launch(name, launcher, module, *args):
    """Starts an npm emulator through its launcher script; returns the
    process and its "ready on" line."""
    node = shutil.which("node")
    if node is None:
        raise AssertionError("node is not installed (apt: nodejs)")
    if not os.path.isfile(os.path.join(module, "package.json")):
        raise AssertionError(f"{name} is not installed at {module} (run "
                             "deploy/install-deps.sh --test)")
    proc = h.Process(name, [node, launcher, module, *args])
    end = time.monotonic() + 30
    line = ""
    while time.monotonic() < end and "ready on" not in line:
        if proc.poll() is not None:
            raise AssertionError(f"{name} exited:\n" + proc.log_tail())
        line = proc.log_text()
        time.sleep(0.05)
    if "ready on" not in line:
        proc.stop()
        raise AssertionError(f"{name} did not start within 30 s")
    return proc, line


class Dynalite:
    """dynalite, a DynamoDB emulator, in memory, and a botocore client."""

    def __init__(self):
        self.proc, line = launch("dynalite", DYNALITE_LAUNCHER,
                                 DYNALITE_MODULE, "0")
        self.endpoint = "http://" + line.split("ready on ")[1].split()[0]
        self.client = botocore.session.get_session().create_client(
            "dynamodb", region_name="us-east-1", endpoint_url=self.endpoint,
            aws_access_key_id="AKIDTEST", aws_secret_access_key="test")

    def items(self, table, prefix):
        """Every item of `table` whose pk starts with `prefix` (a scan:
        fine for a test's table)."""
        out, start = [], None
        while True:
            kw = {"TableName": table,
                  "FilterExpression": "begins_with(pk, :p)",
                  "ExpressionAttributeValues": {":p": {"S": prefix}}}
            if start:
                kw["ExclusiveStartKey"] = start
            r = self.client.scan(**kw)
            out += r.get("Items", [])
            start = r.get("LastEvaluatedKey")
            if not start:
                return out

    def stop(self):
        self.proc.stop()


class Sqs:
    """local-aws-sqs and a botocore client for it."""

    def __init__(self):
        self.proc, line = launch("local-aws-sqs", LAUNCHER, SQS_MODULE, "0",
                                 "3")
        words = line.split()
        self.queue = words[words.index("queue") + 1]
        self.dlq = words[words.index("dlq") + 1]
        self.endpoint = self.queue.rsplit("/", 2)[0]
        self.client = botocore.session.get_session().create_client(
            "sqs", region_name="us-east-1", endpoint_url=self.endpoint,
            aws_access_key_id="AKIDTEST", aws_secret_access_key="test")
        self.lock = threading.Lock()

    def send(self, body, queue=None):
        with self.lock:
            self.client.send_message(QueueUrl=queue or self.queue,
                                     MessageBody=body)

    def send_batch(self, bodies, queue=None):
        entries = [{"Id": str(i), "MessageBody": b}
                   for i, b in enumerate(bodies)]
        r = self.client.send_message_batch(QueueUrl=queue or self.queue,
                                           Entries=entries)
        if r.get("Failed"):
            raise AssertionError(f"SendMessageBatch failed: {r['Failed']}")

    def counts(self, queue=None):
        with self.lock:
            a = self.client.get_queue_attributes(
                QueueUrl=queue or self.queue, AttributeNames=["All"])
        a = a["Attributes"]
        return (int(a["ApproximateNumberOfMessages"]),
                int(a["ApproximateNumberOfMessagesNotVisible"]))

    def receive_all(self, queue):
        with self.lock:
            r = self.client.receive_message(QueueUrl=queue,
                                            MaxNumberOfMessages=10,
                                            VisibilityTimeout=60)
        return r.get("Messages", [])

    def wait_empty(self, deadline_s=90):
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if self.counts() == (0, 0):
                return True
            time.sleep(0.25)
        return False

    def stop(self):
        self.proc.stop()


def s3_shape(rec, key):
    r = json.loads(json.dumps(rec))
    r["s3"]["object"]["key"] = key
    r.setdefault("eventSource", "aws:s3")
    return json.dumps({"Records": [r]})


def eventbridge_shape(rec, key):
    obj = rec["s3"]["object"]
    return json.dumps({
        "version": "0", "id": os.urandom(8).hex(),
        "detail-type": "Object Created", "source": "aws.s3",
        "account": "123456789012", "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{rec['s3']['bucket']['name']}"],
        "detail": {"version": "0",
                   "bucket": {"name": rec["s3"]["bucket"]["name"]},
                   "object": {"key": key, "size": obj.get("size", 0),
                              "etag": obj.get("eTag", ""),
                              "sequencer": obj.get("sequencer", "")},
                   "reason": "PutObject"}})


def sns_shape(rec, key):
    """S3 → SNS → SQS without raw delivery: the notification as text."""
    return json.dumps({"Type": "Notification",
                       "MessageId": os.urandom(8).hex(),
                       "TopicArn": "arn:aws:sns:us-east-1:123456789012:up",
                       "Subject": "Amazon S3 Notification",
                       "Message": s3_shape(rec, key),
                       "Timestamp": "2026-12-05T00:00:00.000Z"})


class Forwarder:
    """Plays S3 → (EventBridge or SNS →) SQS: each s3rver event is sent to
    the queue three times, once in each shape."""

    def __init__(self, sqs, copies=3):
        self.sqs = sqs
        self.copies = copies
        self.sent = 0
        self.n = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                outer.forward(json.loads(body))

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever,
                         daemon=True).start()

    def forward(self, body):
        for rec in body["Records"]:
            # AWS URL-encodes keys in notifications (form style).
            key = urllib.parse.quote_plus(rec["s3"]["object"]["key"],
                                          safe="/")
            with self.sqs.lock:
                self.n += 1
                n = self.n
            for copy in range(self.copies):
                shape = (s3_shape, eventbridge_shape,
                         sns_shape)[(n + copy) % 3]
                self.sqs.send(shape(rec, key))
                self.sent += 1

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Relay:
    """A TCP relay to 127.0.0.1:`target_port` that can be cut: while down
    it closes every open connection and every new one at once (DynamoDB
    unreachable), byte for byte otherwise."""

    def __init__(self, target_port):
        import socket
        self.target = target_port
        self.is_down = False
        self.conns = set()
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import socket
        while True:
            try:
                a, _ = self.sock.accept()
            except OSError:
                return
            if self.is_down:
                a.close()
                continue
            try:
                b = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                a.close()
                continue
            with self.lock:
                self.conns |= {a, b}
            for x, y in ((a, b), (b, a)):
                threading.Thread(target=self._pump, args=(x, y),
                                 daemon=True).start()

    def _pump(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for x in (src, dst):
            try:
                x.close()
            except OSError:
                pass

    def down(self):
        import socket
        self.is_down = True
        with self.lock:
            for x in self.conns:
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.conns.clear()

    def up(self):
        self.is_down = False

    def close(self):
        self.down()
        self.sock.close()


class SlowHeads:
    """An HTTP proxy in front of s3rver that holds every HEAD for
    `delay_s` (the store is slow to confirm an object, so the events of a
    received message stay unanswered longer than half its visibility
    timeout). Requests go on byte for byte, Host included, so SigV4
    signatures still hold."""

    def __init__(self, target_port, delay_s):
        import http.client
        outer = self
        self.heads = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def relay(self):
                n = int(self.headers.get("Content-Length", "0") or "0")
                body = self.rfile.read(n) if n else None
                if self.command == "HEAD":
                    outer.heads += 1
                    time.sleep(delay_s)
                conn = http.client.HTTPConnection("127.0.0.1", target_port,
                                                  timeout=30)
                conn.putrequest(self.command, self.path, skip_host=True,
                                skip_accept_encoding=True)
                for k, v in self.headers.items():
                    conn.putheader(k, v)
                conn.endheaders(body)
                r = conn.getresponse()
                data = r.read()
                self.send_response(r.status)
                sized = False
                for k, v in r.getheaders():
                    if k.lower() in ("transfer-encoding", "connection"):
                        continue
                    sized = sized or k.lower() == "content-length"
                    self.send_header(k, v)
                if not sized:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = relay

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever,
                         daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def node_args(s3_port, sqs, ddb, table, visibility="5"):
    endpoint = f"http://127.0.0.1:{s3_port}"
    return ["--store-backend", "dynamodb", "--dynamodb-endpoint",
            ddb.endpoint, "--dynamodb-table", table,
            "--dynamodb-create-table", "1",
            "--store-mode", "s3", "--store-endpoint", endpoint,
            "--public-url", endpoint, "--bucket", "uploads",
            "--region", "us-east-1", "--access-key", ACCESS_KEY,
            "--secret-key", SECRET_KEY, "--sqs-queue-url", sqs.queue,
            "--sqs-wait-s", "1", "--sqs-visibility-s", visibility]


def upload(client, name):
    job = client.create_job(name, "video/mp4")
    r = h.upload(job["upload_url"], h.read_bytes(h.clip("h264_aac.mp4")),
                 "video/mp4")
    if r.status != 200:
        raise AssertionError(f"upload of {name}: {r!r}")
    return job["job_id"]


def once_each(test, client, ids):
    for jid in ids:
        job = client.wait_status(jid, h.TERMINAL, deadline_s=120)
        test.assertEqual(job["status"], "SUCCEEDED", job)
        items = client.call("GET", f"/jobs/{jid}/attempts").json()["items"]
        ok = sorted(a["kind"] for a in items if a["ok"])
        test.assertEqual(ok, ["probe", "summarize"], (jid, items))


class SqsIntake(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.sqs = Sqs()
        cls.ddb = Dynalite()
        cls.fwd = Forwarder(cls.sqs)
        cls.s3_port = h.free_port()
        cls.s3rver = start_s3rver(cls.s3_port, cls.fwd.url)

    @classmethod
    def tearDownClass(cls):
        cls.s3rver.stop()
        cls.fwd.close()
        cls.sqs.stop()
        cls.ddb.stop()

    def table(self):
        """This test's own table: every test starts with an empty state."""
        return "vf-" + self.id().rsplit(".", 1)[1]

    def test_1_many_uploads_each_event_thrice_and_junk(self):
        server = h.Server(h.binary, env=AWS_ENV,
                          extra_args=node_args(self.s3_port, self.sqs,
                                               self.ddb, self.table()))
        try:
            c = server.client()
            t0 = time.monotonic()
            ids = h.run_parallel(lambda i: upload(c, f"clip {i}.mp4"),
                                 range(200), max_workers=8)
            # Bad input among the good.
            known = c.create_job("never uploaded.mp4", "video/mp4")
            key = urllib.parse.urlparse(known["upload_url"]).path.split(
                "/", 2)[2]
            fake = {"eventVersion": "2.1", "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": "uploads"},
                           "object": {"key": "uploads/no-such-job/x.mp4",
                                      "size": 10, "eTag": "abc"}}}
            foreign = json.loads(json.dumps(fake))
            foreign["s3"]["bucket"]["name"] = "someone-elses"
            foreign["s3"]["object"]["key"] = key
            with open(os.path.join(h.REPO, "tests", "data", "events",
                                   "aws-s3-to-sqs-testevent.json")) as f:
                test_event = f.read()
            for body in ("not json at all", '{"Records": 5}', "[]",
                         test_event, json.dumps({"Records": [fake]}),
                         json.dumps({"Records": [foreign]}),
                         json.dumps({"Records": [], "pad": "x" * 200000})):
                self.sqs.send(body)
            once_each(self, c, ids)
            elapsed = time.monotonic() - t0
            self.assertTrue(self.sqs.wait_empty(),
                            f"queue not empty: {self.sqs.counts()}")
            self.assertEqual(self.sqs.counts(self.sqs.dlq), (0, 0))
            self.assertEqual(c.get_job(known["job_id"])["status"],
                             "AWAITING_UPLOAD")
            # The state is in DynamoDB, and only there: one claim per
            # upload however often its event came, every job, no SQLite.
            table = self.table()
            claims = self.ddb.items(table, "claim#")
            jobs = [i for i in self.ddb.items(table, "job#")
                    if i["sk"]["S"] == "job"]
            self.assertEqual(len(claims), 200, len(claims))
            self.assertEqual(len(jobs), 201, len(jobs))
            self.assertFalse(os.path.exists(
                os.path.join(server.data_dir, "vidflow.db")))
            m = c.metrics()
            got = {o: h.metric_value(m, "vidflow_sqs_messages_total",
                                     outcome=o)
                   for o in ("received", "deleted", "rejected", "ignored",
                             "retried", "receive_error")}
            print(f"\n  200 jobs through SQS in {elapsed:.1f} s; "
                  f"{self.fwd.sent} event messages + 7 junk; {got}",
                  flush=True)
            self.assertGreaterEqual(got["received"], self.fwd.sent + 7)
            self.assertEqual(got["received"], got["deleted"])
            self.assertEqual(got["receive_error"], 0)
            self.assertEqual(got["retried"], 0)
            # not json, Records 5, [], unknown key, foreign bucket
            self.assertGreaterEqual(got["rejected"], 5)
            # s3:TestEvent and the padded empty Records
            self.assertGreaterEqual(got["ignored"], 2)
            log = server.log_text()
            self.assertIn("is not vidflow's", log)
            self.assertIn("; deleted", log)
        finally:
            server.stop()

    def test_2_kill_9_mid_run(self):
        data = tempfile.mkdtemp(prefix="data-", dir=h.scratch_dir())
        http_port, store_port = h.free_port(), h.free_port()
        args = node_args(self.s3_port, self.sqs, self.ddb, self.table())

        def start():
            return h.Server(h.binary, env=AWS_ENV, data_dir=data,
                            http_port=http_port, store_port=store_port,
                            extra_args=args)
        server = start()
        c = server.client()
        later = [c.create_job(f"late{i}.mp4", "video/mp4") for i in range(20)]
        ids = h.run_parallel(lambda i: upload(c, f"k{i}.mp4"), range(40),
                             max_workers=8)
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait()
        server.expect_exit(-signal.SIGKILL)
        # Uploads while the coordinator is away: their events wait in the
        # queue, with whatever the dead process received but never deleted.
        for job in later:
            r = h.upload(job["upload_url"],
                         h.read_bytes(h.clip("h264_aac.mp4")), "video/mp4")
            self.assertEqual(r.status, 200, r)
        server2 = None
        try:
            server2 = start()
            c2 = server2.client()
            once_each(self, c2, ids + [j["job_id"] for j in later])
            self.assertTrue(self.sqs.wait_empty(),
                            f"queue not empty: {self.sqs.counts()}")
            self.assertEqual(self.sqs.counts(self.sqs.dlq), (0, 0))
        finally:
            if server2:
                server2.stop()


    def test_3_bad_file_in_both_dead_letter_queues(self):
        server = h.Server(h.binary, env=AWS_ENV, extra_args=node_args(
            self.s3_port, self.sqs, self.ddb, self.table()) + [
                "--sqs-dlq-url", self.sqs.dlq, "--max-attempts", "1",
                "--dlq-interval-s", "1"])
        try:
            c = server.client()
            job = c.create_job("bad file.mp4", "video/mp4")
            r = h.upload(job["upload_url"],
                         h.read_bytes(h.clip("random.bin")), "video/mp4")
            self.assertEqual(r.status, 200, r)
            done = c.wait_status(job["job_id"], h.TERMINAL, deadline_s=60)
            self.assertEqual(done["status"], "FAILED", done)
            admin = h.Client(server.base)
            admin.login("admin", "admin")
            self.assertEqual(
                admin.call("GET", f"/dlq/{job['job_id']}").status, 200)
            end = time.monotonic() + 30
            got = []
            while time.monotonic() < end and not got:
                got = self.sqs.receive_all(self.sqs.dlq)
                time.sleep(0.2)
            self.assertEqual(len(got), 1, "nothing in the SQS DLQ")
            msg = json.loads(got[0]["Body"])
            print(f"\n  SQS DLQ got: {msg}", flush=True)
            self.assertEqual(msg["job_id"], job["job_id"])
            self.assertEqual(msg["bucket"], "uploads")
            self.assertEqual(msg["key"], urllib.parse.unquote(
                urllib.parse.urlparse(job["upload_url"]).path.split(
                    "/", 2)[2]))
            self.assertEqual(msg["error_code"], done["error_code"])
            self.assertEqual(msg["category"], "bad_media")
            self.assertTrue(msg["error_message"])
            self.assertIn("uploader", msg["recommendation"])
            self.assertEqual(h.metric_value(
                c.metrics(), "vidflow_sqs_dead_letters_total",
                outcome="sent"), 1)
            # The analyzer's scheduled report, kept in the bucket.
            s3 = botocore.session.get_session().create_client(
                "s3", region_name="us-east-1",
                endpoint_url=f"http://127.0.0.1:{self.s3_port}",
                aws_access_key_id=ACCESS_KEY,
                aws_secret_access_key=SECRET_KEY)
            end = time.monotonic() + 30
            keys = []
            while time.monotonic() < end and not keys:
                keys = [o["Key"] for o in s3.list_objects_v2(
                    Bucket="uploads", Prefix="incidents/").get(
                        "Contents", [])]
                time.sleep(0.3)
            self.assertTrue(keys, "no incident report in the bucket")
            self.assertRegex(keys[0], r"^incidents/\d{4}/\d\d/\d\d/"
                                      r"\d{6}Z-\d+\.json$")
            report = json.loads(s3.get_object(
                Bucket="uploads", Key=keys[-1])["Body"].read())
            print(f"  incident report {keys[-1]}: total "
                  f"{report.get('total')}", flush=True)
            self.assertGreaterEqual(report["total"], 1)
            self.assertIn(job["job_id"], json.dumps(report))
        finally:
            server.stop()


    def test_3b_dead_letter_survives_sqs_outage_and_kill_9(self):
        data = tempfile.mkdtemp(prefix="data-", dir=h.scratch_dir())
        http_port, store_port = h.free_port(), h.free_port()
        # The DLQ's SQS is down: nothing listens at that port.
        down = (f"http://127.0.0.1:{h.free_port()}/000000000000/"
                + self.sqs.dlq.rsplit("/", 1)[1])

        def start(dlq_url):
            return h.Server(h.binary, env=AWS_ENV, data_dir=data,
                            http_port=http_port, store_port=store_port,
                            extra_args=node_args(self.s3_port, self.sqs,
                                                 self.ddb, self.table())
                            + ["--sqs-dlq-url", dlq_url,
                               "--max-attempts", "1"])
        server = start(down)
        # A failure before the kill below must not leave this node
        # consuming the queue the later tests use.
        self.addCleanup(server.kill_if_running)
        c = server.client()
        job = c.create_job("bad while sqs is down.mp4", "video/mp4")
        r = h.upload(job["upload_url"], h.read_bytes(h.clip("random.bin")),
                     "video/mp4")
        self.assertEqual(r.status, 200, r)
        done = c.wait_status(job["job_id"], h.TERMINAL, deadline_s=60)
        self.assertEqual(done["status"], "FAILED", done)
        outbox = os.path.join(data, "outbox", "sqs-dead-letters")
        end = time.monotonic() + 20
        while time.monotonic() < end and h.metric_value(
                c.metrics(), "vidflow_sqs_dead_letters_total",
                outcome="failed") < 1:
            time.sleep(0.2)
        self.assertEqual(len(os.listdir(outbox)), 1, os.listdir(outbox))
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait()
        server.expect_exit(-signal.SIGKILL)
        server2 = start(self.sqs.dlq)
        try:
            end = time.monotonic() + 30
            mine = []
            while time.monotonic() < end and not mine:
                mine = [m for m in self.sqs.receive_all(self.sqs.dlq)
                        if job["job_id"] in m["Body"]]
                time.sleep(0.2)
            self.assertEqual(len(mine), 1, "the failed job never reached "
                             "the SQS DLQ after the restart")
            self.assertEqual(json.loads(mine[0]["Body"])["job_id"],
                             job["job_id"])
            end = time.monotonic() + 10
            while time.monotonic() < end and os.listdir(outbox):
                time.sleep(0.1)
            self.assertEqual(os.listdir(outbox), [], "sent, so forgotten")
            self.assertIn("left from before", server2.log_text())
            # The events the killed node took come back after their
            # visibility timeout: this node finishes them.
            self.assertTrue(self.sqs.wait_empty(60), self.sqs.counts())
        finally:
            server2.stop()

    def each_copy_once_behind(self, proxy, count, dlq0):
        """The three copies of one event, behind `proxy`'s slow HEADs:
        each extended, received once (none came back), deleted; `count`
        gives a `vidflow_sqs_messages_total` outcome's count."""
        self.assertGreaterEqual(proxy.heads, 1)
        self.assertGreaterEqual(count("extended"), 3,
                                "three messages, each extended")
        self.assertEqual(count("received"), 3, "no copy came back")
        self.assertEqual(count("retried"), 0)
        self.assertEqual(count("deleted"), 3)
        self.assertEqual(self.sqs.counts(self.sqs.dlq), dlq0)

    def test_4_slow_store_visibility_extended_not_redelivered(self):
        # HEADs take 4 s; messages are hidden for 2 s unless extended.
        proxy = SlowHeads(self.s3_port, 4.0)
        server = h.Server(h.binary, env=AWS_ENV, extra_args=node_args(
            proxy.port, self.sqs, self.ddb, self.table(), visibility="2"))
        try:
            c = server.client()
            m0 = c.metrics()
            dlq0 = self.sqs.counts(self.sqs.dlq)  # test_3 leaves one there
            jid = upload(c, "slow store.mp4")
            once_each(self, c, [jid])
            self.assertTrue(self.sqs.wait_empty(60), self.sqs.counts())
            m1 = c.metrics()

            def grew(outcome):
                return (h.metric_value(m1, "vidflow_sqs_messages_total",
                                       outcome=outcome)
                        - h.metric_value(m0, "vidflow_sqs_messages_total",
                                         outcome=outcome))
            self.each_copy_once_behind(proxy, grew, dlq0)
        finally:
            server.stop()
            proxy.close()

    def test_4b_visibility_counted_from_the_long_polls_start(self):
        # The three copies wait in the queue before the node starts. The
        # emulator hides them as its long poll finds them (at the poll's
        # start) but answers only when the poll's 2 s are over; SQS may
        # start a message's visibility timeout at any moment of the call.
        # With 3 s of visibility, an extension counted from the answer
        # (1.5 s after it) comes 0.5 s too late and every copy is received
        # twice; counted from the call's start it goes out at once.
        args = node_args(self.s3_port, self.sqs, self.ddb, self.table())
        i = args.index("--sqs-queue-url")
        del args[i:i + 2]
        first = h.Server(h.binary, env=AWS_ENV, extra_args=args)
        try:
            jid = upload(first.client(), "queued before the start.mp4")
            end = time.monotonic() + 30
            while time.monotonic() < end and self.sqs.counts() != (3, 0):
                time.sleep(0.1)
            self.assertEqual(self.sqs.counts(), (3, 0), "three copies queued")
        finally:
            first.stop()
        dlq0 = self.sqs.counts(self.sqs.dlq)
        proxy = SlowHeads(self.s3_port, 4.0)
        args = node_args(proxy.port, self.sqs, self.ddb, self.table(),
                         visibility="3")
        args[args.index("--sqs-wait-s") + 1] = "2"
        server = h.Server(h.binary, env=AWS_ENV, extra_args=args)
        try:
            c = server.client()
            once_each(self, c, [jid])
            self.assertTrue(self.sqs.wait_empty(60), self.sqs.counts())
            m = c.metrics()

            def n(outcome):
                return h.metric_value(m, "vidflow_sqs_messages_total",
                                      outcome=outcome)
            self.each_copy_once_behind(proxy, n, dlq0)
        finally:
            server.stop()
            proxy.close()

    def test_6_dynamodb_unreachable_503_and_nothing_lost(self):
        relay = Relay(int(self.ddb.endpoint.rsplit(":", 1)[1]))
        args = node_args(self.s3_port, self.sqs, self.ddb, self.table())
        args[args.index("--dynamodb-endpoint") + 1] = relay.endpoint
        server = h.Server(h.binary, env=AWS_ENV, extra_args=args)
        try:
            c = server.client()
            before = upload(c, "before.mp4")
            c.wait_status(before, h.TERMINAL, deadline_s=60)
            waiting = c.create_job("during.mp4", "video/mp4")
            relay.down()
            # Every request that needs the state: a clear 503, fast.
            t0 = time.monotonic()
            for method, path, body in (
                    ("POST", "/jobs", {"filename": "x.mp4"}),
                    ("GET", f"/jobs/{before}", None),
                    ("GET", "/history", None)):
                r = c.call(method, path, body)
                self.assertEqual(r.status, 503, (method, path, r))
                self.assertEqual(r.json()["code"],
                                 "storage_unavailable", r.json())
            print(f"\n  503s while DynamoDB is unreachable within "
                  f"{time.monotonic() - t0:.1f} s", flush=True)
            # An upload now: its event cannot be recorded, so its message
            # stays in the queue and comes again.
            r = h.upload(waiting["upload_url"],
                         h.read_bytes(h.clip("h264_aac.mp4")), "video/mp4")
            self.assertEqual(r.status, 200, r)
            time.sleep(3)
            relay.up()
            once_each(self, c, [before, waiting["job_id"]])
            self.assertTrue(self.sqs.wait_empty(60), self.sqs.counts())
            self.assertGreaterEqual(h.metric_value(
                c.metrics(), "vidflow_sqs_messages_total",
                outcome="retried"), 1)
            c.create_job("after.mp4", "video/mp4")
        finally:
            server.stop()
            relay.close()

    def test_5_oversized_message_deleted_and_consuming_goes_on(self):
        # SQS takes up to 1 MiB now; vidflow reads at most 256 KiB (an S3
        # event is a few KiB).
        self.sqs.client.set_queue_attributes(
            QueueUrl=self.sqs.queue,
            Attributes={"MaximumMessageSize": "1048576"})
        server = h.Server(h.binary, env=AWS_ENV,
                          extra_args=node_args(self.s3_port, self.sqs,
                                               self.ddb, self.table()))
        try:
            c = server.client()
            m0 = c.metrics()
            dlq0 = self.sqs.counts(self.sqs.dlq)
            self.sqs.send(json.dumps({"Records": [], "pad": "x" * 300000}))
            jid = upload(c, "after the big one.mp4")
            once_each(self, c, [jid])
            self.assertTrue(self.sqs.wait_empty(60), self.sqs.counts())
            m1 = c.metrics()
            self.assertEqual(
                h.metric_value(m1, "vidflow_sqs_messages_total",
                               outcome="rejected")
                - h.metric_value(m0, "vidflow_sqs_messages_total",
                                 outcome="rejected"), 1)
            self.assertIn("is larger than 262144", server.log_text())
            self.assertEqual(self.sqs.counts(self.sqs.dlq), dlq0)
        finally:
            server.stop()


class PoisonToDlq(unittest.TestCase):

    def test_unconfirmable_event_moves_to_dlq(self):
        sqs = Sqs()
        ddb = Dynalite()
        closed = h.free_port()  # no store listens here
        # Short polls: the emulator counts a visibility extension as a
        # receive (SQS does not), so this message must be answered (its
        # HEAD refused at once) before an extension is due; after a long
        # poll one is due at once (see test_4b).
        args = node_args(closed, sqs, ddb, "poison", visibility="2")
        args[args.index("--sqs-wait-s") + 1] = "0"
        server = h.Server(h.binary, env=AWS_ENV, extra_args=args)
        try:
            c = server.client()
            job = c.create_job("poison.mp4", "video/mp4")
            key = urllib.parse.urlparse(job["upload_url"]).path.split(
                "/", 2)[2]
            rec = {"eventVersion": "2.1", "eventSource": "aws:s3",
                   "eventName": "ObjectCreated:Put",
                   "s3": {"bucket": {"name": "uploads"},
                          "object": {"key": key, "size": 24305,
                                     "eTag": "0123456789abcdef"}}}
            body = json.dumps({"Records": [rec]})
            sqs.send(body)
            end = time.monotonic() + 60
            dead = []
            while time.monotonic() < end and not dead:
                dead = sqs.receive_all(sqs.dlq)
                time.sleep(0.5)
            self.assertEqual(len(dead), 1, "not moved to the DLQ")
            self.assertEqual(dead[0]["Body"], body)
            log = server.log_text()
            self.assertGreaterEqual(log.count("left for redelivery"), 3, log)
            # Still consuming: a later message is taken and deleted.
            with open(os.path.join(h.REPO, "tests", "data", "events",
                                   "aws-s3-to-sqs-testevent.json")) as f:
                sqs.send(f.read())
            self.assertTrue(sqs.wait_empty(30), sqs.counts())
            m = c.metrics()
            self.assertGreaterEqual(h.metric_value(
                m, "vidflow_sqs_messages_total", outcome="retried"), 3)
            self.assertEqual(c.get_job(job["job_id"])["status"],
                             "AWAITING_UPLOAD")
        finally:
            server.stop()
            sqs.stop()
            ddb.stop()


if __name__ == "__main__":
    h.main(__doc__)
