#!/usr/bin/python3
"""End-to-end against a real S3 server: vidflow in `store.mode = s3` with
s3rver (npm @20minutes/s3rver@4.0.4, which checks SigV4 presigned requests).

    deploy/install-deps.sh --test        # puts s3rver into build/tools
    /usr/bin/python3 tests/integration/e2e_s3rver.py --binary build/vidflow

s3rver is started through tests/integration/s3rver-launcher.js, which creates
the bucket `uploads` and forwards each object event to vidflow's
/minio/webhook in MinIO's body shape. Missing node or s3rver is a failure,
never a skip.
"""

import collections
import hashlib
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402
import chaoslib as cl  # noqa: E402

S3RVER_MODULE = os.environ.get(
    "VF_S3RVER_MODULE",
    os.path.join(h.REPO, "build", "tools", "node_modules", "@20minutes",
                 "s3rver"))
LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "s3rver-launcher.js")
ACCESS_KEY = SECRET_KEY = "S3RVER"  # s3rver's built-in credentials


def start_s3rver(port, webhook_url, cors_origin=None):
    """s3rver on `port` forwarding its events to `webhook_url`; with
    `cors_origin`, the bucket lets that web origin in (CORS)."""
    node = shutil.which("node")
    problems = []
    if node is None:
        problems.append("node is not installed (apt: nodejs)")
    if not os.path.isfile(os.path.join(S3RVER_MODULE, "package.json")):
        problems.append(f"s3rver is not installed at {S3RVER_MODULE} "
                        "(run deploy/install-deps.sh --test)")
    if not os.path.isfile(LAUNCHER):
        problems.append(f"launcher script missing: {LAUNCHER}")
    if problems:
        raise AssertionError("cannot run the s3rver test: "
                             + "; ".join(problems))
    data = tempfile.mkdtemp(prefix="s3rver-", dir=h.scratch_dir())
    proc = h.Process("s3rver", [node, LAUNCHER, S3RVER_MODULE, str(port),
                                data, webhook_url, h.WEBHOOK_TOKEN],
                     env={"S3RVER_CORS_ORIGIN": cors_origin}
                     if cors_origin else None)
    end = time.monotonic() + 30
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"s3rver exited with {proc.poll()}:\n"
                                 f"{proc.log_tail()}")
        if "ready on" in proc.log_text() and h.wait_port(port, 1):
            return proc
        time.sleep(0.05)
    raise AssertionError(f"s3rver not ready within 30 s:\n{proc.log_tail()}")


