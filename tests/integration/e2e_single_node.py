#!/usr/bin/python3
"""End-to-end: one `vidflow serve` node, driven over HTTP with real media.

    /usr/bin/python3 tests/integration/e2e_single_node.py --binary build/vidflow
    VIDFLOW_BINARY=build/vidflow /usr/bin/python3 tests/integration/e2e_single_node.py
    ... e2e_single_node.py SingleNode.test_bad_input   (one test)

Each test class starts its own server (free ports, temporary data dir,
config/vidflow.conf). Deadlines are correctness bounds, not performance
assertions. On failure the server's log tail is printed.
"""

import datetime
import json
import os
import signal
import threading
import time
import unittest
import sys
import uuid

sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402

# (clip, content type, name the client gives it)
MEDIA = [
    ("h264_aac.mp4", "video/mp4", "clip one.mp4"),
    ("h264_aac_320.mp4", "video/mp4", "clip-two.mp4"),
    ("h264_only.mp4", "video/mp4", "silent_bars.mp4"),
    ("vp9_opus.webm", "video/webm", "web clip.webm"),
    ("audio_only.m4a", "audio/mp4", "voice.m4a"),
]
NOT_MEDIA = ("random.bin", "video/mp4", "not-a-video.mp4")

EVENT_OUTCOMES = ("accepted", "duplicate", "ignored", "rejected")


