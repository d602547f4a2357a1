#!/usr/bin/python3
"""End-to-end: the job lifecycle's less travelled edges against the real
binary (issue 10: only fakes tested them before).

    /usr/bin/python3 tests/integration/e2e_lifecycle.py --binary build/vidflow

- Cancel: a job waiting for its upload ends CANCELLED and its URL is closed;
  a job in PROCESSING (a 10-minute `sleep` step on the only worker) ends
  CANCELLED, its running lease is stopped (the worker's slot is free again
  long before the step would end) and it never records an ok step; cancelling again is 409, someone
  else's or an unknown job is 404; every refusal is a JSON {detail, code}.
"""

import time

import vfharness as h
import chaoslib as cl
import clusterlib as cx

USERS = "demo:demo:user,eve:evepass1:user,admin:admin:admin"
SLEEP_MS = 600000  # 10 minutes: only a cancel ends this step early


def error_of(test, r, status, code):
    test.assertEqual(r.status, status, r)
    body = r.json()
    test.assertEqual(set(body), {"detail", "code"}, body)
    test.assertEqual(body["code"], code, body)
    test.assertTrue(body["detail"], body)


class Cancel(h.unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = h.Server(h.binary, workers=1, extra_args=(
            "--users", USERS, "--pipeline", "sleep,probe,summarize",
            "--sleep-ms", str(SLEEP_MS)))
        cls.c = cls.server.client()
        cls.eve = h.Client(cls.server.base)
        cls.eve.login("eve", "evepass1")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def cancel(self, job_id, client=None):
        return (client or self.c).call("POST", f"/jobs/{job_id}/cancel")

    def test_cancel_while_awaiting_upload_closes_the_url(self):
        job = self.c.create_job("never.mp4", "video/mp4")
        r = self.cancel(job["job_id"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["status"], "CANCELLED", r)
        self.assertEqual(self.c.get_job(job["job_id"])["status"], "CANCELLED")
        up = h.upload(job["upload_url"], h.read_bytes(h.clip("h264_aac.mp4")))
        self.assertGreaterEqual(up.status, 400, up)
        self.assertLess(up.status, 500, up)
        self.assertEqual(self.c.get_job(job["job_id"])["status"], "CANCELLED")

    def free_slots(self):
        return h.metric_value(self.c.metrics(), "vidflow_free_slots")

    def wait_free_slots(self, want, what):
        cx.wait_until(what, lambda: self.free_slots() == want, deadline_s=60)

    def test_cancel_mid_step_frees_the_worker(self):
        data = h.read_bytes(h.clip("h264_aac.mp4"))
        job = self.c.create_job("long.mp4", "video/mp4")
        self.assertEqual(h.upload(job["upload_url"], data).status, 200)
        jid = job["job_id"]
        # The only worker takes the 10-minute sleep step.
        self.wait_free_slots(0, "the worker leased the sleep step")
        self.assertEqual(self.c.get_job(jid)["status"], "PROCESSING")
        r = self.cancel(jid)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["status"], "CANCELLED", r)
        # The worker is free again only if the cancelled lease stopped:
        # otherwise not before the sleep ends, far past this bound.
        self.wait_free_slots(1, "the cancelled lease stopped")
        self.assertEqual(self.c.get_job(jid)["status"], "CANCELLED")
        # The cancelled job never records an ok step.
        items = cl.attempts(self.c, jid)
        self.assertFalse([it for it in items if it.get("ok")], items)

    def test_refusals(self):
        job = self.c.create_job("twice.mp4", "video/mp4")
        self.assertEqual(self.cancel(job["job_id"]).status, 200)
        error_of(self, self.cancel(job["job_id"]), 409, "conflict")
        # Someone else's job does not exist for eve.
        mine = self.c.create_job("mine.mp4", "video/mp4")
        error_of(self, self.cancel(mine["job_id"], self.eve), 404,
                 "not_found")
        self.assertEqual(self.c.get_job(mine["job_id"])["status"],
                         "AWAITING_UPLOAD")
        error_of(self, self.cancel("00000000-0000-4000-8000-000000000000"),
                 404, "not_found")


if __name__ == "__main__":
    h.main(__doc__)
