#!/usr/bin/python3
"""End-to-end: signed callbacks (`callback_url` on POST /jobs) from a real
`vidflow serve` to a receiver this test starts on 127.0.0.1.

    /usr/bin/python3 tests/integration/e2e_webhooks.py --binary build/vidflow

The receiver checks every signature the way docs/webhooks.md tells users
to, fails the first deliveries on purpose, and vidflow is restarted between
attempts: the delivery must survive it. A second node keeps the default
allow-list (public addresses only) and must refuse loopback and link-local
targets. Deadlines are correctness bounds only.
"""

import hashlib
import hmac
import http.server
import json
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402

USERS = "demo:demo:user,eve:evepass1:user,admin:admin:admin"
SOURCE = "h264_aac_640x360.mp4"


def verify(secret, header, body, tolerance_s=300):
    """The check docs/webhooks.md shows: returns True for a valid,
    fresh signature."""
    fields = dict(p.split("=", 1) for p in header.split(","))
    t, given = fields["t"], fields["v1"]
    want = hmac.new(secret.encode(), f"{t}.".encode() + body,
                    hashlib.sha256).hexdigest()
    return (hmac.compare_digest(want, given)
            and abs(time.time() - int(t)) <= tolerance_s)


class Receiver:
    """An HTTP server that records callbacks and answers `fail_first`
    of them with 500."""

    def __init__(self, fail_first=0, hang_paths=()):
        self.lock = threading.Lock()
        self.hang_paths = hang_paths
        self.calls = []
        self.fail_first = fail_first
        self.arrived = threading.Condition(self.lock)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                if self.path in outer.hang_paths:
                    # Never answers in time (vidflow gives up after 10 s).
                    time.sleep(15)
                    return
                with outer.lock:
                    failing = len(outer.calls) < outer.fail_first
                    outer.calls.append({"path": self.path,
                                        "headers": dict(self.headers),
                                        "body": body,
                                        "answered": 500 if failing else 204})
                    outer.arrived.notify_all()
                self.send_response(500 if failing else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        # A hanging handler must not hold up stop().
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def url(self, path="/hook"):
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_calls(self, n, deadline_s=60):
        end = time.monotonic() + deadline_s
        with self.lock:
            while len(self.calls) < n:
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.calls)} callbacks "
                                         f"arrived, wanted {n}")
                self.arrived.wait(left)
            return list(self.calls)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Callbacks(unittest.TestCase):
    """A node that may call back to 127.0.0.1 (webhooks.allow)."""

    @classmethod
    def setUpClass(cls):
        cls.args = ("--users", USERS, "--webhooks-allow", "127.0.0.1",
                    "--webhooks-retry-base-ms", "1500")
        cls.server = h.Server(h.binary, extra_args=cls.args)
        cls.c = cls.server.client()
        cls.eve = h.Client(cls.server.base)
        cls.eve.login("eve", "evepass1")
        cls.clip = h.read_bytes(h.clip(SOURCE))

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def secret(self, client):
        r = client.call("GET", "/webhooks/secret")
        self.assertEqual(r.status, 200, r)
        return r.json()["secret"]

    def submit(self, callback_url, data=None):
        r = self.c.call("POST", "/jobs", {"filename": "clip.mp4",
                                          "content_type": "video/mp4",
                                          "callback_url": callback_url})
        self.assertEqual(r.status, 201, r)
        job = r.json()
        self.assertEqual(self.c.get_job(job["job_id"])["callback_url"],
                         callback_url)
        put = h.upload(job["upload_url"], data or self.clip, "video/mp4")
        self.assertEqual(put.status, 200, put)
        return job["job_id"]

    def restart(self):
        old = self.server
        old.stop()
        Callbacks.server = h.Server(h.binary, extra_args=self.args,
                                    data_dir=old.data_dir,
                                    http_port=old.http_port,
                                    store_port=old.store_port)

    def deliveries(self, jid, client=None):
        r = (client or self.c).call("GET", f"/jobs/{jid}/deliveries")
        self.assertEqual(r.status, 200, r)
        return r.json()

    def test_signed_retried_and_surviving_a_restart(self):
        rx = Receiver(fail_first=2)
        try:
            secret = self.secret(self.c)
            jid = self.submit(rx.url())
            self.assertEqual(self.c.wait_status(jid)["status"], "SUCCEEDED")
            rx.wait_calls(1)
            # vidflow goes down between the first attempt and the next.
            self.restart()
            calls = rx.wait_calls(3)
            end = time.monotonic() + 60
            while True:
                d = self.deliveries(jid)
                if d["items"] and d["items"][0]["state"] == "delivered":
                    break
                self.assertLess(time.monotonic(), end, d)
                time.sleep(0.1)
        finally:
            rx.stop()
        self.assertEqual([c["answered"] for c in calls[:3]], [500, 500, 204])
        first = calls[0]
        event = json.loads(first["body"])
        self.assertEqual(event["type"], "job.succeeded")
        self.assertEqual(event["job_id"], jid)
        self.assertEqual(event["status"], "SUCCEEDED")
        self.assertEqual(event["result"], f"/jobs/{jid}/result")
        self.assertRegex(event["at"], h.ISO_UTC)
        self.assertTrue(event["id"].startswith("dlv_"), event)
        for c in calls:
            # The same bytes and idempotency id every time, each signed.
            self.assertEqual(c["body"], first["body"])
            self.assertEqual(c["headers"]["X-Vidflow-Delivery"], event["id"])
            self.assertEqual(c["headers"]["Content-Type"],
                             "application/json")
            self.assertTrue(verify(secret, c["headers"]["X-Vidflow-Signature"],
                                   c["body"]), c["headers"])
            # Another user's secret does not verify it.
            self.assertFalse(verify(self.secret(self.eve),
                                    c["headers"]["X-Vidflow-Signature"],
                                    c["body"]))
            # Nor does a changed body.
            self.assertFalse(verify(secret, c["headers"]["X-Vidflow-Signature"],
                                    c["body"] + b" "))
        d = self.deliveries(jid)
        self.assertEqual(d["callback_url"], rx.url())
        item = d["items"][0]
        self.assertEqual(len(d["items"]), 1, d)
        self.assertEqual(item["id"], event["id"])
        self.assertEqual(item["last_status"], 204)
        self.assertIsNone(item["last_error"])
        self.assertRegex(item["delivered_at"], h.ISO_UTC)
        self.assertIsNone(item["next_attempt_at"])
        self.assertGreaterEqual(item["attempts"], 2, item)
        self.assertEqual(item["event"], event)
        # Only the owner (or an admin) sees the deliveries.
        r = self.eve.call("GET", f"/jobs/{jid}/deliveries")
        self.assertEqual(r.status, 404, r)

    def test_a_hanging_receiver_does_not_hold_up_the_others(self):
        rx = Receiver(hang_paths=("/hang",))
        try:
            slow = self.submit(rx.url("/hang"))
            self.assertEqual(self.c.wait_status(slow)["status"], "SUCCEEDED")
            fast = self.submit(rx.url("/fast"))
            self.assertEqual(self.c.wait_status(fast)["status"], "SUCCEEDED")
            end = time.monotonic() + 60
            while True:
                with rx.lock:
                    paths = [c["path"] for c in rx.calls]
                if "/fast" in paths:
                    break
                self.assertLess(time.monotonic(), end, paths)
                time.sleep(0.05)
            # The hanging one's first attempt is still under way: /fast did
            # not wait for it.
            item = self.deliveries(slow)["items"][0]
            self.assertEqual(item["state"], "pending", item)
            self.assertEqual(item["attempts"], 0, item)
        finally:
            rx.stop()

    def test_failed_jobs_call_back_too(self):
        rx = Receiver()
        try:
            jid = self.submit(rx.url("/failed"), data=b"not a video at all")
            job = self.c.wait_status(jid)
            self.assertEqual(job["status"], "FAILED")
            calls = rx.wait_calls(1)
        finally:
            rx.stop()
        event = json.loads(calls[0]["body"])
        self.assertEqual(event["type"], "job.failed")
        self.assertEqual(event["error_code"], job["error_code"])
        self.assertIsNone(event["result"])
        self.assertEqual(calls[0]["path"], "/failed")

    def test_each_user_has_their_own_secret(self):
        a, b = self.secret(self.c), self.secret(self.eve)
        self.assertRegex(a, "^[0-9a-f]{64}$")
        self.assertNotEqual(a, b)
        self.assertEqual(self.secret(self.c), a)
        r = h.request("GET", self.server.base + "/webhooks/secret")
        self.assertEqual(r.status, 401, r)


