#!/usr/bin/python3
"""End-to-end: `vidflow admin` against a running node, as an operator who
never read the code would use it (docs/operations.md): find a stuck job,
see why another failed, redrive it, cancel, pause and resume intake.

    /usr/bin/python3 tests/integration/e2e_admin.py --binary build/vidflow

The node runs a long `sleep` step first (a job that looks stuck) and takes
the CLI's password from VIDFLOW_ADMIN_PASSWORD. `--json` output is parsed;
exit codes are checked for every kind of refusal. Deadlines are correctness
bounds only.
"""

import json
import os
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402

USERS = "demo:demo:user,admin:admin:admin"
SOURCE = "h264_aac_640x360.mp4"


class Admin(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = h.Server(h.binary, workers=1, extra_args=(
            "--users", USERS, "--pipeline", "sleep,probe,summarize",
            "--sleep-ms", "600000"))
        cls.c = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def admin(self, *args, password="admin", user="admin", url=None):
        env = dict(os.environ)
        env["VIDFLOW_ADMIN_PASSWORD"] = password
        env["VIDFLOW_ADMIN_USER"] = user
        env["VIDFLOW_ADMIN_URL"] = url or self.server.base
        r = subprocess.run([h.binary, "admin", *args], env=env,
                           capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        return r

    def admin_json(self, *args):
        r = self.admin(*args, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def submit(self, data):
        job = self.c.create_job("clip.mp4", "video/mp4")
        put = h.upload(job["upload_url"], data, "video/mp4")
        self.assertEqual(put.status, 200, put)
        return job["job_id"]

    def test_a_stuck_job_is_found_inspected_and_cancelled(self):
        jid = self.submit(h.read_bytes(h.clip(SOURCE)))
        self.c.wait_status(jid, "PROCESSING")
        jobs = self.admin_json("jobs")["items"]
        mine = [j for j in jobs if j["job_id"] == jid]
        self.assertEqual(len(mine), 1, jobs)
        self.assertEqual(mine[0]["step"], "sleep")
        self.assertGreaterEqual(mine[0]["age_s"], 0)
        # The table names it too.
        r = self.admin("jobs")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(jid, r.stdout)
        self.assertIn("PROCESSING", r.stdout)
        detail = self.admin_json("job", jid)
        self.assertEqual(detail["job"]["job_id"], jid)
        self.assertEqual(detail["job"]["status"], "PROCESSING")
        self.assertIsInstance(detail["attempts"], list)
        r = self.admin("cancel", jid)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("CANCELLED", r.stdout)
        self.assertEqual(self.c.get_job(jid)["status"], "CANCELLED")
        # A finished job cannot be cancelled: the coordinator says why.
        r = self.admin("cancel", jid)
        self.assertEqual(r.returncode, 1)
        self.assertIn("409", r.stderr)

    def test_status_shows_jobs_queue_and_intake(self):
        st = self.admin_json("status")
        self.assertRegex(st["version"], r"^\d+\.\d+\.\d+")
        self.assertGreaterEqual(st["uptime_s"], 0)
        self.assertFalse(st["paused"])
        self.assertIn("PROCESSING", st["jobs"])
        self.assertEqual(st["queue"]["workers"], 1)
        self.assertEqual(set(st["queue"]["by_priority"]),
                         {"high", "default", "low"})
        r = self.admin("status")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("intake open", r.stdout)
        # top refreshes (here twice, then stops).
        r = self.admin("top", "--iterations", "2", "--interval", "0.2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("jobs/s succeeded", r.stdout)

    def test_pause_refuses_new_jobs_and_resume_opens_again(self):
        before = self.c.create_job("before.mp4", "video/mp4")
        r = self.admin("pause")
        self.assertEqual(r.returncode, 0, r.stderr)
        try:
            self.assertTrue(self.admin_json("status")["paused"])
            r = self.c.call("POST", "/jobs", {"filename": "x.mp4"})
            self.assertEqual(r.status, 503, r)
            self.assertEqual(r.json()["code"], "intake_paused")
            self.assertEqual(r.headers.get("retry-after"), "30")
            # An upload accepted before still goes in and is processed.
            put = h.upload(before["upload_url"],
                           h.read_bytes(h.clip(SOURCE)), "video/mp4")
            self.assertEqual(put.status, 200, put)
            self.c.wait_status(before["job_id"], "PROCESSING")
        finally:
            r = self.admin("resume")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(self.admin_json("status")["paused"])
        self.c.create_job("after.mp4", "video/mp4")
        self.admin("cancel", before["job_id"])

    def test_dead_letters_incidents_and_redrive(self):
        # A node of its own without the long sleep step: not a video
        # fails at probe and is dead-lettered.
        node = h.Server(h.binary, workers=1, extra_args=("--users", USERS))
        try:
            c = node.client()
            job = c.create_job("bad.mp4", "video/mp4")
            h.upload(job["upload_url"], b"not a video at all", "video/mp4")
            self.assertEqual(c.wait_status(job["job_id"])["status"], "FAILED")
            url = node.base
            r = self.admin("dlq", "--json", url=url)
            self.assertEqual(r.returncode, 0, r.stderr)
            items = json.loads(r.stdout)["items"]
            self.assertIn(job["job_id"], [d["job_id"] for d in items])
            r = self.admin("dlq", url=url)
            self.assertIn(job["job_id"], r.stdout)
            r = self.admin("jobs", "--state", "FAILED", "--json", url=url)
            self.assertEqual(r.returncode, 0, r.stderr)
            failed = json.loads(r.stdout)["items"]
            self.assertEqual([j["job_id"] for j in failed], [job["job_id"]])
            r = self.admin("incidents", url=url)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("bad_media", r.stdout)
            r = self.admin("redrive", "--job", job["job_id"], url=url)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(job["job_id"], r.stdout)
            # It runs again (and fails again: the file is still no video).
            end = time.monotonic() + 30
            while c.get_job(job["job_id"])["series"] < 1:
                self.assertLess(time.monotonic(), end)
                time.sleep(0.05)
            self.assertEqual(c.wait_status(job["job_id"])["status"], "FAILED")
        finally:
            node.stop()

    def test_jobs_are_searched_by_state_owner_and_name(self):
        tag = os.urandom(4).hex()
        admin = h.Client(self.server.base)
        admin.login("admin", "admin")
        holiday = self.c.create_job(f"Holiday {tag}.mp4", "video/mp4")
        talk = self.c.create_job(f"talk {tag}.mov", "video/quicktime")
        other = admin.create_job(f"holiday {tag}.mp4", "video/mp4")

        def ids(*args):
            return [j["job_id"] for j in self.admin_json("jobs", *args)["items"]]

        # Every term given must match; the most recently changed first.
        self.assertEqual(ids("--name", tag),
                         [other["job_id"], talk["job_id"], holiday["job_id"]])
        self.assertEqual(ids("--owner", "demo", "--name", tag),
                         [talk["job_id"], holiday["job_id"]])
        self.assertEqual(ids("--name", f"Holiday {tag}"), [holiday["job_id"]])
        self.assertEqual(ids("--state", "awaiting_upload", "--owner", "admin",
                             "--name", tag), [other["job_id"]])
        self.assertEqual(ids("--state", "SUCCEEDED", "--name", tag), [])
        self.assertEqual(ids("--name", tag, "--limit", "1"),
                         [other["job_id"]])
        # The table names the files.
        r = self.admin("jobs", "--owner", "demo", "--name", tag)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"talk {tag}.mov", r.stdout)
        r = self.admin("jobs", "--name", f"nothing-{tag}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("no job found", r.stdout)
        # The same over HTTP, escapes decoded.
        r = admin.call("GET", f"/admin/jobs?owner=demo&name=Holiday%20{tag}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual([j["job_id"] for j in r.json()["items"]],
                         [holiday["job_id"]])
        # Bad searches: a clear 4xx each, and a user may not search.
        for query, status in (("state=DONE", 422), ("name=%ZZ", 400),
                              ("owner=" + "a" * 257, 422),
                              ("name=a%0Ab", 422), ("name=x&limit=0", 422),
                              ("name=x&limit=201", 422)):
            r = admin.call("GET", f"/admin/jobs?{query}")
            self.assertEqual(r.status, status, (query, r))
            self.assertIn("detail", r.json(), (query, r))
        r = self.c.call("GET", f"/admin/jobs?name={tag}")
        self.assertEqual(r.status, 403, r)
        r = self.admin("jobs", "--name", "x", "--owner", "a" * 257)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("422", r.stderr)
        r = self.admin("status", "--owner", "demo")
        self.assertEqual(r.returncode, 2, r.stderr)
        for job in (holiday, talk):
            self.c.call("POST", f"/jobs/{job['job_id']}/cancel")
        admin.call("POST", f"/jobs/{other['job_id']}/cancel")

    def test_refusals_have_exit_codes_scripts_can_trust(self):
        r = self.admin("status", password="wrong")
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("401", r.stderr)
        r = self.admin("status", user="demo", password="demo")
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("403", r.stderr)
        r = self.admin("status", url=f"http://127.0.0.1:{h.free_port()}")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("cannot reach", r.stderr)
        for bad in (["frobnicate"], ["job"], ["redrive"],
                    ["dlq", "--limit", "0"], ["status", "--bogus"]):
            r = self.admin(*bad)
            self.assertEqual(r.returncode, 2, (bad, r.stderr))
            self.assertIn("Usage: vidflow admin", r.stderr)
        r = self.admin("job", "no-such-job")
        self.assertEqual(r.returncode, 1)
        self.assertIn("404", r.stderr)
        # No worker node joined a node without a cluster port.
        r = self.admin("drain", "w1")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("404", r.stderr)
        r = self.admin("jobs", "--state", "DONE")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("422", r.stderr)
        for bad in (["drain"], ["status", "--state", "FAILED"],
                    ["status", "--cluster", "127.0.0.1:1"]):
            r = self.admin(*bad)
            self.assertEqual(r.returncode, 2, (bad, r.stderr))
        r = self.admin("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("Exit codes", r.stdout)


if __name__ == "__main__":
    h.main(__doc__)
