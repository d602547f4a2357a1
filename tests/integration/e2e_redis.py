#!/usr/bin/python3
"""End-to-end in Redis mode: object events through a Redis stream.

    /usr/bin/python3 tests/integration/e2e_redis.py --binary build/vidflow

A real `redis-server` (Debian's, AOF on, `appendfsync always`) on a free
loopback port; vidflow with `--events-bus redis --idempotency-backend
redis`: the built-in store and the MinIO webhook publish to the events
stream, the coordinator consumes it through its consumer group and
acknowledges after the orchestrator recorded each event.

- 300 jobs uploaded through the built-in store, every other object's event
  also delivered through the MinIO-shaped webhook; `redis-server` is
  restarted in the middle of the uploads. Every job SUCCEEDED, its ledger holds one ok
  probe and one ok summarize for its object version, nothing stays pending
  in the group, and each job is in the completions stream (at least once,
  every field filled). Only every other job's event is sent again through
  the webhook: the others depend on the store's own event alone.
- Redis stopped for 10 s: the webhook and uploads answer 503 with
  Retry-After (nothing hangs, /healthz stays 200); after Redis is back the
  upload taken during the outage is processed by itself.
- s3 mode as in the reference design, 300 jobs (`--jobs`): uploads to
  s3rver, whose bucket notifications go to an ingestion node (`serve
  --role ingest`). The coordinator is killed (-9) mid-run; the other half of the uploads happens
  while it is away (known to it only through the stream), every event is
  sent again through a second ingestion node, the first one is killed (-9)
  too; the coordinator, restarted on the same data, catches up: every job
  SUCCEEDED, each step recorded once, nothing pending.
Deadlines are correctness bounds, not performance checks.
"""

import concurrent.futures
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

JOBS = cl.pop_option("jobs", 300, int)
CLIP = "tiny_h264_aac.mp4"


class Redis(h.Process):
    """redis-server on a free port, AOF on, in its own directory."""

    def __init__(self, port=None, data_dir=None):
        self.port = port or h.free_port()
        self.dir = data_dir or tempfile.mkdtemp(prefix="redis-",
                                                dir=h.scratch_dir())
        super().__init__("redis", [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "yes", "--appendfsync", "always",
            "--dir", self.dir, "--daemonize", "no"])
        end = time.monotonic() + 20
        while time.monotonic() < end:
            if self.cli("PING").strip() == "PONG":
                return
            if self.proc.poll() is not None:
                raise AssertionError("redis-server exited:\n" + self.log_tail())
            time.sleep(0.05)
        raise AssertionError("redis-server not answering:\n" + self.log_tail())

    def cli(self, *args):
        r = subprocess.run(["redis-cli", "-p", str(self.port), *args],
                           capture_output=True, text=True, timeout=30)
        return r.stdout

    def restarted(self):
        self.stop()
        return Redis(self.port, self.dir)


class Ingest(h.Process):
    """`vidflow serve --role ingest` on a free port, publishing to `r`."""

    def __init__(self, r):
        self.http_port = h.free_port()
        super().__init__("ingest", [
            h.binary, "serve", "--config", h.config, "--role", "ingest",
            "--http-port", str(self.http_port), "--events-bus", "redis",
            "--redis-port", str(r.port), "--webhook-token", h.WEBHOOK_TOKEN,
            "--rate-limit", "0"])
        self.base = f"http://127.0.0.1:{self.http_port}"
        h.wait_healthy(self, self.base)

    def client(self, login=False):
        return h.Client(self.base)


def redis_args(r):
    return ["--events-bus", "redis", "--idempotency-backend", "redis",
            "--redis-port", str(r.port), "--redis-consumer", "e2e",
            "--redis-claim-idle-ms", "1500", "--redis-reconnect-max-ms",
            "1000"]


def pending(r):
    out = r.cli("XPENDING", "vidflow:events", "vidflow").split("\n")
    return int(out[0]) if out and out[0].strip().isdigit() else -1


