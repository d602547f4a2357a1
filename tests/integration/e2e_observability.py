#!/usr/bin/python3
"""End-to-end: what on-call runs with. The shipped Prometheus config, alert
rules (and their unit tests) and Grafana dashboard are checked with the
real tools, and Debian's `prometheus` scrapes a running node.

    /usr/bin/python3 tests/integration/e2e_observability.py --binary build/vidflow

Deadlines are correctness bounds only.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import unittest
import urllib.parse

sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402

OBS = os.path.join(h.REPO, "deploy", "observability")
SOURCE = "h264_aac_640x360.mp4"


def tool(name):
    path = shutil.which(name)
    if not path:
        raise AssertionError(f"{name} not found: make test installs Debian's "
                             f"prometheus package (deploy/install-deps.sh)")
    return path


class ShippedFiles(unittest.TestCase):
    def test_rules_are_valid_and_their_unit_tests_pass(self):
        r = subprocess.run([tool("promtool"), "check", "rules", "alerts.yml"],
                           cwd=OBS, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("SUCCESS: 7 rules found", r.stdout)
        r = subprocess.run([tool("promtool"), "test", "rules",
                            "alerts_test.yml"],
                           cwd=OBS, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("SUCCESS", r.stdout)

    def test_config_is_valid(self):
        r = subprocess.run([tool("promtool"), "check", "config",
                            "prometheus.yml"],
                           cwd=OBS, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_dashboard_queries_name_metrics_vidflow_exports(self):
        with open(os.path.join(OBS, "grafana-dashboard.json")) as f:
            dash = json.load(f)
        titles = [p["title"] for p in dash["panels"]]
        # What the reference design's dashboard shows, at least.
        self.assertIn("Jobs succeeded / failed per 5 min", titles)
        self.assertIn("API requests by route and method", titles)
        server = h.Server(h.binary)
        try:
            c = server.client()
            job = c.create_job("clip.mp4", "video/mp4")
            h.upload(job["upload_url"], h.read_bytes(h.clip(SOURCE)),
                     "video/mp4")
            c.wait_status(job["job_id"])
            # The task counters reach the metrics actor after the job's end
            # is visible (a separate message): wait for them, briefly.
            end = time.monotonic() + 15
            exported = set(h.metric_families(c.metrics()))
            while ("vidflow_tasks_total" not in exported
                   and time.monotonic() < end):
                time.sleep(0.1)
                exported = set(h.metric_families(c.metrics()))
        finally:
            server.stop()
        # Only a coordinator with worker nodes has these series
        # (integration.e2e_cluster checks them).
        exported.add("vidflow_node_slots")
        used = set()
        for p in dash["panels"]:
            for t in p["targets"]:
                used |= set(re.findall(r"\bvidflow_[a-z_]+", t["expr"]))
        base = {re.sub(r"_(bucket|sum|count)$", "", m) for m in used}
        missing = {m for m in base if m not in exported}
        self.assertFalse(missing, f"panels query metrics vidflow does not "
                                  f"export: {missing}")


class Scrape(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = h.Server(h.binary)
        cls.c = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def run_one_job(self):
        job = self.c.create_job("clip.mp4", "video/mp4")
        put = h.upload(job["upload_url"], h.read_bytes(h.clip(SOURCE)),
                       "video/mp4")
        self.assertEqual(put.status, 200, put)
        self.assertEqual(self.c.wait_status(job["job_id"])["status"],
                         "SUCCEEDED")

    def test_metrics_pass_promtool(self):
        self.run_one_job()
        text = self.c.metrics()
        r = subprocess.run([tool("promtool"), "check", "metrics"],
                           input=text, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        fams = h.metric_families(text)
        for name in ("vidflow_job_duration_seconds", "vidflow_jobs_ended_total",
                     "vidflow_queue_oldest_seconds", "vidflow_tasks_total",
                     "vidflow_webhook_deliveries_total",
                     "vidflow_storage_free_bytes", "vidflow_http_requests_total"):
            self.assertIn(name, fams)
        self.assertGreaterEqual(h.metric_value(
            text, "vidflow_job_duration_seconds_count", status="SUCCEEDED"), 1)

    def test_prometheus_scrapes_a_node_and_answers_a_query(self):
        self.run_one_job()
        work = os.path.join(h.scratch_dir(), "prometheus")
        os.makedirs(os.path.join(work, "targets", "workers"), exist_ok=True)
        shutil.copy(os.path.join(OBS, "alerts.yml"), work)
        with open(os.path.join(OBS, "prometheus.yml")) as f:
            cfg = f.read()
        cfg = cfg.replace('"127.0.0.1:8000"',
                          f'"127.0.0.1:{self.server.http_port}"')
        cfg = re.sub(r"(scrape|evaluation)_interval: 15s",
                     r"\1_interval: 1s", cfg)
        with open(os.path.join(work, "prometheus.yml"), "w") as f:
            f.write(cfg)
        port = h.free_port()
        prom = h.Process("prometheus", [
            tool("prometheus"),
            "--config.file=" + os.path.join(work, "prometheus.yml"),
            "--storage.tsdb.path=" + os.path.join(work, "data"),
            f"--web.listen-address=127.0.0.1:{port}"])
        try:
            base = f"http://127.0.0.1:{port}"
            self.assertTrue(h.wait_port(port, 30, prom.proc), prom.log_tail())

            def query(q):
                r = h.request("GET", base + "/api/v1/query?query="
                              + urllib.parse.quote(q), timeout=5)
                self.assertEqual(r.status, 200, r)
                return r.json()["data"]["result"]

            # The port opens before Prometheus is ready (it answers 503
            # while its storage starts): wait for /-/ready first.
            end = time.monotonic() + 60
            while h.request("GET", base + "/-/ready", timeout=5).status != 200:
                self.assertLess(time.monotonic(), end,
                                f"Prometheus never ready\n{prom.log_tail()}")
                time.sleep(0.2)
            while True:
                up = query('up{job="vidflow"}')
                done = query('vidflow_jobs_ended_total{status="SUCCEEDED"}')
                if up and done and float(done[0]["value"][1]) >= 1:
                    break
                self.assertLess(time.monotonic(), end,
                                f"up={up} done={done}\n{prom.log_tail()}")
                time.sleep(0.5)
            self.assertEqual(up[0]["value"][1], "1")
            self.assertEqual(up[0]["metric"]["role"], "coordinator")
            # The rules are loaded and evaluated against the node.
            r = h.request("GET", base + "/api/v1/rules", timeout=5)
            groups = r.json()["data"]["groups"]
            names = {rule["name"] for g in groups for rule in g["rules"]}
            self.assertIn("VidflowNodeDown", names)
            self.assertEqual(len(names), 7)
            firing = query('ALERTS{alertstate="firing"}')
            self.assertEqual(firing, [], "a healthy node fires alerts")
        finally:
            prom.stop()


if __name__ == "__main__":
    h.main(__doc__)
