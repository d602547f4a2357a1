#!/usr/bin/python3
"""`vidflow admin --cluster`: the operators' CLI against a coordinator's
admin console over CAF's network layer (the cluster's mutual TLS with the
admin client certificate from `vidflow cluster init-certs`, plus the
cluster admin key), with two worker nodes joined.

    /usr/bin/python3 tests/integration/e2e_cluster_admin.py \\
        --binary build/vidflow

Checked, with `--json` output parsed and exit codes asserted:
- status lists both worker nodes (tables name them too); the HTTP API's
  /cluster/nodes agrees;
- drain w1: status and /cluster/nodes show it draining, and a batch of jobs
  then runs its sleep steps on w2 only; undrain w1: the next batch uses w1
  again;
- jobs shows jobs in flight; job ID shows the attempt ledger;
- pause: POST /jobs answers 503 with Retry-After; resume: 201 again;
- dlq lists a job whose upload is not media; redrive --job puts it back;
- refusals: a certificate from another CA (exit 3), the right certificate
  with a wrong admin key (exit 4), missing files (exit 2), an unknown node
  (exit 1);
- w1 serves its own /metrics (`--metrics-listen`): it passes `promtool
  check metrics` and counts the tasks w1 ran; the coordinator counts the
  dead letter by category.

Deadlines are correctness bounds only.
"""

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402
import chaoslib as cl  # noqa: E402
import clusterlib as cx  # noqa: E402

SLEEP_MS = 2500


