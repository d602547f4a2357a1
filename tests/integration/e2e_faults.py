#!/usr/bin/env python3
"""Retries, dead letters and redrive against the real binary, with the
test-only failure injection switch (--fault-rate / --fault-code).

Exact backoff timing is checked on the deterministic test clock in
actors.orchestrator; here the switch proves the real node retries, buries
and redrives: attempts visible in GET /jobs/{id}, every attempt in the
ledger, a dead letter classified by code, a redrive that runs once.
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vfharness as h  # noqa: E402


def submit(client, path, name):
    job = client.create_job(name, "video/mp4")
    r = h.upload(job["upload_url"], h.read_bytes(path))
    if r.status != 200:
        raise AssertionError(f"upload of {name} → {r!r}")
    return job["job_id"]


class TransientFaults(unittest.TestCase):
    """Every probe fails with a transient code: retried, then buried."""

    @classmethod
    def setUpClass(cls):
        cls.server = h.Server(h.binary, extra_args=[
            "--fault-rate", "1", "--fault-code", "timeout",
            "--max-attempts", "3", "--backoff-base-ms", "50",
            "--backoff-cap-ms", "200"])
        cls.user = cls.server.client()
        cls.admin = h.Client(cls.server.base)
        cls.admin.login("admin", "admin")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_retry_then_dead_letter_then_redrive_once(self):
        job_id = submit(self.user, h.clip("h264_aac.mp4"), "clip.mp4")
        job = self.user.wait_status(job_id, "FAILED", deadline_s=60)
        self.assertEqual(job["error_code"], "timeout")
        self.assertEqual(job["attempts"], 3)
        self.assertIn("injected fault", job["error_message"])
        ledger = self.user.call("GET", f"/jobs/{job_id}/attempts")
        self.assertEqual(ledger.status, 200, ledger)
        items = ledger.json()["items"]
        self.assertEqual([a["attempt"] for a in items], [1, 2, 3])
        self.assertTrue(all(not a["ok"] and a["error_code"] == "timeout"
                            for a in items))
        # The dead letter keeps every attempt; users may not see it.
        self.assertEqual(self.user.call("GET", f"/dlq/{job_id}").status, 403)
        dl = self.admin.call("GET", f"/dlq/{job_id}")
        self.assertEqual(dl.status, 200, dl)
        self.assertEqual(len(dl.json()["attempts"]), 3)
        self.assertEqual(dl.json()["kind"], "probe")
        report = self.admin.call("GET", "/dlq/report").json()
        self.assertIn("timeout", report["categories"])
        self.assertGreaterEqual(report["categories"]["timeout"]["count"], 1)
        # Redrive: runs once with a new series (and fails again: the
        # switch is still on); the second redrive of the record is refused.
        r1 = self.admin.call("POST", "/dlq/redrive", {"job_id": job_id})
        self.assertEqual(r1.status, 200, r1)
        self.assertEqual(r1.json()["series"], 1)
        job = self.user.wait_status(job_id, "FAILED", deadline_s=60)
        self.assertEqual(job["series"], 1)
        r2 = self.admin.call("POST", "/dlq/redrive", {"job_id": job_id})
        # The series-1 record is new and open: one more redrive is allowed,
        # but never two for the same record.
        self.assertEqual(r2.status, 200, r2)
        r3 = self.admin.call("POST", "/dlq/redrive", {"job_id": job_id})
        self.assertEqual(r3.status, 409, r3)
        # Evidence stays until an operator removes it.
        self.assertEqual(self.admin.call("GET", f"/dlq/{job_id}").status, 200)


class PermanentFaults(unittest.TestCase):
    """A permanent code fails fast: one attempt, no retries."""

    @classmethod
    def setUpClass(cls):
        cls.server = h.Server(h.binary, extra_args=[
            "--fault-rate", "1", "--fault-code", "bad_media",
            "--max-attempts", "5"])
        cls.user = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_fail_fast(self):
        job_id = submit(self.user, h.clip("h264_aac.mp4"), "clip.mp4")
        job = self.user.wait_status(job_id, "FAILED", deadline_s=60)
        self.assertEqual(job["error_code"], "bad_media")
        self.assertEqual(job["attempts"], 1)


class SomeFaults(unittest.TestCase):
    """Half the probes fail transiently: with enough attempts, all succeed."""

    @classmethod
    def setUpClass(cls):
        cls.server = h.Server(h.binary, extra_args=[
            "--fault-rate", "0.5", "--fault-code", "storage_unavailable",
            "--max-attempts", "20", "--backoff-base-ms", "10",
            "--backoff-cap-ms", "50"])
        cls.user = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_all_succeed_with_retries(self):
        ids = h.run_parallel(
            lambda i: submit(self.user, h.clip("h264_aac.mp4"), f"c{i}.mp4"),
            range(12), max_workers=6)
        retried = 0
        for job_id in ids:
            self.user.wait_status(job_id, "SUCCEEDED", deadline_s=120)
            items = self.user.call("GET", f"/jobs/{job_id}/attempts").json()[
                "items"]
            oks = [a["kind"] for a in items if a["ok"]]
            self.assertEqual(sorted(oks), ["probe", "summarize"], items)
            retried += sum(1 for a in items if not a["ok"])
        # With 12 jobs at a 50% fault rate, a run without any retry has
        # probability 2^-12: the switch must have been exercised.
        self.assertGreater(retried, 0)


if __name__ == "__main__":
    h.main(__doc__)
