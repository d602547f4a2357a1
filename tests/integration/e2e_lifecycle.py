#!/usr/bin/python3
"""End-to-end: the job lifecycle's less travelled edges against the real
binary (issue 10: only fakes tested them before).

    /usr/bin/python3 tests/integration/e2e_lifecycle.py --binary build/vidflow

- Cancel: a job waiting for its upload ends CANCELLED and its URL is closed;
  a job in PROCESSING (a 10-minute `sleep` step on the only worker) ends
  CANCELLED, its running lease is stopped (the worker's slot is free again
  long before the step would end) and it never records an ok step; cancelling again is 409, someone
  else's or an unknown job is 404; every refusal is a JSON {detail, code}.
- Expiry: a job whose upload never comes ends EXPIRED (`expired`) once
  its URL and the grace passed (`--upload-grace-s`, swept every
  `--expire-sweep-s`); the late PUT is 403 and revives nothing, cancelling
  it is 409, and a job uploaded in time on the same node SUCCEEDED.
- A poison upload: the node aborts whenever it probes it (the test-only
  `--crash-on`, as a decoder crashing on a file would). Restarted after
  each crash, the node gives up after `--max-attempts` attempts: the job
  ends FAILED (`worker_lost`, "stopped during the last allowed attempt")
  instead of crashing the node for ever, and other jobs are processed.
"""

import http.client
import signal
import subprocess
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


class Expiry(h.unittest.TestCase):
    """An upload that never comes: its URL lives 5 s, the grace is 1 s and
    the sweep runs every second, so the job is EXPIRED within seconds."""

    def test_a_job_without_upload_expires_and_stays_expired(self):
        server = h.Server(h.binary, workers=1, extra_args=(
            "--users", USERS, "--presign-expires", "5",
            "--upload-grace-s", "1", "--expire-sweep-s", "1"))
        try:
            c = server.client()
            data = h.read_bytes(h.clip("h264_aac.mp4"))
            never = c.create_job("never.mp4", "video/mp4")
            jid = never["job_id"]
            # Checked at once: its URL is valid for 5 s more, so the sweep
            # cannot have taken it yet, however slow the machine.
            self.assertEqual(c.get_job(jid)["status"], "AWAITING_UPLOAD")
            self.assertEqual(never["expires_in"], 5, never)
            # Uploaded at once: past the same deadline it is not expired.
            ontime = c.create_job("ontime.mp4", "video/mp4")
            self.assertEqual(h.upload(ontime["upload_url"], data).status,
                             200)
            done = c.wait_status(jid, h.TERMINAL, deadline_s=60)
            self.assertEqual(done["status"], "EXPIRED", done)
            self.assertEqual(done["error_code"], "expired", done)
            self.assertIn("upload URL expired", done["error_message"])
            # The late upload is refused and revives nothing.
            up = h.upload(never["upload_url"], data)
            self.assertEqual(up.status, 403, up)
            error_of(self, c.call("POST", f"/jobs/{jid}/cancel"), 409,
                     "conflict")
            self.assertEqual(c.get_job(jid)["status"], "EXPIRED")
            self.assertEqual(c.wait_status(ontime["job_id"], h.TERMINAL,
                                           deadline_s=60)["status"],
                             "SUCCEEDED")
            listed = {j["job_id"]: j["status"] for j in c.history()}
            self.assertEqual(listed.get(jid), "EXPIRED", listed)
            print(f"\n  expiry: job EXPIRED ({done['error_message']}); the "
                  f"late PUT got {up.status}", flush=True)
        finally:
            server.stop()