class ClusterAdmin(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.certs = cx.Certs(h.binary).make("coordinator", "w1", "w2")
        cls.coord = cx.Coordinator(h.binary, cls.certs,
                                   pipeline="sleep,probe,summarize",
                                   sleep_ms=SLEEP_MS).start()
        join = cls.coord.join_address()
        cls.metrics_port = h.free_port()
        extra = {"w1": ["--metrics-listen",
                        f"127.0.0.1:{cls.metrics_port}"]}
        cls.nodes = [cx.WorkerNode(h.binary, name, join,
                                   cls.certs.args(name), slots=2,
                                   extra_args=extra.get(name, [])).start()
                     for name in ("w1", "w2")]
        cls.coord.wait_nodes("w1 and w2 joined",
                             lambda ns: {"w1", "w2"} <= set(ns))
        cls.client = cls.coord.client()

    @classmethod
    def tearDownClass(cls):
        for n in cls.nodes:
            n.stop()
        cls.coord.stop()

    def cli(self, *args, certs=None, cluster=None):
        argv = [h.binary, "admin", *args,
                "--cluster", cluster or self.coord.join_address(),
                "--certs", certs or self.certs.dir]
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("VIDFLOW_ADMIN")}
        return subprocess.run(argv, capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL, env=env)

    def cli_json(self, *args):
        r = self.cli(*args, "--json")
        self.assertEqual(r.returncode, 0, f"{args}: {r.stderr}")
        return json.loads(r.stdout)

    def sleeps_by_node(self, job_ids):
        with contextlib.closing(self.coord.db()) as conn:
            rows = conn.execute(
                "SELECT job_id, worker FROM attempts WHERE kind = 'sleep' "
                "AND ok = 1").fetchall()
        out = {}
        for job_id, worker in rows:
            if job_id in job_ids:
                out.setdefault(cx.node_of(worker), []).append(job_id)
        return out

    def batch(self, n, tag):
        jobs = cx.submit_jobs(self.client, n, tag=tag)
        return jobs

    def finish(self, jobs):
        last = cx.wait_terminal(self.client, jobs, deadline_s=240)
        bad = {k: v.get("status") for k, v in last.items()
               if v.get("status") != "SUCCEEDED"}
        self.assertEqual(bad, {}, "jobs that did not succeed")

    # -- tests (unittest runs them in name order) --------------------------

    def test_1_status_lists_both_nodes(self):
        x = self.cli_json("status")
        names = {n["name"]: n for n in x["nodes"]}
        self.assertEqual(set(names), {"w1", "w2"})
        for n in names.values():
            self.assertFalse(n["draining"])
            self.assertEqual(n["slots"], 2)
            self.assertEqual(set(n["kinds"]),
                             {"probe", "summarize", "sleep", "render",
                              "compose"})
            self.assertEqual(n["busy"], 0)
        # The HTTP route asks the same console: the same nodes, kinds, busy.
        http_nodes = self.coord.nodes()
        for name, n in names.items():
            self.assertEqual(http_nodes[name]["kinds"], n["kinds"])
            self.assertEqual(http_nodes[name]["busy"], n["busy"])
        self.assertFalse(x["paused"])
        self.assertIn("queue", x)
        table = self.cli("status")
        self.assertEqual(table.returncode, 0, table.stderr)
        self.assertIn("w1", table.stdout)
        self.assertIn("w2", table.stdout)
        self.assertIn("active", table.stdout)
        self.assertIn("BUSY", table.stdout)

    def test_2_drain_and_undrain(self):
        x = self.cli_json("drain", "w1")
        self.assertEqual(x["node"], "w1")
        self.assertTrue(x["draining"])
        status = {n["name"]: n for n in self.cli_json("status")["nodes"]}
        self.assertTrue(status["w1"]["draining"])
        self.assertFalse(status["w2"]["draining"])
        # The HTTP API asks the same actors: it agrees.
        self.assertTrue(self.coord.nodes()["w1"]["draining"])
        jobs = self.batch(6, "drained")
        ids = {s.job_id for s in jobs}
        # In flight: `jobs` shows them (each sleeps 2.5 s on 2 slots).
        active = self.cli_json("jobs")
        seen = {j["job_id"] for j in active["items"]} & ids
        self.assertTrue(seen, f"no job of the batch in {active}")
        for j in active["items"]:
            self.assertGreaterEqual(j["age_s"], 0)

        # While the batch runs, w2's slots are busy and drained w1's idle.
        def busy():
            ns = {n["name"]: n for n in self.cli_json("status")["nodes"]}
            return ns if ns["w2"]["busy"] > 0 else None
        ns = cx.wait_until("w2 busy in status", busy, deadline_s=60,
                           interval_s=0.3)
        self.assertEqual(ns["w1"]["busy"], 0)
        self.assertLessEqual(ns["w2"]["busy"], 2)
        self.finish(jobs)
        by_node = self.sleeps_by_node(ids)
        self.assertEqual(set(by_node), {"w2"},
                         f"sleep steps while w1 drained: {by_node}")
        detail = self.cli_json("job", jobs[0].job_id)
        self.assertEqual(detail["job"]["status"], "SUCCEEDED")
        self.assertEqual({a["kind"] for a in detail["attempts"]},
                         {"sleep", "probe", "summarize"})
        done = self.cli_json("jobs", "--state", "succeeded", "--limit", "3")
        self.assertEqual(len(done["items"]), 3)
        self.assertEqual({j["status"] for j in done["items"]}, {"SUCCEEDED"})
        # The search over the cluster port: a state and a file name.
        found = self.cli_json("jobs", "--state", "SUCCEEDED", "--name",
                              detail["job"]["filename"])
        self.assertEqual([j["job_id"] for j in found["items"]],
                         [jobs[0].job_id])
        bogus = self.cli("jobs", "--state", "bogus")
        self.assertEqual(bogus.returncode, 1, bogus.stderr)
        self.assertIn("state must be a job status", bogus.stderr)
        x = self.cli_json("undrain", "w1")
        self.assertFalse(x["draining"])
        status = {n["name"]: n for n in self.cli_json("status")["nodes"]}
        self.assertFalse(status["w1"]["draining"])
        jobs = self.batch(8, "undrained")
        self.finish(jobs)
        by_node = self.sleeps_by_node({s.job_id for s in jobs})
        self.assertIn("w1", by_node, f"w1 ran nothing after undrain: "
                                     f"{by_node}")

    def test_3_pause_and_resume(self):
        self.assertTrue(self.cli_json("pause")["paused"])
        try:
            r = self.client.call("POST", "/jobs", {"filename": "a.mp4"})
            self.assertEqual(r.status, 503, r)
            self.assertEqual(r.json()["code"], "intake_paused")
            self.assertIsNotNone(r.headers.get("retry-after"))
            self.assertTrue(self.cli_json("status")["paused"])
        finally:
            self.assertFalse(self.cli_json("resume")["paused"])
        r = self.client.call("POST", "/jobs", {"filename": "a.mp4"})
        self.assertEqual(r.status, 201, r)

    def test_4_dlq_and_redrive(self):
        r = self.client.call("POST", "/jobs", {"filename": "junk.mp4",
                                               "content_type": "video/mp4"})
        self.assertEqual(r.status, 201, r)
        job = r.json()
        put = h.upload(job["upload_url"], b"not a video at all" * 64,
                       "video/mp4")
        self.assertEqual(put.status, 200, put)

        def dead():
            items = self.cli_json("dlq")["items"]
            return [d for d in items if d["job_id"] == job["job_id"]]
        letters = cx.wait_until("a dead letter for the junk upload", dead,
                                deadline_s=120, interval_s=0.5)
        self.assertEqual(letters[0]["error_code"], "bad_media")
        # /metrics counts it by the incident category the report uses.
        metrics = self.client.metrics()
        self.assertRegex(metrics,
                         r'vidflow_dead_letters_total\{category="bad_media"\} '
                         r'[1-9]')
        inc = self.cli_json("incidents")
        self.assertIn("categories", inc)
        x = self.cli_json("redrive", "--job", job["job_id"])
        self.assertEqual(x["job_id"], job["job_id"])
        self.assertIn(x["status"], ("SUBMITTED", "PROCESSING"))
        # Redriven once: a second redrive of the same letter is refused.
        again = self.cli("redrive", "--job", job["job_id"])
        self.assertEqual(again.returncode, 1, again.stderr)

    def test_6_worker_node_metrics(self):
        import urllib.request
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as r:
            self.assertEqual(r.status, 200)
            text = r.read().decode()
        promtool = shutil.which("promtool")
        self.assertIsNotNone(promtool, "make test installs prometheus")
        r = subprocess.run([promtool, "check", "metrics"], input=text,
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(text, r'vidflow_node_coordinator_connected'
                               r'\{node="w1"\} 1')
        self.assertRegex(text, r'vidflow_node_worker_slots\{node="w1"\} 2')
        # test_2 ran sleep steps on w1 after undrain.
        ok_sleeps = re.search(r'vidflow_node_tasks_total\{kind="sleep",'
                              r'outcome="ok"\} (\d+)', text)
        self.assertIsNotNone(ok_sleeps, text[:3000])
        self.assertGreater(int(ok_sleeps.group(1)), 0)

    def test_5_refusals(self):
        scratch = tempfile.mkdtemp(prefix="admin-certs-", dir=h.scratch_dir())
        # A whole other CA: the TLS handshake fails, nothing is asked.
        other = cx.Certs(h.binary, os.path.join(scratch, "other")).make("x")
        r = self.cli("status", certs=other.dir)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("cannot reach", r.stderr)
        # The right certificate with a wrong admin key: TLS passes, the
        # registry refuses to hand out the gate.
        wrong = os.path.join(scratch, "wrong")
        shutil.copytree(self.certs.dir, wrong)
        with open(os.path.join(wrong, "admin.secret"), "w") as f:
            f.write("00" * 32 + "\n")
        r = self.cli("status", certs=wrong)
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("refused the admin key", r.stderr)
        r = self.cli("pause", certs=wrong)
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertFalse(self.cli_json("status")["paused"])
        # The console's own gate: a CLI that got its handle with the right
        # key but never asked to be admitted is refused everything.
        for cmd in (["status"], ["pause"], ["drain", "w2"]):
            r = self.cli(*cmd, "--testing-skip-admit")
            self.assertEqual(r.returncode, 4, (cmd, r.stderr))
            self.assertIn("admit", r.stderr)
        status = self.cli_json("status")
        self.assertFalse(status["paused"])
        self.assertFalse({n["name"]: n for n in status["nodes"]}["w2"]
                         ["draining"])
        # Missing files: told which.
        empty = os.path.join(scratch, "empty")
        os.makedirs(empty)
        r = self.cli("status", certs=empty)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("ca.pem", r.stderr)
        # Unknown node: the console's 404.
        r = self.cli("drain", "nosuchnode")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("nosuchnode", r.stderr)
        # Nothing listens there.
        r = self.cli("status", cluster=f"127.0.0.1:{h.free_port()}")
        self.assertEqual(r.returncode, 3, r.stderr)


if __name__ == "__main__":
    h.main(__doc__)