def parse_iso(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def events(metrics_text, outcome):
    """vidflow_object_events_total for `outcome`, summed over sources."""
    return h.metric_value(metrics_text, "vidflow_object_events_total",
                          outcome=outcome)


class Base(unittest.TestCase):
    server_args = ()

    @classmethod
    def setUpClass(cls):
        cls.server = h.Server(h.binary, extra_args=cls.server_args)
        cls.c = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    # --- helpers shared by the tests ---

    def assert_error(self, resp, statuses, what):
        """`resp` is an error with one of `statuses` and the JSON error body."""
        if isinstance(statuses, int):
            statuses = (statuses,)
        self.assertIn(resp.status, statuses,
                      f"{what}: expected HTTP {statuses}, got {resp!r}")
        body = resp.json()
        self.assertIsInstance(body, dict, f"{what}: error body {resp!r}")
        self.assertIsInstance(body.get("detail"), str,
                              f"{what}: no 'detail' string in {body}")
        self.assertTrue(body["detail"], f"{what}: empty detail in {body}")
        self.assertIsInstance(body.get("code"), str,
                              f"{what}: no 'code' string in {body}")

    def create_and_upload(self, path, content_type, filename):
        """POST /jobs + PUT; checks both answers; returns what it learned."""
        job = self.c.create_job(filename, content_type)
        jid = job["job_id"]
        self.assertRegex(jid, h.UUID4)
        self.assertEqual(job["s3_key"], f"uploads/{jid}/{filename}", job)
        self.assertIsInstance(job["s3_bucket"], str)
        self.assertTrue(job["s3_bucket"])
        self.assertIsInstance(job["expires_in"], int)
        self.assertGreater(job["expires_in"], 0)
        self.assertTrue(job["upload_url"].startswith(
            f"http://127.0.0.1:{self.server.store_port}/"), job["upload_url"])
        self.assertIn("X-Amz-Signature=", job["upload_url"])
        before = self.c.get_job(jid)
        self.assertEqual(before["status"], "AWAITING_UPLOAD", before)
        data = h.read_bytes(path)
        put = h.upload(job["upload_url"], data, content_type)
        self.assertEqual(put.status, 200, f"PUT {filename}: {put!r}")
        self.assertTrue(put.headers.get("etag"), f"no ETag: {put.headers}")
        self.assertTrue(put.headers.get("x-amz-version-id"),
                        f"no x-amz-version-id: {put.headers}")
        return {"job": job, "path": path, "size": len(data),
                "content_type": content_type, "filename": filename,
                "etag": put.headers["etag"].strip('"'),
                "version": put.headers["x-amz-version-id"]}

    def check_job_shape(self, job, up):
        for field in h.JOB_FIELDS:
            self.assertIn(field, job, f"GET /jobs/{{id}} lacks {field}: {job}")
        self.assertRegex(job["created_at"], h.ISO_UTC)
        self.assertRegex(job["updated_at"], h.ISO_UTC)
        self.assertLessEqual(parse_iso(job["created_at"]),
                             parse_iso(job["updated_at"]))
        self.assertEqual(job["job_id"], up["job"]["job_id"])
        self.assertEqual(job["s3_bucket"], up["job"]["s3_bucket"])
        self.assertEqual(job["s3_key"], up["job"]["s3_key"])
        self.assertEqual(job["filename"], up["filename"])
        self.assertEqual(job["content_type"], up["content_type"])
        obj = job["object"]
        self.assertIsInstance(obj, dict, f"object missing after upload: {job}")
        self.assertEqual(int(obj["size"]), up["size"], job)
        self.assertEqual(obj["version"], up["version"], job)
        self.assertEqual(obj["etag"].strip('"'), up["etag"], job)

    def check_result(self, up):
        jid = up["job"]["job_id"]
        r = self.c.result(jid)
        self.assertEqual(r.status, 200, f"GET /jobs/{jid}/result: {r!r}")
        res = r.json()
        self.assertEqual(res["job_id"], jid)
        self.assertIn("created_at", res)
        self.assertRegex(res["created_at"], h.ISO_UTC)
        summary = res.get("summary")
        self.assertTrue(summary, f"empty summary for {up['filename']}: {res}")
        meta = res["metadata"]
        want = h.ffprobe(up["path"])
        fmt, wfmt = meta["format"], want["format"]
        what = f"{up['filename']} ({os.path.basename(up['path'])})"
        for key in ("filename", "format_name", "duration", "size",
                    "bit_rate", "nb_streams"):
            self.assertIn(key, fmt, f"{what}: format lacks {key}: {fmt}")
        self.assertEqual(fmt["format_name"], wfmt["format_name"], what)
        self.assertAlmostEqual(float(fmt["duration"]),
                               float(wfmt["duration"]), delta=0.02,
                               msg=f"{what}: duration")
        self.assertEqual(int(fmt["size"]), int(wfmt["size"]), what)
        self.assertEqual(int(fmt["nb_streams"]), int(wfmt["nb_streams"]), what)
        streams = meta["streams"]
        self.assertEqual(len(streams), len(want["streams"]),
                         f"{what}: streams {streams}")
        for got, exp in zip(streams, want["streams"]):
            self.assertEqual(int(got["index"]), exp["index"], what)
            self.assertEqual(got["codec_type"], exp["codec_type"], what)
            self.assertEqual(got["codec_name"], exp["codec_name"], what)
            if exp["codec_type"] == "video":
                self.assertEqual(int(got["width"]), exp["width"], what)
                self.assertEqual(int(got["height"]), exp["height"], what)
        return res


class SingleNode(Base):
    """The whole pipeline on one node with the built-in object store."""

    def test_healthz(self):
        r = h.request("GET", self.server.base + "/healthz")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"status": "ok"})

    def test_pipeline_six_files_concurrently(self):
        """login → create → PUT → wait → result, for six files at once."""
        inputs = [(h.clip(c), t, n) for c, t, n in MEDIA]
        inputs.append((h.clip(NOT_MEDIA[0]), NOT_MEDIA[1], NOT_MEDIA[2]))
        m0 = self.c.metrics()

        ups = h.run_parallel(lambda a: self.create_and_upload(*a), inputs)
        jobs = h.run_parallel(
            lambda up: self.c.wait_status(up["job"]["job_id"], h.TERMINAL,
                                          deadline_s=120), ups)
        m1 = self.c.metrics()

        for up, job in zip(ups[:-1], jobs[:-1]):
            with self.subTest(file=up["filename"]):
                self.assertEqual(job["status"], "SUCCEEDED", job)
                self.check_job_shape(job, up)
                self.assertEqual(job["attempts"], 1, job)
                self.assertFalse(job["error_code"], job)
                self.check_result(up)

        bad_up, bad = ups[-1], jobs[-1]
        with self.subTest(file=bad_up["filename"]):
            self.assertEqual(bad["status"], "FAILED", bad)
            self.check_job_shape(bad, bad_up)
            self.assertIn(bad["error_code"], ("bad_media", "truncated"), bad)
            self.assertIsInstance(bad["error_message"], str)
            self.assertGreater(len(bad["error_message"]), 5, bad)
            self.assert_error(self.c.result(bad["job_id"]), 409,
                              "result of a FAILED job")

        # History lists all six, newest first.
        items = self.c.history(200)
        ids = [it["job_id"] for it in items]
        for up in ups:
            self.assertIn(up["job"]["job_id"], ids)
        times = [parse_iso(it["created_at"]) for it in items]
        self.assertEqual(times, sorted(times, reverse=True),
                         "history is not newest first")
        by_id = {it["job_id"]: it for it in items}
        for up, job in zip(ups, jobs):
            self.assertEqual(by_id[job["job_id"]]["status"], job["status"])

        # Metrics reflect the six jobs and six accepted object events. All
        # checks run, so one wrong metric does not hide another.
        problems = []

        def check(ok, what):
            if not ok:
                problems.append(what)

        for fam in ("vidflow_object_events_total",
                    "vidflow_http_requests_total", "vidflow_jobs"):
            check(fam in h.metric_families(m1), f"metric family {fam} missing")
        delta = events(m1, "accepted") - events(m0, "accepted")
        check(delta == 6, f"vidflow_object_events_total{{outcome=accepted}} "
              f"(all sources) rose by {delta:g} for six uploads, expected 6")
        delta = events(m1, "duplicate") - events(m0, "duplicate")
        check(delta == 0, f"duplicate events rose by {delta:g}, expected 0")
        for status, want in (("SUCCEEDED", 5), ("FAILED", 1)):
            delta = (h.metric_value(m1, "vidflow_jobs", status=status)
                     - h.metric_value(m0, "vidflow_jobs", status=status))
            check(delta == want, f"vidflow_jobs{{status={status}}} rose by "
                  f"{delta:g}, expected {want}")
        check(h.metric_value(m1, "vidflow_http_requests_total")
              > h.metric_value(m0, "vidflow_http_requests_total"),
              "vidflow_http_requests_total did not rise")
        self.assertFalse(problems, "; ".join(problems))

    def test_metrics_format(self):
        r = h.request("GET", self.server.base + "/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers.get("content-type", "").startswith(
            "text/plain"), r.headers)
        samples = h.parse_metrics(r.text)
        for name, labels, _ in samples:
            if name == "vidflow_object_events_total":
                self.assertIn(labels.get("outcome"), EVENT_OUTCOMES, labels)
                self.assertIn("source", labels, labels)

    def test_history_newest_first_and_limits(self):
        made = []
        for i in range(3):
            if i:
                time.sleep(1.1)  # whatever created_at's resolution is
            made.append(self.c.create_job(f"order-{i}.mp4")["job_id"])
        items = self.c.history(3)
        self.assertEqual([it["job_id"] for it in items], made[::-1])
        for it in items:
            self.assertEqual(it["status"], "AWAITING_UPLOAD")
            for field in ("job_id", "status", "created_at", "updated_at",
                          "s3_bucket", "s3_key"):
                self.assertIn(field, it)
        self.assertEqual(len(self.c.history(1)), 1)
        for bad in ("0", "201", "-1", "abc", ""):
            with self.subTest(limit=bad):
                self.assert_error(self.c.call("GET", f"/history?limit={bad}"),
                                  422, f"/history?limit={bad}")

    def test_duplicate_delivery_after_success(self):
        """The same object event three more times changes nothing."""
        up = self.create_and_upload(h.clip("h264_aac.mp4"), "video/mp4",
                                    "dup clip.mp4")
        jid = up["job"]["job_id"]
        job0 = self.c.wait_status(jid, "SUCCEEDED")
        res0 = self.check_result(up)
        m0 = self.c.metrics()
        body = h.minio_event(up["job"]["s3_bucket"], up["job"]["s3_key"],
                             up["version"], up["etag"], up["size"])
        for i in range(3):
            r = self.c.webhook(body)
            self.assertEqual(r.status, 200, f"delivery {i}: {r!r}")
            got = r.json()
            # The answer never tells what became of a record (it would tell
            # whether a job exists); the metrics below do.
            self.assertEqual(got, {"received": 1}, f"delivery {i}: {got}")
        m1 = self.c.metrics()
        self.assertEqual(events(m1, "duplicate") - events(m0, "duplicate"), 3)
        self.assertEqual(events(m1, "accepted") - events(m0, "accepted"), 0)
        time.sleep(1.0)  # give a wrongly started second run time to show
        job1 = self.c.get_job(jid)
        self.assertEqual(job1["status"], "SUCCEEDED", job1)
        self.assertEqual(job1["attempts"], job0["attempts"], job1)
        self.assertEqual(job1["updated_at"], job0["updated_at"], job1)
        self.assertEqual(job1["object"], job0["object"], job1)
        res1 = self.c.result(jid).json()
        self.assertEqual(res1, res0)

    def test_concurrent_webhook_race(self):
        """Built-in store event + 3 concurrent webhooks: one accepted."""
        m0 = self.c.metrics()
        up = self.create_and_upload(h.clip("h264_only.mp4"), "video/mp4",
                                    "race + clip.mp4")
        body = h.minio_event(up["job"]["s3_bucket"], up["job"]["s3_key"],
                             up["version"], up["etag"], up["size"])
        barrier = threading.Barrier(3)

        def deliver(_):
            barrier.wait()
            return self.c.webhook(body)

        answers = h.run_parallel(deliver, range(3), max_workers=3)
        for r in answers:
            self.assertEqual(r.status, 200, r)
        bodies = [r.json() for r in answers]
        self.assertEqual(bodies, [{"received": 1}] * 3, bodies)
        job = self.c.wait_status(up["job"]["job_id"], "SUCCEEDED")
        time.sleep(1.0)
        job = self.c.get_job(up["job"]["job_id"])
        self.assertEqual(job["status"], "SUCCEEDED", job)
        self.assertEqual(job["attempts"], 1, job)
        m1 = self.c.metrics()
        self.assertEqual(events(m1, "accepted") - events(m0, "accepted"), 1,
                         "exactly one of four deliveries accepted")
        self.assertEqual(events(m1, "duplicate") - events(m0, "duplicate"), 3)
        self.check_result(up)

    def test_get_with_wait_answers_when_the_job_ends(self):
        c = self.c
        job = c.create_job("waited.mp4", "video/mp4")
        jid = job["job_id"]
        # Asked before the upload: one request, answered by the job's end.
        held = h.call_in_background(c, "GET", f"/jobs/{jid}?wait=30")
        time.sleep(0.3)  # Ordering only: the request is held first.
        put = h.upload(job["upload_url"],
                       h.read_bytes(h.clip("h264_aac.mp4")), "video/mp4")
        self.assertEqual(put.status, 200, put)
        r, took = held()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["status"], "SUCCEEDED", r.json())
        self.assertEqual(r.json()["progress"]["percent"], 100, r.json())
        # Woken by the end, not by its 30 s running out (a functional
        # check with a wide margin, not a speed figure).
        self.assertLess(took, 25, "the wait was not ended by the job")
        # An ended job: at once, as a plain read.
        self.assertEqual(c.call("GET", f"/jobs/{jid}?wait=30").json(),
                         c.get_job(jid))
        # A job that does not end: held for its wait, then as it stands.
        idle = c.create_job("never-uploaded.mp4", "video/mp4")
        t = time.monotonic()
        r = c.call("GET", f"/jobs/{idle['job_id']}?wait=1")
        self.assertGreaterEqual(time.monotonic() - t, 0.9)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["status"], "AWAITING_UPLOAD", r.json())
        # Hostile values: 422 with the error body; the job is unchanged.
        for bad in ("31", "-1", "1.5", "abc", "", "9" * 40, "%00"):
            with self.subTest(wait=bad):
                self.assert_error(
                    c.call("GET", f"/jobs/{idle['job_id']}?wait={bad}"),
                    422, f"GET /jobs/{{id}}?wait={bad!r}")
        self.assertEqual(c.get_job(idle["job_id"])["status"],
                         "AWAITING_UPLOAD")
        self.assert_error(c.call("GET", f"/jobs/{uuid.uuid4()}?wait=5"), 404,
                          "GET ?wait= of an unknown job")

    def test_bad_input(self):
        c, base = self.c, self.server.base
        # login
        self.assert_error(h.request("POST", base + "/auth/login",
                                    {"username": "demo", "password": "nope"}),
                          401, "login with a wrong password")
        self.assert_error(h.request("POST", base + "/auth/login",
                                    {"username": "nobody", "password": "x"}),
                          401, "login as an unknown user")
        self.assert_error(h.request("POST", base + "/auth/login", "{not json",
                                    {"Content-Type": "application/json"}),
                          400, "login with malformed JSON")
        # POST /jobs
        self.assert_error(c.call("POST", "/jobs", {"filename": "a.mp4"},
                                 token=""), 401, "POST /jobs without token")
        self.assert_error(c.call("POST", "/jobs", {"filename": "a.mp4"},
                                 token="not.a.jwt"), 401,
                          "POST /jobs with a garbage token")
        head, payload, sig = c.token.split(".")
        forged = f"{head}.{payload}.{sig[:-2]}{'AA' if sig[-2:] != 'AA' else 'BB'}"
        self.assert_error(c.call("POST", "/jobs", {"filename": "a.mp4"},
                                 token=forged), 401,
                          "POST /jobs with a bad signature")
        self.assert_error(c.call("POST", "/jobs", "{\"filename\": ",
                                 headers={"Content-Type": "application/json"}),
                          400, "POST /jobs with malformed JSON")
        self.assert_error(c.call("POST", "/jobs", {"content_type": "video/mp4"}),
                          422, "POST /jobs without filename")
        for bad in ("../x", "a/b", "a\x01b", "", "..", 123, None):
            with self.subTest(filename=bad):
                self.assert_error(c.call("POST", "/jobs", {"filename": bad}),
                                  422, f"POST /jobs filename={bad!r}")
        # GET /jobs
        unknown = str(uuid.uuid4())
        self.assert_error(c.call("GET", f"/jobs/{unknown}"), 404,
                          "GET unknown job")
        self.assert_error(c.call("GET", f"/jobs/{unknown}/result"), 404,
                          "GET result of unknown job")
        job = c.create_job("pending.mp4", "video/mp4")
        self.assert_error(c.call("GET", f"/jobs/{job['job_id']}", token=""),
                          401, "GET /jobs/{id} without token")
        self.assert_error(c.result(job["job_id"]), 409,
                          "result before the job is done")
        self.assert_error(c.call("GET", "/no/such/path"), 404, "unknown path")
        # tampered upload URL: refused by the store with an S3 XML error
        data = h.read_bytes(h.clip("h264_aac.mp4"))
        r = h.upload(h.tamper_url(job["upload_url"]), data)
        self.assertEqual(r.status, 403, f"PUT with tampered signature: {r!r}")
        self.assertIn("<Error>", r.text)
        self.assertIn("<Code>", r.text)
        other_key = job["upload_url"].replace("pending.mp4", "other.mp4", 1)
        r = h.upload(other_key, data)
        self.assertEqual(r.status, 403, f"PUT to another key: {r!r}")
        self.assertEqual(c.get_job(job["job_id"])["status"], "AWAITING_UPLOAD")
        # webhook
        for bad, what in (("not json", "non-JSON"),
                          ({"Records": "nope"}, "Records not a list"),
                          ([1, 2], "a JSON array"),
                          ({"EventName": "s3:ObjectCreated:Put",
                            "Records": [{"s3": {"bucket": {"name": 5}}}]},
                           "record without object")):
            with self.subTest(webhook=what):
                self.assert_error(c.webhook(bad), (400, 422),
                                  f"webhook with {what}")
        m0 = c.metrics()
        r = c.webhook(h.minio_event(job["s3_bucket"],
                                    f"uploads/{uuid.uuid4()}/x.mp4",
                                    "v-unknown", "abc", 10))
        self.assertEqual(r.status, 200, f"webhook for unknown job: {r!r}")
        self.assertEqual(r.json(), {"received": 1}, r)
        m1 = c.metrics()
        self.assertEqual(
            (events(m1, "ignored") + events(m1, "rejected"))
            - (events(m0, "ignored") + events(m0, "rejected")), 1,
            "webhook for an unknown job counted as ignored/rejected")
        self.assertEqual(events(m1, "accepted"), events(m0, "accepted"))