class NoWorker(h.unittest.TestCase):
    """A node with no worker slots and no worker nodes: a job's first task
    can never run, so after --no-worker-after-s it fails with no_worker
    (permanent, dead-lettered) instead of waiting for ever."""

    def test_a_task_nobody_runs_fails_clearly(self):
        server = h.Server(h.binary, workers=0, extra_args=(
            "--users", USERS, "--no-worker-after-s", "2"))
        try:
            c = server.client()
            job = c.create_job("orphan.mp4", "video/mp4")
            jid = job["job_id"]
            up = h.upload(job["upload_url"],
                          h.read_bytes(h.clip("h264_aac.mp4")))
            self.assertEqual(up.status, 200, up)
            started = time.monotonic()
            done = c.wait_status(jid, h.TERMINAL, deadline_s=60)
            waited = time.monotonic() - started
            self.assertEqual(done["status"], "FAILED", done)
            self.assertEqual(done["error_code"], "no_worker", done)
            self.assertIn("'probe'", done["error_message"])
            self.assertIn("redrive", done["error_message"])
            # Permanent: one attempt, no retries that would wait again.
            items = c.call("GET", f"/jobs/{jid}/attempts").json()["items"]
            self.assertEqual([a["error_code"] for a in items], ["no_worker"],
                             items)
            print(f"\n  no worker: FAILED after {waited:.1f} s "
                  f"({done['error_message']})", flush=True)
        finally:
            server.stop()

    def test_a_render_no_node_can_admit_fails_naming_memory(self):
        # 48 MiB is what any render costs before its frames: no render fits,
        # a probe (which costs nothing) does.
        server = h.Server(h.binary, workers=1, extra_args=(
            "--users", USERS, "--no-worker-after-s", "1",
            "--memory-budget", "48MiB"))
        try:
            c = server.client()
            r = c.call("POST", "/jobs", {
                "filename": "big.mp4", "content_type": "video/mp4",
                "outputs": {"thumbnails": ["small"]}})
            self.assertEqual(r.status, 201, r)
            job = r.json()
            jid = job["job_id"]
            up = h.upload(job["upload_url"],
                          h.read_bytes(h.clip("h264_aac.mp4")))
            self.assertEqual(up.status, 200, up)
            done = c.wait_status(jid, h.TERMINAL, deadline_s=60)
            self.assertEqual(done["status"], "FAILED", done)
            self.assertEqual(done["error_code"], "no_worker", done)
            self.assertEqual(done["step"], "render", done)
            msg = done["error_message"]
            self.assertIn("48 MiB", msg)
            self.assertIn("memory_budget", msg)
            steps = {s["name"]: s for s in done["progress"]["steps"]}
            self.assertEqual(steps["probe"]["state"], "done", steps)
            self.assertEqual(steps["thumbnail:small"]["state"], "failed",
                             steps)
            self.assertIn("memory_budget", server.log_tail())
            print(f"\n  over budget: {msg}", flush=True)
        finally:
            server.stop()


class PoisonUpload(h.unittest.TestCase):

    MAX_ATTEMPTS = 2

    @staticmethod
    def restart(node):
        """Starts the node and logs in; None if it crashed again first
        (before /healthz answered, or during the login)."""
        try:
            node.start()
        except AssertionError as e:
            if f"exited with -{signal.SIGABRT.value}" not in str(e):
                raise
            return None
        try:
            return node.server.client()
        except (OSError, http.client.HTTPException) as e:
            # A closed connection: the node is crashing on the upload, but
            # its exit may not be visible yet (an abort takes a moment, more
            # under ASan). A node that stays up is a real failure.
            try:
                node.server.proc.wait(30)
            except subprocess.TimeoutExpired:
                raise AssertionError(f"logging in failed ({e!r}) but the "
                                     f"node did not exit") from e
            return None

    def test_a_crashing_upload_ends_failed_not_in_a_loop(self):
        node = cl.Node(h.binary, extra_args=(
            "--crash-on", "poison", "--max-attempts", str(self.MAX_ATTEMPTS)))
        node.start()
        try:
            c = node.server.client()
            data = h.read_bytes(h.clip("h264_aac.mp4"))
            job = c.create_job("poison.mp4", "video/mp4")
            jid = job["job_id"]
            self.assertEqual(h.upload(job["upload_url"], data).status, 200)
            crashes = 0
            alive = True
            # Each start resumes the job and crashes on it (during start-up
            # or just after), until the attempts are used up; the bound
            # well past MAX_ATTEMPTS catches a node that would loop.
            while True:
                if alive:
                    cx.wait_until("the node crashed on the poison upload, or "
                                  "the job failed",
                                  lambda: node.server.poll() is not None
                                  or c.get_job(jid)["status"] == "FAILED",
                                  deadline_s=60)
                    if node.server.poll() is None:
                        break
                crashes += 1
                self.assertIn("aborting on uploads/", node.server.log_text())
                self.assertLessEqual(crashes, self.MAX_ATTEMPTS + 2,
                                     "the node keeps crashing on the upload")
                c = self.restart(node)
                alive = c is not None
            done = c.wait_status(jid, h.TERMINAL, deadline_s=60)
            self.assertEqual(done["status"], "FAILED", done)
            self.assertEqual(done["error_code"], "worker_lost", done)
            self.assertIn("during the last allowed attempt",
                          done["error_message"])
            self.assertEqual(crashes, self.MAX_ATTEMPTS, done)
            # The node is healthy and processes other uploads.
            ok = c.create_job("fine.mp4", "video/mp4")
            self.assertEqual(h.upload(ok["upload_url"], data).status, 200)
            self.assertEqual(c.wait_status(ok["job_id"], h.TERMINAL,
                                           deadline_s=60)["status"],
                             "SUCCEEDED")
            print(f"\n  poison upload: {crashes} crash(es), then FAILED "
                  f"({done['error_message']})", flush=True)
        finally:
            node.stop()


if __name__ == "__main__":
    h.main(__doc__)