def completions(r):
    """job id → its entries in the completions stream (field → value)."""
    lines = r.cli("XRANGE", "vidflow:completions", "-", "+").split("\n")
    entries = []
    i = 0
    while i < len(lines):
        # An id line, then field/value lines until the next id.
        if lines[i] and lines[i][0].isdigit() and "-" in lines[i] \
                and i + 1 < len(lines) and lines[i + 1] == "v":
            fields = {}
            i += 1
            while i + 1 < len(lines) and not (
                    lines[i] and lines[i][0].isdigit() and "-" in lines[i]
                    and i + 1 < len(lines) and lines[i + 1] == "v"):
                fields[lines[i]] = lines[i + 1]
                i += 2
            entries.append(fields)
        else:
            i += 1
    seen = {}
    for e in entries:
        seen.setdefault(e.get("job_id"), []).append(e)
    return seen


def upload_one(c, i):
    job = c.create_job(f"redis {i:03d} {CLIP}", cl.content_type(CLIP))
    data = h.read_bytes(cl.media(CLIP))
    r = h.upload(job["upload_url"], data, cl.content_type(CLIP))
    return {"job": job, "status": r.status, "size": len(data),
            "etag": (r.headers.get("etag") or "").strip('"'),
            "version": r.headers.get("x-amz-version-id")}


def check_jobs(test, c, ups, problems, deadline_s=240):
    def wait(up):
        return c.wait_status(up["job"]["job_id"], h.TERMINAL,
                             deadline_s=deadline_s)
    jobs = h.run_parallel(wait, ups, max_workers=8)
    for up, job in zip(ups, jobs):
        jid = job["id"] if "id" in job else job.get("job_id")
        if job["status"] != "SUCCEEDED":
            problems.append(f"job {jid}: {job['status']} "
                            f"({job.get('error_code')}: "
                            f"{job.get('error_message')})")
            continue
        version = (job.get("object") or {}).get("version")
        ok = cl.ok_counts(cl.attempts(c, jid), version)
        for kind in ("probe", "summarize"):
            if ok[kind] != 1:
                problems.append(f"job {jid}: {ok[kind]} ok '{kind}' for "
                                f"version {version}, expected 1")
    return jobs


