"""Security review, issue 8 (findings 1, 2, 5, 9, 13, 14): forged object
events, one upload per job, history crowding, file modes and pipeline
checks, against the real `vidflow` binary on 127.0.0.1.

    /usr/bin/python3 tests/integration/e2e_sec_events.py --binary build/vidflow

Each test is an attack the review reproduced on the landed code; each fails
there and passes with the fixes. The S3-mode check (an event believed only
for an object the server holds with its size and ETag) runs against s3rver
in e2e_s3rver.py.
"""

import hashlib
import hmac
import json
import os
import stat
import subprocess
import time
import uuid

import vfharness as h

USERS = "demo:demo:user,eve:evepass1:user,admin:admin:admin"
# Objects live at <data>/objects/<bucket>/<key> (object_paths.cpp).


def object_path(server, job):
    return os.path.join(server.data_dir, "objects", job["s3_bucket"],
                        job["s3_key"])


def events(metrics, outcome):
    return h.metric_value(metrics, "vidflow_object_events_total",
                          source="minio", outcome=outcome)


class Base(h.unittest.TestCase):
    server = None
    extra = ()

    @classmethod
    def setUpClass(cls):
        cls.server = h.Server(h.binary, extra_args=("--users", USERS,
                                                    *cls.extra))
        cls.c = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        if cls.server is not None:
            rc = cls.server.stop()
            if rc != 0:
                raise AssertionError(f"vidflow exited with {rc} on SIGTERM")

    def finished_job(self, name="mine.mp4"):
        """Creates, uploads and waits for a job; returns (job, upload, data)."""
        job = self.c.create_job(name, "video/mp4")
        data = h.read_bytes(h.clip("h264_aac.mp4"))
        r = h.upload(job["upload_url"], data, "video/mp4")
        self.assertEqual(r.status, 200, r)
        done = self.c.wait_status(job["job_id"], "SUCCEEDED")
        return job, done, data


class ForgedEvents(Base):
    """Finding 1: the webhook takes only authenticated JSON, in bounded
    batches, and never revives a job that is not waiting for its upload."""

    def test_no_credentials_is_401_and_changes_nothing(self):
        job, done, _ = self.finished_job()
        body = h.minio_event("uploads", job["s3_key"], "forged-1", "e", 1)
        for secret in (None, "wrong-secret-wrong-secret"):
            r = self.c.webhook(body, secret=secret)
            self.assertEqual(r.status, 401, r)
            self.assertEqual(r.json()["code"], "unauthorized", r)
        self.assertEqual(self.c.get_job(job["job_id"]), done)

    def test_only_json_is_taken(self):
        # text/plain and forms need no CORS preflight: a web page in a
        # victim's browser could send them.
        body = json.dumps(h.minio_event("uploads", "uploads/x/y.mp4", "v",
                                        "e", 1))
        for ctype in ("text/plain", "application/x-www-form-urlencoded"):
            r = self.c.webhook(body, headers={"Content-Type": ctype,
                                              "Origin": "http://evil.test"})
            self.assertEqual(r.status, 415, f"{ctype}: {r!r}")

    def test_hmac_signature_is_accepted_and_checked(self):
        body = json.dumps({"Records": []}).encode()
        good = hmac.new(h.WEBHOOK_TOKEN.encode(), body,
                        hashlib.sha256).hexdigest()
        r = self.c.webhook(body, secret=None,
                           headers={"X-Vidflow-Signature": "sha256=" + good})
        self.assertEqual(r.status, 200, r)
        bad = hmac.new(b"guess", body, hashlib.sha256).hexdigest()
        r = self.c.webhook(body, secret=None,
                           headers={"X-Vidflow-Signature": "sha256=" + bad})
        self.assertEqual(r.status, 401, r)

    def test_a_finished_job_is_never_revived(self):
        job, done, data = self.finished_job()
        res0 = self.c.result(job["job_id"]).json()
        m0 = self.c.metrics()
        # A new version of its key, and another file under its id.
        for key, version in ((job["s3_key"], "forged-1"),
                             (f"uploads/{job['job_id']}/nope.mp4", "v9")):
            r = self.c.webhook(h.minio_event("uploads", key, version,
                                             "abc", 1))
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json(), {"received": 1}, r)
        time.sleep(0.5)  # a wrongly started run would show by now
        self.assertEqual(self.c.get_job(job["job_id"]), done)
        self.assertEqual(self.c.result(job["job_id"]).json(), res0)
        m1 = self.c.metrics()
        self.assertEqual(events(m1, "rejected") - events(m0, "rejected"), 2)
        self.assertEqual(events(m1, "accepted"), events(m0, "accepted"))

    def test_the_answer_does_not_tell_whether_a_job_exists(self):
        job, _, _ = self.finished_job()
        waiting = self.c.create_job("waiting.mp4", "video/mp4")
        answers = set()
        for key in (job["s3_key"], f"uploads/{uuid.uuid4()}/x.mp4",
                    "elsewhere/x.mp4"):
            r = self.c.webhook(h.minio_event("uploads", key, "v1", "e", 1))
            answers.add((r.status, r.text))
        self.assertEqual(len(answers), 1, answers)
        self.assertEqual(self.c.get_job(waiting["job_id"])["status"],
                         "AWAITING_UPLOAD")

    def test_records_per_request_are_capped(self):
        waiting = self.c.create_job("flood.mp4", "video/mp4")
        records = [h.minio_event("uploads", waiting["s3_key"], f"f{i}", "e",
                                 1)["Records"][0] for i in range(300)]
        m0 = self.c.metrics()
        r = self.c.webhook({"EventName": "s3:ObjectCreated:Put",
                            "Records": records})
        self.assertEqual(r.status, 413, r)
        self.assertEqual(r.json()["code"], "too_many_records", r)
        m1 = self.c.metrics()
        self.assertEqual(events(m1, "accepted"), events(m0, "accepted"))
        self.assertEqual(self.c.get_job(waiting["job_id"])["status"],
                         "AWAITING_UPLOAD")


