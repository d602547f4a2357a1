#!/usr/bin/env python3
"""`store.mode = s3` as on AWS: virtual-hosted addressing, keys from the AWS
credential chain (an ECS task role: short-lived keys with a session token,
refreshed before they expire), multipart uploads of outputs.

The S3 here is a double (awsfakes.FakeS3, an emulator): it answers only
virtual-hosted requests (`uploads.s3.localhost:<port>`) and checks every
request's signature, header-signed or presigned, with botocore, AWS's own
implementation. s3rver, the real server the other tests use, cannot check
virtual-hosted signatures (it canonicalizes them as `/<bucket>/<key>`);
integration.s3rver checks multipart uploads of several parts and deletes
by prefix against it.

    /usr/bin/python3 tests/integration/e2e_s3_aws.py --binary build/vidflow
"""
import hashlib
import os
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vfharness as h  # noqa: E402
import awsfakes as fx  # noqa: E402
from e2e_bedrock import node_env  # noqa: E402

REGION = "eu-west-1"
# ECS keys live 312 s; the chain fetches again 300 s before expiry, so the
# second job of test_keys_rotate signs with new keys.
LIFETIME_S = 312


def start(s3, ecs, token, extra=()):
    env = node_env(
        AWS_CONTAINER_CREDENTIALS_FULL_URI=ecs.url + "/v2/credentials/task",
        AWS_CONTAINER_AUTHORIZATION_TOKEN=token)
    return h.Server(h.binary, env=env, extra_args=[
        "--store-mode", "s3", "--store-credentials", "aws",
        "--store-addressing", "virtual", "--store-endpoint", s3.endpoint,
        "--public-url", s3.endpoint, "--bucket", "uploads",
        "--region", REGION,
        # Every output goes up as a multipart upload (of one part).
        "--multipart-threshold", "1KiB", *extra])


