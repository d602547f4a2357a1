#!/usr/bin/python3
"""End-to-end: the JSON API through ingestion nodes.

    /usr/bin/python3 tests/integration/e2e_ingest.py --binary build/vidflow

A real `redis-server`, a coordinator (`vidflow serve` with a cluster port,
the Redis event bus and `cluster.ingest_key`) and two ingestion nodes
(`vidflow serve --role ingest --join 127.0.0.1:PORT`, mutual TLS with the
cluster CA, admitted with the ingest key). Every request below goes to an
ingestion node, which holds no job store: it passes each to the
coordinator's intake gate over CAF's network layer.

- Log in on ingestion node A (the accounts are the coordinator's, copied),
  create jobs, upload to the presigned URL, follow them on node B with A's
  token (one JWT secret) and on the coordinator: the same jobs, processed
  once; results, attempts, history and cancel work through a node.
- Hostile input on an ingestion node: no token 401, a webhook without its
  token 401 or not JSON 415, an oversized body or too many records 413,
  broken JSON 400, unknown fields and path tricks 422, other users' jobs
  404, admin accounts neither copied nor accepted (operators' routes are
  the coordinator's); an over-long object key
  in a webhook is acknowledged, counted rejected and never reaches the
  stream; nothing of it reaches the coordinator as a job.
- An account added on the coordinator (`vidflow users add`) logs in on an
  ingestion node within seconds; a removed one stops working there too.
- The coordinator killed (-9): an ingestion node answers job requests with
  503 + Retry-After (not a hang), still takes webhooks into the stream;
  the coordinator back on the same data: the node reconnects by itself and
  the event taken meanwhile is processed.
- An ingestion node with the wrong ingest key is never admitted (503, and
  its log says why); `--join` without an ingest key does not start.
Deadlines are correctness bounds, not performance checks.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402
import chaoslib as cl  # noqa: E402
import clusterlib as cluster  # noqa: E402
from e2e_redis import Redis, pending, redis_args  # noqa: E402

CLIP = "tiny_h264_aac.mp4"


class IngestNode(h.Process):
    """`vidflow serve --role ingest --join` on a free port."""

    def __init__(self, r, coordinator, certs, name, ingest_key=None):
        self.http_port = h.free_port()
        self.data_dir = tempfile.mkdtemp(prefix=f"{name}-",
                                         dir=h.scratch_dir())
        super().__init__(name, [
            h.binary, "serve", "--config", h.config, "--role", "ingest",
            "--join", f"127.0.0.1:{coordinator.cluster_port}",
            *certs.args(name),
            "--cluster-ingest-key", ingest_key or certs.ingest_secret,
            "--cluster-timeout-ms", "3000",
            "--data-dir", self.data_dir,
            "--http-port", str(self.http_port),
            "--public-url", f"http://127.0.0.1:{coordinator.store_port}",
            "--events-bus", "redis", "--redis-port", str(r.port),
            "--redis-reconnect-max-ms", "1000",
            "--webhook-token", h.WEBHOOK_TOKEN, "--rate-limit", "0"])
        self.base = f"http://127.0.0.1:{self.http_port}"
        h.wait_healthy(self, self.base)

    def login(self, user="demo", password="demo", deadline_s=30):
        """Logs in (retrying while the accounts are not copied yet)."""
        c = h.Client(self.base)
        end = time.monotonic() + deadline_s
        while True:
            r = c.call("POST", "/auth/login",
                       {"username": user, "password": password}, token="")
            if r.status == 200 or time.monotonic() > end:
                break
            time.sleep(0.2)
        if r.status != 200:
            raise AssertionError(f"login as {user} on {self.name}: {r!r}\n"
                                 + self.log_tail())
        c.token = r.json()["access_token"]
        return c


def users(data_dir, *args, password=None):
    r = subprocess.run([h.binary, "users", *args, "--data-dir", data_dir],
                       input=(password + "\n") if password else "",
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"vidflow users {' '.join(args)}: "
                             f"{r.stdout}{r.stderr}")


def error_code(res):
    try:
        return res.json().get("code")
    except ValueError:
        return None


class IngestAPI(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.redis = Redis()
        cls.certs = cluster.Certs(h.binary).make("coordinator", "ingest-a",
                                                "ingest-b", "ingest-c")
        cls.coordinator = cluster.Coordinator(
            h.binary, cls.certs, pipeline="probe,summarize",
            extra_args=redis_args(cls.redis)
            + ["--cluster-ingest-key", cls.certs.ingest_secret,
               "--workers", "2"])
        cls.coordinator.start()
        cls.a = IngestNode(cls.redis, cls.coordinator, cls.certs, "ingest-a")
        cls.b = IngestNode(cls.redis, cls.coordinator, cls.certs, "ingest-b")

    @classmethod
    def tearDownClass(cls):
        for p in (cls.a, cls.b):
            p.stop()
        cls.coordinator.stop()
        cls.redis.stop()

    def upload(self, c, i):
        job = c.create_job(f"ingest {i:03d} {CLIP}", cl.content_type(CLIP))
        data = h.read_bytes(cl.media(CLIP))
        r = h.upload(job["upload_url"], data, cl.content_type(CLIP))
        self.assertEqual(r.status, 200, r)
        return job, r, len(data)

    def test_1_jobs_through_ingestion_nodes(self):
        ca = self.a.login()
        cb = h.Client(self.b.base, token=ca.token)
        direct = self.coordinator.client()
        ids = []
        for i in range(6):
            job, _, _ = self.upload(ca, i)
            ids.append(job["job_id"])
        for jid in ids:
            job = cb.wait_status(jid, h.TERMINAL, deadline_s=120)
            self.assertEqual(job["status"], "SUCCEEDED", job)
            self.assertEqual(direct.get_job(jid)["status"], "SUCCEEDED")
            res = cb.call("GET", f"/jobs/{jid}/result")
            self.assertEqual(res.status, 200, res)
            self.assertIn("summary", res.text)
            ok = cl.ok_counts(cl.attempts(cb, jid),
                              (job.get("object") or {}).get("version"))
            self.assertEqual((ok["probe"], ok["summarize"]), (1, 1), ok)
        # GET ?wait= through a node (its proxy, then the coordinator's
        # gate): held, and answered by the job's end.
        waited = ca.create_job("waited.mp4", cl.content_type(CLIP))
        held = h.call_in_background(cb, "GET", f"/jobs/{waited['job_id']}?wait=30")
        time.sleep(0.3)  # Ordering only: the request is held first.
        r = h.upload(waited["upload_url"], h.read_bytes(cl.media(CLIP)),
                     cl.content_type(CLIP))
        self.assertEqual(r.status, 200, r)
        r, took = held()
        self.assertEqual(r.json().get("status"), "SUCCEEDED", r)
        # Woken by the end, not by its 30 s running out (functional, with a
        # wide margin; not a speed figure).
        self.assertLess(took, 25, "the wait was not ended by the job")
        r = cb.call("GET", f"/jobs/{waited['job_id']}?wait=99")
        self.assertEqual((r.status, r.json().get("code")),
                         (422, "invalid_argument"), r)
        listed = {j.get("job_id") or j.get("id") for j in cb.history()}
        self.assertTrue(set(ids) <= listed, listed)
        # A coordinator's token works on a node too.
        self.assertEqual(h.Client(self.a.base, token=direct.token)
                         .call("GET", f"/jobs/{ids[0]}").status, 200)
        # Cancel through a node: a job still waiting for its upload.
        waiting = ca.create_job("cancel-me.mp4", "video/mp4")
        res = cb.call("POST", f"/jobs/{waiting['job_id']}/cancel")
        self.assertEqual(res.status, 200, res)
        self.assertEqual(direct.get_job(waiting["job_id"])["status"],
                         "CANCELLED")
        # The node's own metrics, not the coordinator's gauges again.
        m = h.Client(self.a.base).call("GET", "/metrics").text
        self.assertEqual(h.metric_value(
            m, "vidflow_ingest_coordinator_connected"), 1)
        self.assertNotIn("vidflow_jobs{", m)

    def test_2_hostile_input_on_an_ingestion_node(self):
        ca = self.a.login()
        direct = self.coordinator.client()
        before = len(direct.history())
        res = h.Client(self.a.base).call("POST", "/jobs",
                                         {"filename": "x.mp4"}, token="")
        self.assertEqual((res.status, error_code(res)),
                         (401, "unauthorized"), res)
        # The webhook on a node: JSON only, and only with the token.
        res = h.request("POST", self.a.base + "/minio/webhook",
                        b"Records=1",
                        {"Authorization": "Bearer " + h.WEBHOOK_TOKEN,
                         "Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(res.status, 415, res)
        self.assertEqual(error_code(res), "unsupported_media_type")
        res = h.request("POST", self.a.base + "/minio/webhook", b"{}",
                        {"Authorization": "Bearer wrong",
                         "Content-Type": "application/json"})
        self.assertEqual(res.status, 401, res)
        hook = h.Client(self.a.base)
        events_before = int(self.redis.cli("XLEN", "vidflow:events").strip())
        many = h.minio_event("uploads", "a.mp4", None, "0" * 32, 1)
        many["Records"] = many["Records"] * 101
        res = hook.webhook(many)
        self.assertEqual((res.status, error_code(res)),
                         (413, "too_many_records"), res)
        # A key longer than any stream entry may hold: acknowledged (MinIO
        # must not redeliver it forever), counted as rejected, never
        # appended to the stream.
        rejected = h.metric_value(hook.metrics(),
                                  "vidflow_object_events_total",
                                  source="minio", outcome="rejected")
        res = hook.webhook(h.minio_event("uploads", "k" * 2000 + ".mp4",
                                         None, "0" * 32, 1))
        self.assertEqual(res.status, 200, res)
        self.assertEqual(h.metric_value(hook.metrics(),
                                        "vidflow_object_events_total",
                                        source="minio", outcome="rejected"),
                         rejected + 1)
        self.assertEqual(int(self.redis.cli("XLEN", "vidflow:events").strip()),
                         events_before)
        big = b'{"filename":"' + b"a" * (2 << 20) + b'.mp4"}'
        res = h.request("POST", self.a.base + "/jobs", big,
                        {"Authorization": "Bearer " + ca.token,
                         "Content-Type": "application/json"})
        self.assertEqual(res.status, 413, res)
        res = h.request("POST", self.a.base + "/jobs", b'{"filename":',
                        {"Authorization": "Bearer " + ca.token,
                         "Content-Type": "application/json"})
        self.assertEqual((res.status, error_code(res)),
                         (400, "invalid_json"), res)
        for body in ({"filename": "../../etc/passwd"},
                     {"filename": "a.mp4", "surprise": 1},
                     {"filename": "a.mp4", "outputs": {"renditions": ["9k"]}},
                     {"filename": "x" * 5000 + ".mp4"}):
            res = ca.call("POST", "/jobs", body)
            self.assertEqual(res.status, 422, (body, res))
            self.assertEqual(error_code(res), "invalid_argument", res)
        # Another user's job is not found through a node either.
        mine = ca.create_job("mine.mp4", "video/mp4")
        users(self.coordinator.data_dir, "add", "eve", password="eve-pass-1")
        eve = self.a.login("eve", "eve-pass-1")
        res = eve.call("GET", f"/jobs/{mine['job_id']}")
        self.assertEqual(res.status, 404, res)
        res = eve.call("POST", f"/jobs/{mine['job_id']}/cancel")
        self.assertEqual(res.status, 404, res)
        # Operators' routes live on the coordinator only; admin accounts
        # are not even copied to ingestion nodes (with an admin's token
        # epoch, a node holding the JWT key could mint admin tokens).
        res = h.Client(self.a.base).call(
            "POST", "/auth/login", {"username": "admin", "password": "admin"},
            token="")
        self.assertEqual(res.status, 401, res)
        with open(os.path.join(self.a.data_dir, "users.json")) as f:
            copied = json.load(f)["users"]
        self.assertEqual({u["role"] for u in copied}, {"user"}, copied)
        admin = h.Client(self.a.base, token=self.coordinator.admin().token)
        for path in ("/admin/status", "/dlq", "/cluster/nodes", "/history"):
            res = admin.call("GET", path)
            self.assertEqual(res.status, 401, (path, res))
        # Nothing of the refused requests became a job.
        self.assertEqual(len(direct.history()), before + 1)

    def test_3_accounts_follow_the_coordinator(self):
        users(self.coordinator.data_dir, "add", "bob", password="bob-pass-1")
        bob = self.b.login("bob", "bob-pass-1")
        self.assertEqual(bob.call("GET", "/history").status, 200)
        users(self.coordinator.data_dir, "remove", "bob")
        end = time.monotonic() + 30
        while bob.call("GET", "/history").status != 401:
            self.assertLess(time.monotonic(), end,
                            "a removed account still works on the node")
            time.sleep(0.2)
        res = h.Client(self.b.base).call(
            "POST", "/auth/login",
            {"username": "bob", "password": "bob-pass-1"}, token="")
        self.assertEqual(res.status, 401, res)

    def test_4_coordinator_killed_and_back(self):
        ca = self.a.login()
        job, put, size = self.upload(ca, 100)
        jid = job["job_id"]
        done = h.Client(self.b.base, token=ca.token).wait_status(
            jid, h.TERMINAL, deadline_s=120)
        self.assertEqual(done["status"], "SUCCEEDED", done)
        # A job made through the node, uploaded after the coordinator is
        # back.
        waiting = ca.create_job(f"away {CLIP}", cl.content_type(CLIP))
        self.coordinator.kill()
        end = time.monotonic() + 30
        while True:
            t0 = time.monotonic()
            res = ca.call("POST", "/jobs", {"filename": "during.mp4"})
            took = time.monotonic() - t0
            self.assertLess(took, 15, "a job request hung")
            if res.status == 503:
                break
            self.assertLess(time.monotonic(), end,
                            f"still {res.status} with the coordinator gone")
            time.sleep(0.2)
        self.assertEqual(error_code(res), "storage_unavailable", res)
        self.assertIn("retry-after", {k.lower() for k in res.headers})
        # Logins go on (the node's copy of the accounts).
        self.a.login()
        # The webhook still takes events into Redis: MinIO sending the
        # first job's event again while the coordinator is away.
        body = h.minio_event(job["s3_bucket"], job["s3_key"],
                             put.headers.get("x-amz-version-id"),
                             (put.headers.get("etag") or "").strip('"'),
                             size)
        res = h.Client(self.a.base).webhook(body)
        self.assertEqual(res.status, 200, res)
        self.assertEqual(h.Client(self.a.base).call("GET", "/readyz").status,
                         200)
        self.coordinator.start()
        # Back by itself.
        end = time.monotonic() + 60
        while ca.call("GET", f"/jobs/{waiting['job_id']}").status != 200:
            self.assertLess(time.monotonic(), end,
                            "the node never reconnected:\n"
                            + self.a.log_tail())
            time.sleep(0.2)
        data = h.read_bytes(cl.media(CLIP))
        r = h.upload(waiting["upload_url"], data, cl.content_type(CLIP))
        self.assertEqual(r.status, 200, r)
        later = ca.wait_status(waiting["job_id"], h.TERMINAL, deadline_s=120)
        self.assertEqual(later["status"], "SUCCEEDED", later)
        # The event taken while it was away was consumed, and it did not
        # run the first job again.
        end = time.monotonic() + 30
        while pending(self.redis) != 0:
            self.assertLess(time.monotonic(), end, "entries left pending")
            time.sleep(0.2)
        ok = cl.ok_counts(cl.attempts(ca, jid),
                          (done.get("object") or {}).get("version"))
        self.assertEqual((ok["probe"], ok["summarize"]), (1, 1), ok)
        self.assertIn("admitted by the coordinator", self.a.log_text())

    def test_5_wrong_or_missing_ingest_key(self):
        other = os.path.join(tempfile.mkdtemp(dir=h.scratch_dir()), "k")
        with open(other, "w") as f:
            f.write("f" * 64 + "\n")
        os.chmod(other, 0o600)
        c = IngestNode(self.redis, self.coordinator, self.certs, "ingest-c",
                       ingest_key=other)
        res = h.Client(c.base).call("POST", "/auth/login",
                                    {"username": "demo", "password": "demo"},
                                    token="")
        # No accounts were ever copied: nobody can log in.
        self.assertEqual(res.status, 401, res)
        end = time.monotonic() + 20
        while "signature is wrong" not in c.log_text():
            self.assertLess(time.monotonic(), end, c.log_tail())
            time.sleep(0.2)
        c.stop()
        r = subprocess.run(
            [h.binary, "serve", "--config", h.config, "--role", "ingest",
             "--join", f"127.0.0.1:{self.coordinator.cluster_port}",
             *self.certs.args("ingest-c"), "--events-bus", "redis",
             "--redis-port", str(self.redis.port)],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("cluster.ingest_key", r.stderr)


if __name__ == "__main__":
    h.main(__doc__)