class UploadLimits(Base):
    """The upload size limit; URLs live long enough for a loaded machine."""

    server_args = ("--presign-expires", "600", "--max-upload-bytes", "65536")

    def test_too_big_is_413(self):
        job = self.c.create_job("big.mp4", "video/mp4")
        r = h.upload(job["upload_url"], os.urandom(200 * 1024))
        self.assertEqual(r.status, 413, f"PUT 200 KiB with a 64 KiB limit: {r!r}")
        self.assertEqual(self.c.get_job(job["job_id"])["status"],
                         "AWAITING_UPLOAD")

    def test_within_limit_is_accepted(self):
        job = self.c.create_job("small.mp4", "video/mp4")
        self.assertEqual(job["expires_in"], 600, job)
        r = h.upload(job["upload_url"], h.read_bytes(h.clip("h264_aac.mp4")))
        self.assertEqual(r.status, 200, r)
        self.c.wait_status(job["job_id"], "SUCCEEDED")


class UrlExpiry(Base):
    """Presigned URL expiry, on a node of its own: its 2 s lifetime is the
    subject here and must not expire the URLs of other tests."""

    server_args = ("--presign-expires", "2")

    def test_expired_url_is_403(self):
        job = self.c.create_job("late.mp4", "video/mp4")
        time.sleep(4)
        r = h.upload(job["upload_url"], h.read_bytes(h.clip("h264_aac.mp4")))
        self.assertEqual(r.status, 403, f"PUT after expiry: {r!r}")
        self.assertIn("<Error>", r.text)