class S3OnAws(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.ring = fx.KeyRing()
        cls.s3 = fx.FakeS3(cls.ring)
        cls.token = "ecs-" + os.urandom(12).hex()
        cls.ecs = fx.FakeEcsCredentials(cls.ring, cls.token,
                                        lifetime_s=LIFETIME_S)
        cls.server = start(cls.s3, cls.ecs, cls.token)
        cls.c = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.s3.close()
        cls.ecs.close()

    def run_job(self, name):
        """Creates, uploads and announces one job with a thumbnail; returns
        (job_id, requests the S3 double saw for it)."""
        seen = len(self.s3.snapshot())
        r = self.c.call("POST", "/jobs", {
            "filename": name, "content_type": "video/mp4",
            "outputs": {"thumbnails": ["small"]}})
        self.assertEqual(r.status, 201, r)
        job = r.json()
        url = job["upload_url"]
        self.assertTrue(url.startswith(
            f"http://uploads.s3.localhost:{self.s3.port}/"), url)
        self.assertIn("X-Amz-Security-Token=", url)
        data = h.read_bytes(h.clip("h264_aac.mp4"))
        status, body = self.s3.put_url(url, data)
        self.assertEqual(status, 200, body)
        ev = h.minio_event("uploads", job["s3_key"], size=len(data),
                           etag=hashlib.md5(data).hexdigest())
        r = self.c.webhook(ev)
        self.assertLess(r.status, 300, r)
        done = self.c.wait_status(job["job_id"], h.TERMINAL, deadline_s=90)
        self.assertEqual(done["status"], "SUCCEEDED", done)
        return job["job_id"], self.s3.snapshot()[seen:]

    def assert_signed_right(self, reqs):
        for rec in reqs:
            self.assertTrue(rec["verified"],
                            f"botocore rejected {rec['method']} "
                            f"{rec['path']}: {rec['why']}")
            self.assertEqual(rec["why"], f"s3/{REGION}", rec)
            self.assertTrue(rec["token"], f"no session token: {rec}")
            self.assertTrue(rec["access_key"].startswith("ASIAECS"), rec)

    def test_job_through_virtual_hosted_s3_with_task_role_keys(self):
        job_id, reqs = self.run_job("aws clip.mp4")
        self.assert_signed_right(reqs)
        kinds = {(r["method"], r["auth"], tuple(r["query"])) for r in reqs}
        # The client's presigned PUT; vidflow's HEAD (is the object there?)
        # and GET (the worker's download), then the thumbnail in parts.
        self.assertIn(("PUT", "query", ("X-Amz-Algorithm", "X-Amz-Credential",
                                        "X-Amz-Date", "X-Amz-Expires",
                                        "X-Amz-Security-Token",
                                        "X-Amz-Signature",
                                        "X-Amz-SignedHeaders")), kinds)
        self.assertIn(("HEAD", "header", ()), kinds)
        self.assertIn(("GET", "header", ()), kinds)
        self.assertIn(("POST", "header", ("uploads",)), kinds)
        self.assertIn(("PUT", "header", ("partNumber", "uploadId")), kinds)
        self.assertIn(("POST", "header", ("uploadId",)), kinds)
        res = self.c.result(job_id)
        self.assertEqual(res.status, 200, res)
        thumbs = res.json()["outputs"]["thumbnails"]
        self.assertEqual(len(thumbs), 1, thumbs)
        t = thumbs[0]
        # Fitted in the 320x180 box (the clip is 4:3).
        self.assertEqual((t["width"], t["height"]), (240, 180), t)
        url = t["url"]
        self.assertTrue(url.startswith(
            f"http://uploads.s3.localhost:{self.s3.port}/"), url)
        status, body = self.s3.get_url(url)
        self.assertEqual(status, 200, body[:200])
        self.assertEqual(body[:3], b"\xff\xd8\xff", "a JPEG")
        self.assertEqual(len(body), t["bytes"])
        key = urllib.parse.unquote(urllib.parse.urlsplit(url).path[1:])
        self.assertIn((key, 1), self.s3.completed)
        self.assertEqual(self.s3.aborted, 0)
        # The download route presigns the same way.
        r = self.c.call("GET", f"/jobs/{job_id}/download/small")
        self.assertEqual(r.status, 200, r)
        status, again = self.s3.get_url(r.json()["download_url"])
        self.assertEqual((status, again), (200, body))
        # The double is not a pushover: a URL for another key is refused.
        moved = url.replace("/outputs/", "/0utputs/", 1)
        self.assertNotEqual(moved, url)
        status, _ = self.s3.get_url(moved)
        self.assertEqual(status, 403)
        # Where the keys came from may be logged; the keys never.
        log = self.server.log_text()
        for ak in {r["access_key"] for r in reqs}:
            secret, tok = self.ring.get(ak)
            self.assertNotIn(secret, log)
            self.assertNotIn(tok, log)

    def test_delete_removes_the_upload_and_outputs_from_the_bucket(self):
        job_id, _ = self.run_job("to delete.mp4")
        objects = self.s3.buckets["uploads"]
        mine = sorted(k for k in objects if job_id in k)
        self.assertEqual(len(mine), 2, mine)  # the upload, the thumbnail
        # One more under the job's outputs, with characters a listing must
        # escape, and a neighbour that only starts like the job's folder.
        objects[f"outputs/{job_id}/a & <b>.jpg"] = (b"x", "image/jpeg", "0")
        objects[f"outputs/{job_id}0/keep.jpg"] = (b"x", "image/jpeg", "0")
        seen = len(self.s3.snapshot())
        r = self.c.call("DELETE", f"/jobs/{job_id}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["objects_deleted"], 3, r.json())
        left = sorted(k for k in objects if job_id in k)
        self.assertEqual(left, [f"outputs/{job_id}0/keep.jpg"])
        reqs = self.s3.snapshot()[seen:]
        self.assert_signed_right(reqs)
        self.assertIn(("GET", ("list-type", "max-keys", "prefix")),
                      {(q["method"], tuple(q["query"])) for q in reqs})
        self.assertEqual(self.c.call("DELETE", f"/jobs/{job_id}").status,
                         404)

    def test_delete_objects_off_leaves_the_bucket_alone(self):
        server = start(self.s3, self.ecs, self.token,
                       ("--store-delete-objects", "0"))
        try:
            c = server.client()
            job = c.create_job("kept.mp4", "video/mp4")
            status, _ = self.s3.put_url(job["upload_url"], b"not media")
            self.assertEqual(status, 200)
            r = c.call("DELETE", f"/jobs/{job['job_id']}")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["objects_deleted"], 0, r.json())
            self.assertIn(job["s3_key"], self.s3.buckets["uploads"])
            self.assertIn("store.delete_objects = 0", server.log_text())
        finally:
            server.stop()

    def test_keys_rotate_before_they_expire(self):
        _, first = self.run_job("before.mp4")
        used = {r["access_key"] for r in first if r["auth"] == "header"}
        # Past the refresh point of the keys the first job used.
        issued = max(self.ecs.issued_at[ak] for ak in used)
        wait = issued + (LIFETIME_S - 300) + 1 - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        _, second = self.run_job("after.mp4")
        self.assert_signed_right(first + second)
        self.assertGreaterEqual(self.ecs.calls, 2, "keys fetched again")
        self.assertNotEqual(
            {r["access_key"] for r in second if r["auth"] == "header"},
            {r["access_key"] for r in first if r["auth"] == "header"})

    def test_no_keys_is_503_not_a_broken_url(self):
        ecs = fx.FakeEcsCredentials(self.ring, "the-right-token")
        server = start(self.s3, ecs, "a-wrong-token")
        try:
            c = server.client()
            r = c.call("POST", "/jobs", {"filename": "x.mp4"})
            self.assertEqual(r.status, 503, r)
            self.assertEqual(r.json()["code"], "storage_unavailable", r)
            self.assertIn("credentials", r.json()["detail"])
            # The node stays up and says why in its log.
            self.assertEqual(c.call("GET", "/healthz").status, 200)
            end = time.monotonic() + 10
            while (time.monotonic() < end and "no AWS credentials for the "
                   "store" not in server.log_text()):
                time.sleep(0.1)
            self.assertIn("no AWS credentials for the store",
                          server.log_text())
        finally:
            server.stop()
            ecs.close()


if __name__ == "__main__":
    h.main(__doc__)