class NoWebhookWithoutSecret(Base):
    """Finding 1: with no webhook.token there is no webhook route."""
    extra = ("--webhook-token", "")

    def test_route_does_not_exist(self):
        r = self.c.webhook(h.minio_event("uploads", "uploads/x/y.mp4", "v",
                                         "e", 1), secret=None)
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.json()["code"], "not_found", r)


class OneUploadPerJob(Base):
    """Finding 5: a presigned PUT for a job that no longer waits is refused
    before any byte is stored."""

    def test_put_after_success_is_refused(self):
        job, done, data = self.finished_job()
        path = object_path(self.server, job)
        before = h.read_bytes(path)
        self.assertEqual(before, data)
        r = h.upload(job["upload_url"], b"replacement bytes", "video/mp4")
        self.assertEqual(r.status, 409, r)
        self.assertIn("<Code>OperationAborted</Code>", r.text, r)
        self.assertIn("already has its upload", r.text, r)
        self.assertEqual(h.read_bytes(path), before)
        self.assertEqual(self.c.get_job(job["job_id"]), done)
        partial = os.path.join(self.server.data_dir, "objects", ".partial")
        self.assertEqual(os.listdir(partial) if os.path.isdir(partial)
                         else [], [])

    def test_identical_retry_after_success_is_acknowledged(self):
        # A client whose PUT answer was lost (the node died after the
        # commit) retries the same bytes: the same answer, nothing stored.
        job, done, data = self.finished_job("retried.mp4")
        path = object_path(self.server, job)
        st0 = os.stat(path)
        r = h.upload(job["upload_url"], data, "video/mp4")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("etag", "").strip('"'),
                         done["object"]["etag"].strip('"'), r)
        self.assertEqual(r.headers.get("x-amz-version-id"),
                         done["object"]["version"], r)
        st1 = os.stat(path)
        self.assertEqual((st1.st_ino, st1.st_mtime_ns),
                         (st0.st_ino, st0.st_mtime_ns), "object rewritten")
        self.assertEqual(self.c.get_job(job["job_id"]), done)
        # One byte different: refused.
        r = h.upload(job["upload_url"], data[:-1] + bytes([data[-1] ^ 1]),
                     "video/mp4")
        self.assertEqual(r.status, 409, r)
        self.assertEqual(h.read_bytes(path), data)

    def test_put_after_cancel_is_refused(self):
        job = self.c.create_job("cancelled.mp4", "video/mp4")
        r = self.c.call("POST", f"/jobs/{job['job_id']}/cancel")
        self.assertEqual(r.status, 200, r)
        r = h.upload(job["upload_url"], h.read_bytes(h.clip("h264_aac.mp4")),
                     "video/mp4")
        self.assertEqual(r.status, 409, r)
        self.assertFalse(os.path.exists(object_path(self.server, job)))
        after = self.c.get_job(job["job_id"])
        self.assertEqual(after["status"], "CANCELLED", after)


class HistoryIsPerUser(Base):
    """Finding 9: another user's new jobs do not crowd a user's history."""

    def test_history_not_crowded(self):
        mine = [self.c.create_job(f"mine{i}.mp4")["job_id"] for i in range(2)]
        eve = h.Client(self.server.base)
        eve.login("eve", "evepass1")
        h.run_parallel(lambda i: eve.create_job(f"eve{i}.mp4"), range(201),
                       max_workers=8)
        items = self.c.history(200)
        self.assertEqual([j["job_id"] for j in items][:2], mine[::-1])
        self.assertEqual({j["filename"][:4] for j in items}, {"mine"},
                         "only demo's own jobs")
        self.assertEqual(len(self.c.history(1)), 1)


class FileModes(Base):
    """Finding 13: the data directory and what is in it are the node's
    alone (0700 / 0600), even when started from a shell with umask 022."""

    def test_modes(self):
        job, _, _ = self.finished_job()
        mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)
        self.assertEqual(mode(self.server.data_dir) & 0o077, 0,
                         oct(mode(self.server.data_dir)))
        for p in (os.path.join(self.server.data_dir, "vidflow.db"),
                  object_path(self.server, job)):
            self.assertEqual(mode(p) & 0o077, 0, f"{p}: {oct(mode(p))}")
        objects = os.path.join(self.server.data_dir, "objects")
        for root, dirs, _ in os.walk(objects):
            for d in dirs:
                p = os.path.join(root, d)
                self.assertEqual(mode(p) & 0o077, 0, f"{p}: {oct(mode(p))}")


class StartUpChecks(h.unittest.TestCase):
    """Finding 14: a pipeline whose steps do not fit is refused at start."""

    def test_pipeline_that_cannot_run(self):
        data = os.path.join(h.scratch_dir(), "pipeline-data")
        r = subprocess.run(
            [h.binary, "serve", "--config", h.config, "--data-dir", data,
             "--http-port", "0", "--store-port", "0",
             "--pipeline", "probe,sleep,summarize"],
            capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2, r)
        self.assertIn("pipeline.steps", r.stderr)
        self.assertIn("after 'probe'", r.stderr)


if __name__ == "__main__":
    h.main(__doc__)