class GracefulStop(unittest.TestCase):
    """SIGTERM/SIGINT stop the node cleanly; jobs survive a restart."""

    def test_sigterm_then_restart_then_sigint(self):
        first = h.Server(h.binary)
        c = first.client()
        job = c.create_job("keep.mp4", "video/mp4")
        r = h.upload(job["upload_url"], h.read_bytes(h.clip("h264_aac.mp4")))
        self.assertEqual(r.status, 200, r)
        done = c.wait_status(job["job_id"], "SUCCEEDED")
        result = c.result(job["job_id"]).json()
        t0 = time.monotonic()
        rc = first.stop(signal.SIGTERM, deadline_s=15)
        self.assertEqual(rc, 0, f"exit code after SIGTERM (None = still "
                         f"running after 15 s); log:\n{first.log_tail()}")
        print(f"\n  SIGTERM → exit in {time.monotonic() - t0:.2f}s", end=" ")

        second = h.Server(h.binary, data_dir=first.data_dir)
        c2 = second.client()
        again = c2.get_job(job["job_id"])
        self.assertEqual(again["status"], "SUCCEEDED", again)
        self.assertEqual(again["attempts"], done["attempts"])
        self.assertEqual(c2.result(job["job_id"]).json(), result)
        rc = second.stop(signal.SIGINT, deadline_s=15)
        self.assertEqual(rc, 0, f"exit code after SIGINT; log:\n"
                         f"{second.log_tail()}")

    def test_sigterm_mid_flight_then_resume(self):
        """Jobs uploaded just before SIGTERM finish after a restart
        (the orchestrator rebuilds its state from the job store)."""
        first = h.Server(h.binary)
        c = first.client()
        data = h.read_bytes(h.clip("h264_aac_320.mp4"))
        ids = []
        for i in range(4):
            job = c.create_job(f"inflight-{i}.mp4", "video/mp4")
            r = h.upload(job["upload_url"], data, "video/mp4")
            self.assertEqual(r.status, 200, r)
            ids.append(job["job_id"])
        rc = first.stop(signal.SIGTERM, deadline_s=15)
        self.assertEqual(rc, 0, f"exit code after SIGTERM with work in "
                         f"flight; log:\n{first.log_tail()}")
        second = h.Server(h.binary, data_dir=first.data_dir)
        c2 = second.client()
        for jid in ids:
            job = c2.wait_status(jid, h.TERMINAL, deadline_s=60)
            self.assertEqual(job["status"], "SUCCEEDED", job)
            self.assertEqual(c2.result(jid).status, 200)
        self.assertEqual(second.stop(), 0)


if __name__ == "__main__":
    h.main(__doc__)
