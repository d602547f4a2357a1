#!/usr/bin/python3
"""End-to-end in Redis mode: object events through a Redis stream.

    /usr/bin/python3 tests/integration/e2e_redis.py --binary build/vidflow

A real `redis-server` (Debian's, AOF on, `appendfsync always`) on a free
loopback port; vidflow with `--events-bus redis --idempotency-backend
redis`: the built-in store and the MinIO webhook publish to the events
stream, the coordinator consumes it through its consumer group and
acknowledges after the orchestrator recorded each event.

- 300 jobs uploaded through the built-in store, each object's event also
  delivered through the MinIO-shaped webhook; `redis-server` is restarted
  in the middle of the uploads. Every job SUCCEEDED, its ledger holds one ok
  probe and one ok summarize for its object version, nothing stays pending
  in the group, and each job is in the completions stream once.
- Redis stopped for 10 s: the webhook and uploads answer 503 with
  Retry-After (nothing hangs, /healthz stays 200); after Redis is back the
  upload taken during the outage is processed by itself.
- kill -9 of the coordinator in the middle of a run while two ingestion
  nodes (`serve --role ingest`) keep taking webhooks into the stream; one
  of them killed (-9) as well: every event they answered 200 for is in the
  stream; the coordinator, restarted on the same data, catches up; every
  job SUCCEEDED, each step recorded once.
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
        end = time.monotonic() + 30
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError("ingestion node exited:\n"
                                     + self.log_tail())
            try:
                if h.request("GET", self.base + "/healthz",
                             timeout=2).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("ingestion node not healthy:\n" + self.log_tail())

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
    """job id → how often it is in the completions stream (and its types)."""
    lines = r.cli("XRANGE", "vidflow:completions", "-", "+").split("\n")
    seen = {}
    for i in range(len(lines) - 1):
        if lines[i] == "job_id":
            seen.setdefault(lines[i + 1], 0)
            seen[lines[i + 1]] += 1
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
        for u in ups:
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
        self.assertEqual(hook_status, {200: statuses.get(200, 0)})
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
        twice = {k: v for k, v in seen.items() if k in ids and v != 1}
        if missing:
            problems.append(f"{len(missing)} job(s) not in the completions "
                            f"stream, e.g. {sorted(missing)[:3]}")
        if twice:
            problems.append(f"jobs in the completions stream more than "
                            f"once: {list(twice.items())[:3]}")
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

    def test_3_coordinator_killed_while_events_keep_coming(self):
        r = Redis()
        data_dir = tempfile.mkdtemp(prefix="data-", dir=h.scratch_dir())
        # A sleep step keeps the jobs running long enough to be cut off.
        slow = ["--pipeline", "sleep,probe,summarize", "--sleep-ms", "300"]
        server = h.Server(h.binary, extra_args=redis_args(r) + slow,
                          data_dir=data_dir)
        ports = (server.http_port, server.store_port)
        c = server.client()
        ingest = [Ingest(r), Ingest(r)]
        # An ingestion node takes webhooks only.
        res = ingest[1].client(login=False).call("POST", "/jobs", {})
        self.assertEqual(res.status, 404, res)
        self.assertEqual(
            ingest[1].client(login=False).call("GET", "/readyz").status, 200)
        n = max(20, JOBS // 5)
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            ups = list(pool.map(lambda i: upload_one(c, i), range(n)))
        self.assertEqual({u["status"] for u in ups}, {200})
        # kill -9 while the jobs are being processed.
        running = [u for u in ups
                   if c.get_job(u["job"]["job_id"])["status"] not in h.TERMINAL]
        self.assertTrue(running, "every job ended before the kill")
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
        # Events keep arriving while the coordinator is away: each
        # object's event again through the webhooks of two ingestion nodes,
        # in turn; then one ingestion node is killed (-9) too.
        before = int(r.cli("XLEN", "vidflow:events").strip())
        for i, u in enumerate(ups):
            body = h.minio_event(u["job"]["s3_bucket"], u["job"]["s3_key"],
                                 u["version"], u["etag"], u["size"])
            res = ingest[i % 2].client(login=False).webhook(body)
            self.assertEqual(res.status, 200, res)
        os.kill(ingest[0].proc.pid, signal.SIGKILL)
        ingest[0].proc.wait()
        # Every event an ingestion node answered 200 for is in the stream.
        self.assertEqual(int(r.cli("XLEN", "vidflow:events").strip()),
                         before + len(ups))
        server = h.Server(h.binary, extra_args=redis_args(r) + slow,
                          data_dir=data_dir, http_port=ports[0],
                          store_port=ports[1])
        c = server.client()
        problems = []
        print(f"  {len(running)} of {n} jobs were running at the kill")
        check_jobs(self, c, ups, problems, deadline_s=180)
        end = time.monotonic() + 30
        while pending(r) != 0 and time.monotonic() < end:
            time.sleep(0.2)
        self.assertEqual(pending(r), 0)
        server.stop()
        ingest[1].stop()
        r.stop()
        self.assertFalse(problems, "\n".join(problems[:40]))


if __name__ == "__main__":
    h.main(__doc__)