class RedisMode(unittest.TestCase):

    def test_1_many_jobs_through_the_stream_with_a_redis_restart(self):
        r = Redis()
        server = h.Server(h.binary, extra_args=redis_args(r))
        c = server.client()
        problems = []
        half = threading.Event()
        done = [0]
        lock = threading.Lock()

        def up(i):
            x = upload_one(c, i)
            with lock:
                done[0] += 1
                if done[0] == JOBS // 2:
                    half.set()
            return x

        restarted = {}

        def restart():
            half.wait(300)
            restarted["redis"] = r.restarted()

        t = threading.Thread(target=restart)
        t.start()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            ups = list(pool.map(up, range(JOBS)))
        t.join()
        r = restarted["redis"]
        statuses = {}
        for u in ups:
            statuses[u["status"]] = statuses.get(u["status"], 0) + 1
        print(f"  uploads by status: {statuses}")
        # 200, or 503 while Redis was down (the store keeps the object and
        # announces it again by itself).
        self.assertEqual(set(statuses) - {200, 503}, set(), statuses)
        # Every stored object's event again, through the MinIO webhook.
        hook_status = {}
        # Half of them (even numbers) only: the others must come through
        # on the store's own event alone.
        for u in ups[::2]:
            if u["status"] != 200:
                continue
            body = h.minio_event(u["job"]["s3_bucket"], u["job"]["s3_key"],
                                 u["version"], u["etag"], u["size"])
            end = time.monotonic() + 30
            while True:
                res = c.webhook(body)
                if res.status != 503 or time.monotonic() > end:
                    break
                time.sleep(0.2)
            hook_status[res.status] = hook_status.get(res.status, 0) + 1
        self.assertEqual(hook_status,
                         {200: sum(1 for u in ups[::2] if u["status"] == 200)})
        jobs = check_jobs(self, c, ups, problems)
        ids = {j.get("id") or j.get("job_id") for j in jobs}
        # Nothing left unacknowledged; every job ended once.
        end = time.monotonic() + 30
        while pending(r) != 0 and time.monotonic() < end:
            time.sleep(0.2)
        self.assertEqual(pending(r), 0, "entries left pending in the group")
        end = time.monotonic() + 30
        while time.monotonic() < end:
            seen = completions(r)
            if ids <= set(seen):
                break
            time.sleep(0.2)
        seen = completions(r)
        missing = ids - set(seen)
        if missing:
            problems.append(f"{len(missing)} job(s) not in the completions "
                            f"stream, e.g. {sorted(missing)[:3]}")
        # At least once (a pipeline cut by the restart is sent again), each
        # entry complete.
        for jid in ids & set(seen):
            for e in seen[jid]:
                if (e.get("type") != "JobCompleted" or e.get("owner") != "demo"
                        or not e.get("key", "").endswith(CLIP)
                        or not e.get("version")
                        or int(e.get("ended_at", "0")) <= 0):
                    problems.append(f"job {jid}: completion entry {e}")
        again = sum(len(v) - 1 for k, v in seen.items() if k in ids)
        print(f"  completions: {len(ids & set(seen))} jobs, {again} sent "
              f"again")
        m = c.metrics()
        published = h.metric_value(m, "vidflow_redis_operations_total",
                                   op="published")
        acked = h.metric_value(m, "vidflow_redis_operations_total", op="acked")
        print(f"  redis: published {published}, acked {acked}")
        self.assertGreaterEqual(published, JOBS)
        server.stop()
        r.stop()
        self.assertFalse(problems, "\n".join(problems[:40]))

    def test_2_redis_away_for_ten_seconds(self):
        r = Redis()
        server = h.Server(h.binary, extra_args=redis_args(r))
        c = server.client()
        # A job whose object exists, for the webhook during the outage.
        before = upload_one(c, 0)
        self.assertEqual(before["status"], 200)
        c.wait_status(before["job"]["job_id"], "SUCCEEDED", deadline_s=60)
        r.stop()
        body = h.minio_event(before["job"]["s3_bucket"],
                             before["job"]["s3_key"], before["version"],
                             before["etag"], before["size"])
        during = None
        end = time.monotonic() + 10
        answers = {}
        while time.monotonic() < end:
            t0 = time.monotonic()
            res = c.webhook(body)
            took = time.monotonic() - t0
            answers[res.status] = answers.get(res.status, 0) + 1
            self.assertEqual(res.status, 503, res)
            self.assertIn("retry-after", {k.lower() for k in res.headers},
                          res.headers)
            self.assertEqual(res.json()["code"], "storage_unavailable", res.text)
            # Answered, not hung (a bound far above the reconnect wait).
            self.assertLess(took, 10, "webhook hung while redis was away")
            self.assertEqual(c.call("GET", "/healthz").status, 200)
            if during is None:
                during = upload_one(c, 1)
                # The store took the bytes but could not announce them.
                self.assertEqual(during["status"], 503, during)
            time.sleep(0.5)
        print(f"  webhook while redis was away: {answers}")
        r = r.restarted()
        # Back by itself: the webhook is taken, the upload of the outage
        # is announced again and processed.
        end = time.monotonic() + 30
        while c.webhook(body).status != 200:
            self.assertLess(time.monotonic(), end, "webhook never recovered")
            time.sleep(0.2)
        job = c.wait_status(during["job"]["job_id"], h.TERMINAL,
                            deadline_s=90)
        self.assertEqual(job["status"], "SUCCEEDED", job)
        server.stop()
        r.stop()

    def test_3_coordinator_killed_while_ingestion_nodes_take_events(self):
        # The reference design: uploads go to an S3 server (s3rver) whose
        # bucket notifications reach an ingestion node; the coordinator
        # learns of an upload only through the stream.
        from e2e_s3rver import start_s3rver, ACCESS_KEY, SECRET_KEY
        r = Redis()
        ingest = [Ingest(r), Ingest(r)]
        # An ingestion node takes webhooks only.
        res = ingest[1].client().call("POST", "/jobs", {})
        self.assertEqual(res.status, 404, res)
        self.assertEqual(ingest[1].client().call("GET", "/readyz").status, 200)
        s3_port = h.free_port()
        s3 = start_s3rver(s3_port, ingest[0].base + "/minio/webhook")
        endpoint = f"http://127.0.0.1:{s3_port}"
        s3_args = ["--store-mode", "s3", "--store-endpoint", endpoint,
                   "--public-url", endpoint, "--bucket", "uploads",
                   "--region", "us-east-1", "--access-key", ACCESS_KEY,
                   "--secret-key", SECRET_KEY]
        # A sleep step keeps the jobs running long enough to be cut off.
        slow = ["--pipeline", "sleep,probe,summarize", "--sleep-ms", "100"]
        args = redis_args(r) + s3_args + slow
        data_dir = tempfile.mkdtemp(prefix="data-", dir=h.scratch_dir())
        server = h.Server(h.binary, extra_args=args, data_dir=data_dir)
        ports = (server.http_port, server.store_port)
        c = server.client()
        n = JOBS
        data = h.read_bytes(cl.media(CLIP))
        jobs = [c.create_job(f"s3 {i:03d} {CLIP}", cl.content_type(CLIP))
                for i in range(n)]

        def put(job):
            res = h.upload(job["upload_url"], data, cl.content_type(CLIP))
            self.assertEqual(res.status, 200, res)
            return {"job": job, "size": len(data),
                    "etag": (res.headers.get("etag") or "").strip('"')}

        # The first half while the coordinator runs.
        half = n // 2
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            first = list(pool.map(put, jobs[:half]))
        end = time.monotonic() + 60
        while any(c.get_job(u["job"]["job_id"])["status"] == "AWAITING_UPLOAD"
                  for u in first):
            self.assertLess(time.monotonic(), end, "uploads never taken")
            time.sleep(0.1)
        running = [u for u in first
                   if c.get_job(u["job"]["job_id"])["status"] not in h.TERMINAL]
        self.assertTrue(running, "every job ended before the kill")
        # kill -9 while they are being processed.
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
        # The second half while it is away: s3rver → ingestion node →
        # stream, nothing else.
        before = int(r.cli("XLEN", "vidflow:events").strip())
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            second = list(pool.map(put, jobs[half:]))
        end = time.monotonic() + 60
        while int(r.cli("XLEN", "vidflow:events").strip()) < before + len(second):
            self.assertLess(time.monotonic(), end,
                            "s3rver's events did not reach the stream")
            time.sleep(0.1)
        # Every object's event again through the other ingestion node;
        # then the first one is killed (-9).
        ups = first + second
        for u in ups:
            body = h.minio_event("uploads", u["job"]["s3_key"], None,
                                 u["etag"], u["size"])
            res = ingest[1].client().webhook(body)
            self.assertEqual(res.status, 200, res)
        os.kill(ingest[0].proc.pid, signal.SIGKILL)
        ingest[0].proc.wait()
        self.assertGreaterEqual(int(r.cli("XLEN", "vidflow:events").strip()),
                                before + 2 * len(second) + len(first))
        # Back on the same data: it catches up from the stream.
        server = h.Server(h.binary, extra_args=args, data_dir=data_dir,
                          http_port=ports[0], store_port=ports[1])
        c = server.client()
        problems = []
        print(f"  {len(running)} of {half} jobs were running at the kill; "
              f"{len(second)} uploaded while the coordinator was away")
        check_jobs(self, c, ups, problems, deadline_s=180)
        end = time.monotonic() + 30
        while pending(r) != 0 and time.monotonic() < end:
            time.sleep(0.2)
        self.assertEqual(pending(r), 0)
        server.stop()
        ingest[1].stop()
        s3.stop()
        r.stop()
        self.assertFalse(problems, "\n".join(problems[:40]))

if __name__ == "__main__":
    h.main(__doc__)