class DefaultAllowList(unittest.TestCase):
    """A node with the default allow-list: public addresses only."""

    @classmethod
    def setUpClass(cls):
        cls.server = h.Server(h.binary, extra_args=("--users", USERS))
        cls.c = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def create(self, callback_url):
        return self.c.call("POST", "/jobs", {"filename": "clip.mp4",
                                             "callback_url": callback_url})

    def test_internal_targets_are_refused_with_a_reason(self):
        before = len(self.c.history())
        for url in ("http://127.0.0.1:9000/hook",
                    "http://169.254.169.254/latest/meta-data/",
                    "http://[::1]:8000/", "http://10.0.0.7/x",
                    "http://[::ffff:127.0.0.1]/", "ftp://example.org/",
                    "http://user:pw@example.org/", "not a url", 5,
                    "https://example.org/" + "a" * 3000):
            r = self.create(url)
            self.assertEqual(r.status, 422, (url, r))
            self.assertEqual(r.json()["code"], "invalid_argument")
            self.assertIn("callback_url", r.json()["detail"])
        self.assertEqual(len(self.c.history()), before, "a job was created")

    def test_a_name_resolving_inside_is_refused_when_sent(self):
        # `localhost` is a name: it passes at creation and is refused
        # after resolution, for good (never retried).
        r = self.create("http://localhost:9/hook")
        self.assertEqual(r.status, 201, r)
        job = r.json()
        put = h.upload(job["upload_url"], b"not a video", "video/mp4")
        self.assertEqual(put.status, 200, put)
        self.c.wait_status(job["job_id"])
        end = time.monotonic() + 30
        while True:
            r = self.c.call("GET", f"/jobs/{job['job_id']}/deliveries")
            self.assertEqual(r.status, 200, r)
            items = r.json()["items"]
            if items and items[0]["state"] != "pending":
                break
            self.assertLess(time.monotonic(), end, items)
            time.sleep(0.1)
        item = items[0]
        self.assertEqual(item["state"], "failed", item)
        self.assertEqual(item["attempts"], 1, item)
        self.assertIn("not a public address", item["last_error"])
        self.assertIsNone(item["last_status"])


if __name__ == "__main__":
    h.main(__doc__)