class S3rverStore(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s3_port = h.free_port()
        http_port = h.free_port()
        cls.s3rver = start_s3rver(
            cls.s3_port, f"http://127.0.0.1:{http_port}/minio/webhook")
        endpoint = f"http://127.0.0.1:{cls.s3_port}"
        try:
            cls.server = h.Server(
                h.binary, http_port=http_port,
                extra_args=("--store-mode", "s3", "--store-endpoint", endpoint,
                            "--public-url", endpoint, "--bucket", "uploads",
                            "--region", "us-east-1",
                            "--access-key", ACCESS_KEY,
                            "--secret-key", SECRET_KEY))
        except BaseException:
            cls.s3rver.stop()
            raise
        cls.c = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.s3rver.stop()

    def put(self, filename, clip, content_type="video/mp4"):
        job = self.c.create_job(filename, content_type)
        self.assertEqual(job["s3_bucket"], "uploads", job)
        self.assertTrue(job["upload_url"].startswith(
            f"http://127.0.0.1:{self.s3_port}/"), job["upload_url"])
        data = h.read_bytes(h.clip(clip))
        r = h.upload(job["upload_url"], data, content_type)
        self.assertEqual(r.status, 200,
                         f"s3rver refused vidflow's presigned PUT: {r!r}\n"
                         f"URL: {job['upload_url']}")
        return job, r, data

    def test_presigned_put_accepted_and_job_succeeds(self):
        m0 = self.c.metrics()
        job, put, data = self.put("real s3 clip.mp4", "h264_aac.mp4")
        done = self.c.wait_status(job["job_id"], h.TERMINAL, deadline_s=90)
        self.assertEqual(done["status"], "SUCCEEDED",
                         f"worker could not fetch/probe the object from "
                         f"s3rver: {done}")
        self.assertEqual(done["attempts"], 1, done)
        obj = done["object"]
        self.assertIsInstance(obj, dict, done)
        self.assertEqual(int(obj["size"]), len(data), done)
        self.assertEqual(obj["etag"].strip('"'),
                         put.headers.get("etag", "").strip('"'), done)
        r = self.c.result(job["job_id"])
        self.assertEqual(r.status, 200, r)
        res = r.json()
        want = h.ffprobe(h.clip("h264_aac.mp4"))
        fmt = res["metadata"]["format"]
        self.assertEqual(fmt["format_name"], want["format"]["format_name"])
        self.assertAlmostEqual(float(fmt["duration"]),
                               float(want["format"]["duration"]), delta=0.02)
        self.assertEqual(int(fmt["nb_streams"]),
                         int(want["format"]["nb_streams"]))
        self.assertEqual(
            [s["codec_name"] for s in res["metadata"]["streams"]],
            [s["codec_name"] for s in want["streams"]])
        self.assertTrue(res.get("summary"), res)
        m1 = self.c.metrics()
        self.assertEqual(
            h.metric_value(m1, "vidflow_object_events_total",
                           outcome="accepted")
            - h.metric_value(m0, "vidflow_object_events_total",
                             outcome="accepted"), 1,
            "s3rver's webhook event accepted once")

    def test_resumable_upload_against_s3rver(self):
        # The same routes as with the built-in store, presigned against
        # s3rver's multipart API; its event on completion starts the job.
        job = self.c.create_job("parts.mp4", "video/mp4")
        jid = job["job_id"]
        clip = h.read_bytes(h.clip("h264_aac.mp4"))
        pad = (5 << 20) + 4096 - len(clip)
        data = clip + pad.to_bytes(4, "big") + b"free" + bytes(pad - 8)
        r = self.c.call("POST", f"/jobs/{jid}/multipart")
        self.assertEqual(r.status, 201, r)
        uid = r.json()["upload_id"]
        r = self.c.call("GET", f"/jobs/{jid}/multipart/parts?upload_id={uid}"
                               "&numbers=1-2")
        self.assertEqual(r.status, 200, r)
        urls = [p["url"] for p in r.json()["parts"]]
        self.assertTrue(urls[0].startswith(f"http://127.0.0.1:{self.s3_port}/"))
        etags = []
        for url, part in zip(urls, (data[:5 << 20], data[5 << 20:])):
            put = h.request("PUT", url, part,
                            {"Content-Length": str(len(part))})
            self.assertEqual(put.status, 200, put)
            etags.append(put.headers.get("etag"))
        # s3rver has no ListParts: the client lists what the store answered.
        r = self.c.call("POST", f"/jobs/{jid}/multipart/complete",
                        {"upload_id": uid,
                         "parts": [{"part_number": n + 1, "etag": e}
                                   for n, e in enumerate(etags)]})
        self.assertEqual(r.status, 200, r)
        done = self.c.wait_status(jid, h.TERMINAL, deadline_s=90)
        self.assertEqual(done["status"], "SUCCEEDED", done)
        self.assertEqual(int(done["object"]["size"]), len(data), done)

    def test_composition_from_assets_on_s3(self):
        # Sources are downloaded from s3rver one after the other into the
        # slot's one download file: each must be kept aside before the next.
        ids = {}
        for name, clip, kind, ctype in (("v", "h264_aac_320.mp4", "video",
                                         "video/mp4"),
                                        ("a", "audio_only.m4a", "audio",
                                         "audio/mp4")):
            r = self.c.call("POST", "/assets", {"filename": name + ".bin",
                                                "content_type": ctype,
                                                "kind": kind})
            self.assertEqual(r.status, 201, r)
            put = h.upload(r.json()["upload_url"], h.read_bytes(h.clip(clip)),
                           ctype)
            self.assertEqual(put.status, 200, put)
            ids[name] = r.json()["asset_id"]
        for aid in ids.values():
            end = time.monotonic() + 90
            while self.c.call("GET", f"/assets/{aid}").json()["status"] \
                    != "ready":
                self.assertLess(time.monotonic(), end, aid)
                time.sleep(0.05)
        r = self.c.call("POST", "/compositions", {
            "title": "on s3", "clips": [{"asset_id": ids["v"], "start": 0,
                                         "end": 1}],
            "audio": {"music_asset": ids["a"]},
            "output": {"resolution": "480p", "format": "mov", "fps": 24}})
        self.assertEqual(r.status, 202, r)
        cid = r.json()["composition_id"]
        done = self.c.wait_status(cid, h.TERMINAL, deadline_s=120)
        self.assertEqual(done["status"], "SUCCEEDED", done)
        d = self.c.call("GET", f"/compositions/{cid}/download")
        self.assertEqual(d.status, 200, d)
        self.assertEqual(d.json()["content_type"], "video/quicktime")
        body = h.request("GET", d.json()["download_url"])
        self.assertEqual(body.status, 200, body)
        path = os.path.join(h.scratch_dir(), "s3-composition.mov")
        with open(path, "wb") as f:
            f.write(body.body)
        info = h.ffprobe(path)
        self.assertAlmostEqual(float(info["format"]["duration"]), 1.0,
                               delta=0.1)
        self.assertEqual(sorted(s["codec_type"] for s in info["streams"]),
                         ["audio", "video"])

    def test_same_bytes_and_recipe_reused_without_passing_through(self):
        # The upload goes straight to s3rver: vidflow never sees its bytes
        # stream in, so the probe hashes what it fetched; the second job
        # with the same bytes and recipe copies the first one's outputs.
        recipe = {"thumbnails": ["small"]}
        data = h.read_bytes(h.clip("h264_aac.mp4"))

        def submit(name):
            r = self.c.call("POST", "/jobs", {
                "filename": name, "content_type": "video/mp4",
                "outputs": recipe})
            self.assertEqual(r.status, 201, r)
            job = r.json()
            put = h.upload(job["upload_url"], data, "video/mp4")
            self.assertEqual(put.status, 200, put)
            done = self.c.wait_status(job["job_id"], h.TERMINAL,
                                      deadline_s=90)
            self.assertEqual(done["status"], "SUCCEEDED", done)
            res = self.c.result(job["job_id"])
            self.assertEqual(res.status, 200, res)
            return job["job_id"], res.json()
        first, r1 = submit("first.mp4")
        self.assertNotIn("reused_from", r1)
        self.assertEqual(r1["metadata"]["format"]["sha256"],
                         hashlib.sha256(data).hexdigest())
        second, r2 = submit("second.mp4")
        self.assertEqual(r2.get("reused_from"), first, r2)
        t1, t2 = r1["outputs"]["thumbnails"][0], r2["outputs"]["thumbnails"][0]
        self.assertIn(f"/outputs/{second}/", t2["url"])
        self.assertEqual(h.request("GET", t2["url"]).body,
                         h.request("GET", t1["url"]).body)

    def test_webhook_503_is_redelivered_and_processed_once(self):
        """Issue 10: an event that arrives while the job store cannot take
        it is answered 503; MinIO (here the launcher, which redelivers as
        MinIO does) sends it again, and the job is processed exactly once.
        The outage is real: another connection holds SQLite's write lock."""
        job = self.c.create_job("outage.mp4", "video/mp4")
        key = job["s3_key"]
        failed = f"of uploads/{key}: status 503; retrying"
        db = sqlite3.connect(os.path.join(self.server.data_dir, "vidflow.db"),
                             timeout=30, isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")
        try:
            data = h.read_bytes(h.clip("h264_aac.mp4"))
            r = h.upload(job["upload_url"], data, "video/mp4")
            self.assertEqual(r.status, 200, r)
            end = time.monotonic() + 90
            while self.s3rver.log_text().count(failed) < 2:
                self.assertLess(time.monotonic(), end,
                                "no two 503 answers to the webhook while the "
                                "job store was locked:\n"
                                + self.s3rver.log_tail())
                time.sleep(0.2)
        finally:
            db.execute("ROLLBACK")
            db.close()
        done = self.c.wait_status(job["job_id"], h.TERMINAL, deadline_s=90)
        self.assertEqual(done["status"], "SUCCEEDED", done)
        self.assertEqual(done["attempts"], 1, done)
        log = self.s3rver.log_text()
        self.assertIn(f"of uploads/{key}: status 200", log)
        ok = collections.Counter(
            it["kind"] for it in cl.attempts(self.c, job["job_id"])
            if it.get("ok") is True)
        self.assertEqual(ok, collections.Counter({"probe": 1,
                                                  "summarize": 1}), ok)
        print(f"\n  {log.count(failed)} deliveries answered 503 during the "
              f"outage, then 200; processed once", flush=True)

    def test_event_believed_only_for_an_object_s3rver_holds(self):
        """Issue 8 #1: in s3 mode an (authenticated) event starts work only
        if the server holds the object with the event's size and ETag."""
        job = self.c.create_job("forged s3.mp4", "video/mp4")
        m0 = self.c.metrics()
        r = self.c.webhook(h.minio_event("uploads", job["s3_key"], "forged-1",
                                         "0123456789abcdef", 1))
        self.assertEqual(r.status, 200, r)
        time.sleep(0.5)  # a wrongly started run would show by now
        self.assertEqual(self.c.get_job(job["job_id"])["status"],
                         "AWAITING_UPLOAD")
        m1 = self.c.metrics()
        self.assertEqual(
            h.metric_value(m1, "vidflow_object_events_total",
                           source="minio", outcome="rejected")
            - h.metric_value(m0, "vidflow_object_events_total",
                             source="minio", outcome="rejected"), 1)
        # The real upload, and s3rver's real event, still go through.
        data = h.read_bytes(h.clip("h264_aac.mp4"))
        r = h.upload(job["upload_url"], data, "video/mp4")
        self.assertEqual(r.status, 200, r)
        done = self.c.wait_status(job["job_id"], h.TERMINAL, deadline_s=90)
        self.assertEqual(done["status"], "SUCCEEDED", done)
        self.assertEqual(int(done["object"]["size"]), len(data), done)
        # Now finished: the same object's event again is a duplicate, a
        # forged new version is refused; the job stays as it is.
        r = self.c.webhook(h.minio_event(
            "uploads", job["s3_key"], "forged-2",
            done["object"]["etag"], len(data)))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.c.get_job(job["job_id"]), done)

    def test_tampered_url_refused_by_s3rver(self):
        job = self.c.create_job("tampered.mp4", "video/mp4")
        data = h.read_bytes(h.clip("h264_aac.mp4"))
        r = h.upload(h.tamper_url(job["upload_url"]), data)
        self.assertEqual(r.status, 403, f"tampered presigned PUT: {r!r}")
        self.assertIn("SignatureDoesNotMatch", r.text)
        time.sleep(0.5)
        self.assertEqual(self.c.get_job(job["job_id"])["status"],
                         "AWAITING_UPLOAD")

    def test_non_video_fails_cleanly(self):
        job, _, _ = self.put("noise.mp4", "random.bin")
        done = self.c.wait_status(job["job_id"], h.TERMINAL, deadline_s=90)
        self.assertEqual(done["status"], "FAILED", done)
        self.assertIn(done["error_code"], ("bad_media", "truncated"), done)
        self.assertTrue(done["error_message"], done)


if __name__ == "__main__":
    h.main(__doc__)
