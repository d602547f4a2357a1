#!/usr/bin/env python3
"""The web app (`/` and `/admin`) in a real browser.

    deploy/install-deps.sh --test     # Debian chromium, playwright-core
    /usr/bin/python3 tests/integration/e2e_web.py --binary build/vidflow

Headless Debian chromium (/usr/bin/chromium), driven by playwright-core
from build/tools (it downloads no browser), runs tests/web/browser_flow.mjs
against real vidflow processes started here. The script saves a screenshot
per step under build/test-output/e2e_web/<scenario>/ and fails on any
console error, failed request, unexpected 4xx/5xx or missing element.

- pages: plain HTTP checks of what the node serves: the pages with their
  Content-Security-Policy, the files with their types, hostile paths 404,
  the store's CORS preflight (the API's origin yes, another no),
  /admin/activity for admins only.
- user: one node; a user logs in with the keyboard only, drops a small
  file on the drop zone with a 240p rendition (one presigned PUT) and
  chooses a 12 MiB one with the keyboard, sent through multipart, cut after
  its first part, the page reloaded and the upload resumed; both followed
  live to done; plays the rendition and seeks (a 206 range answer), the
  view is counted, likes it, finds it first in the library sorted by
  likes; the API goes away (every request aborted): a banner, no blank
  page, and the app recovers by itself; builds a composition from a
  library clip with a text overlay and downloads it. The test then checks
  on the API what the browser did.
- multipart: the same resumable upload from the browser straight to
  s3rver (a node in `s3` mode; the bucket has a CORS rule for the app's
  origin, as a real bucket needs one).
- admin: a coordinator with a joined worker node `w1` and a dead letter
  made by an earlier run of the same data directory with every probe
  failing (the cause is gone now). An admin drains and undrains w1,
  redrives the dead letter, sees it running and then SUCCEEDED, opens its
  timeline, pauses and resumes intake and sees the charts.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402
import clusterlib as cx  # noqa: E402
from e2e_s3rver import ACCESS_KEY, SECRET_KEY, start_s3rver  # noqa: E402

USERS = "demo:demo:user,admin:admin:admin"
TOOLS = os.path.join(h.REPO, "build", "tools")
SCRIPT = os.path.join(h.REPO, "tests", "web", "browser_flow.mjs")
CHROMIUM = "/usr/bin/chromium"


def output_dir(scenario):
    """Screenshots stay after the run, beside the binary's build."""
    d = os.path.join(os.path.dirname(os.path.abspath(h.binary)),
                     "test-output", "e2e_web", scenario)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def browser_problems():
    node = shutil.which("node")
    problems = []
    if node is None:
        problems.append("node is not installed")
    if not os.access(CHROMIUM, os.X_OK):
        problems.append(f"{CHROMIUM} is missing")
    if not os.path.isfile(os.path.join(TOOLS, "node_modules",
                                       "playwright-core", "package.json")):
        problems.append(f"playwright-core is not installed in {TOOLS}")
    return problems


def make_clip(name, args, min_size=0):
    """A generated mp4 under the scratch folder, made once per run."""
    path = os.path.join(h.scratch_dir(), "clips", name)
    if os.path.exists(path):
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp.mp4"
    r = subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
         *args, "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
         "-movflags", "+faststart", tmp],
        capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"ffmpeg failed for {name}: {r.stderr}")
    size = os.path.getsize(tmp)
    if size < min_size:
        raise AssertionError(f"{name} is only {size} bytes")
    os.rename(tmp, path)
    return path


def large_clip():
    """12 MiB: three 5 MiB parts."""
    return make_clip("large.mp4", [
        "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-t", "5",
        "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "20M",
        "-maxrate", "20M", "-bufsize", "20M", "-x264-params", "nal-hrd=cbr"],
        min_size=11 << 20)


def small_clip():
    return make_clip("small.mp4", [
        "-f", "lavfi", "-i", "testsrc=size=640x360:rate=25", "-t", "4",
        "-c:v", "libx264", "-preset", "ultrafast"])


def run_browser(test, scenario, base_url, **extra):
    """Runs one scenario of browser_flow.mjs; returns its JSON summary."""
    out = output_dir(scenario)
    cfg = {"scenario": scenario, "base_url": base_url, "chromium": CHROMIUM,
           "tools_dir": TOOLS, "out_dir": out,
           "user": {"username": "demo", "password": "demo"},
           "admin": {"username": "admin", "password": "admin"}}
    cfg.update(extra)
    cfg_path = os.path.join(h.scratch_dir(), f"browser-{scenario}.json")
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)
    try:
        r = subprocess.run(["node", SCRIPT, cfg_path], capture_output=True,
                           text=True, timeout=420)
    except subprocess.TimeoutExpired as e:
        test.fail(f"browser scenario {scenario} ran over 420 s:\n"
                  f"{e.stdout}\n{e.stderr}")
    shots = sorted(n for n in os.listdir(out) if n.endswith(".png"))
    if r.returncode != 0:
        test.fail(f"browser scenario {scenario} failed (rc={r.returncode}); "
                  f"screenshots in {out}: {shots}\n--- stdout ---\n"
                  f"{r.stdout[-6000:]}\n--- stderr ---\n{r.stderr[-6000:]}")
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    test.assertTrue(lines, f"no JSON summary from the script:\n{r.stdout}")
    test.assertTrue(shots, f"no screenshot in {out}")
    print(f"  {scenario}: {len(shots)} screenshots in {out}",
          file=sys.stderr)
    return json.loads(lines[-1])


class Pages(unittest.TestCase):
    """What the node serves, over plain HTTP."""

    @classmethod
    def setUpClass(cls):
        cls.server = h.Server(h.binary, workers=1,
                              extra_args=("--users", USERS))

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_pages_files_and_their_policy(self):
        base = self.server.base
        store = f"http://127.0.0.1:{self.server.store_port}"
        for path, marker in (("/", "<html"), ("/admin", "<html")):
            r = h.request("GET", base + path)
            self.assertEqual(r.status, 200, r)
            self.assertIn(marker, r.text)
            self.assertTrue(r.headers["content-type"].startswith("text/html"))
            csp = r.headers["content-security-policy"]
            self.assertIn("default-src 'none'", csp)
            self.assertIn("script-src 'self';", csp)
            self.assertIn(f"connect-src 'self' {store};", csp)
            self.assertNotIn("unsafe", csp)
            self.assertEqual(r.headers["x-content-type-options"], "nosniff")
            self.assertEqual(r.headers["referrer-policy"], "no-referrer")
        # Every script and style the pages name is served with its type.
        page = h.request("GET", base + "/").text
        refs = re.findall(r'(?:src|href)="(/web/[^"]+)"', page)
        self.assertTrue(refs, page)
        for ref in refs:
            r = h.request("GET", base + ref)
            self.assertEqual(r.status, 200, f"{ref}: {r!r}")
            if ref.endswith(".js"):
                self.assertTrue(r.headers["content-type"]
                                .startswith("text/javascript"), ref)
        r = h.request("HEAD", base + "/")
        self.assertEqual(r.status, 200)
        # Hostile or unknown names: a JSON 404, never a file off the disk.
        for path in ("/web/..%2f..%2fvidflow.db", "/web/.hidden.js",
                     "/web/nothing.js", "/web/a%00.js", "/web/x.exe"):
            r = h.request("GET", base + path)
            self.assertEqual(r.status, 404, f"{path}: {r!r}")
            self.assertIn("code", r.json())
        # API routes are untouched.
        self.assertEqual(h.request("GET", base + "/history").status, 401)

    def test_the_store_lets_the_api_origin_in_and_no_other(self):
        store = f"http://127.0.0.1:{self.server.store_port}/uploads/x.mp4"
        ok = h.request("OPTIONS", store, headers={
            "Origin": self.server.base,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type"})
        self.assertEqual(ok.status, 200, ok)
        self.assertEqual(ok.headers["access-control-allow-origin"],
                         self.server.base)
        self.assertIn("PUT", ok.headers["access-control-allow-methods"])
        for headers in ({"Origin": "http://evil.example",
                         "Access-Control-Request-Method": "PUT"},
                        {"Origin": self.server.base,
                         "Access-Control-Request-Method": "DELETE"},
                        {"Origin": self.server.base,
                         "Access-Control-Request-Method": "PUT",
                         "Access-Control-Request-Headers":
                             "content-type, x-a:b;<script>"}):
            # (A header name list the store would not echo back as is.)
            r = h.request("OPTIONS", store, headers=headers)
            self.assertEqual(r.status, 403, f"{headers}: {r!r}")
            self.assertNotIn("access-control-allow-origin", r.headers)

    def test_activity_is_for_admins(self):
        c = self.server.client()
        self.assertEqual(c.call("GET", "/admin/activity").status, 403)
        c.login("admin", "admin")
        r = c.call("GET", "/admin/activity")
        self.assertEqual(r.status, 200, r)
        minutes = r.json()["minutes"]
        self.assertEqual(len(minutes), 60)
        self.assertEqual(set(minutes[0]), {"start", "succeeded", "failed",
                                           "cancelled", "expired", "p95_ms"})


class Browser(unittest.TestCase):
    """The scenarios in headless chromium."""

    def setUp(self):
        problems = browser_problems()
        if problems:
            self.fail("cannot run the browser tests: " + "; ".join(problems)
                      + " (deploy/install-deps.sh --test installs them)")

    def test_user_uploads_follows_watches_and_likes(self):
        server = h.Server(h.binary, workers=2,
                          extra_args=("--users", USERS))
        try:
            summary = run_browser(self, "user", server.base,
                                  files={"small": small_clip(),
                                         "large": large_clip(),
                                         "picture": h.clip("picture.png")})
            # What the browser did, as the API sees it.
            c = server.client()
            jobs = c.history()
            done = [j for j in jobs if j["status"] == "SUCCEEDED"
                    and "composition" not in (j.get("outputs") or {})
                    and "asset" not in (j.get("outputs") or {})]
            self.assertEqual(len(done), 2, jobs)
            pictures = c.call("GET", "/assets?kind=image").json()["items"]
            self.assertEqual([(a["filename"], a["status"]) for a in pictures],
                             [("picture.png", "ready")], pictures)
            comps = c.call("GET", "/compositions").json()["items"]
            self.assertEqual([(x["title"], x["status"]) for x in comps],
                             [("Browser teaser", "completed")], comps)
            videos = c.call("GET", "/videos?sort_by=likes").json()["items"]
            self.assertEqual(videos[0]["likes"], 1, videos)
            self.assertGreaterEqual(videos[0]["views"], 1, videos)
            big = [j for j in done if j["filename"] == "large.mp4"]
            self.assertEqual(len(big), 1, done)
            r = c.call("GET", f"/jobs/{big[0]['job_id']}/result")
            self.assertEqual(r.status, 200, r)
            # The object the parts made is the file, byte for byte long.
            self.assertEqual(r.json()["metadata"]["format"]["size"],
                             str(os.path.getsize(large_clip())))
            print(f"  user summary: {summary}", file=sys.stderr)
        finally:
            server.stop()

    def test_multipart_upload_to_s3rver_in_s3_mode(self):
        http_port = h.free_port()
        s3_port = h.free_port()
        origin = f"http://127.0.0.1:{http_port}"
        s3rver = start_s3rver(s3_port, f"{origin}/minio/webhook",
                              cors_origin=origin)
        endpoint = f"http://127.0.0.1:{s3_port}"
        try:
            server = h.Server(
                h.binary, http_port=http_port, workers=2,
                extra_args=("--users", USERS, "--store-mode", "s3",
                            "--store-endpoint", endpoint,
                            "--public-url", endpoint, "--bucket", "uploads",
                            "--access-key", ACCESS_KEY,
                            "--secret-key", SECRET_KEY))
            try:
                run_browser(self, "multipart", server.base,
                            files={"large": large_clip()})
                c = server.client()
                done = [j for j in c.history()
                        if j["status"] == "SUCCEEDED"]
                self.assertEqual([j["filename"] for j in done],
                                 ["large.mp4"], c.history())
            finally:
                server.stop()
        finally:
            s3rver.stop()

    def test_admin_drains_redrives_and_watches(self):
        data = os.path.join(h.scratch_dir(), "admin-data")
        os.makedirs(data)
        # Run 1: every probe fails, one attempt: a dead letter.
        first = h.Server(h.binary, workers=1, data_dir=data, extra_args=(
            "--users", USERS, "--pipeline", "sleep,probe,summarize",
            "--sleep-ms", "10", "--fault-rate", "1",
            "--fault-code", "storage_unavailable", "--max-attempts", "1"))
        try:
            c = first.client()
            job = c.create_job("dead.mp4", "video/mp4")
            put = h.upload(job["upload_url"], h.read_bytes(small_clip()),
                           "video/mp4")
            self.assertEqual(put.status, 200, put)
            self.assertEqual(c.wait_status(job["job_id"])["status"], "FAILED")
        finally:
            first.stop()
        # Run 2: the same data as a coordinator with a worker node; the
        # cause is gone. A 6 s sleep step keeps the redriven job running
        # long enough to be seen.
        certs = cx.Certs(h.binary)
        certs.make("coordinator", "w1")
        coord = cx.Coordinator(h.binary, certs, sleep_ms=6000,
                               extra_args=("--users", USERS))
        coord.data_dir = data
        coord.start()
        w1 = cx.WorkerNode(h.binary, "w1", coord.join_address(),
                           certs.args("w1")).start()
        try:
            coord.wait_nodes("w1 joined",
                             lambda ns: "w1" in ns)
            run_browser(self, "admin", coord.base, node="w1",
                        dead_letter_job=job["job_id"],
                        files={"small": small_clip()})
            admin = coord.admin()
            r = admin.call("GET", f"/admin/jobs/{job['job_id']}")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["job"]["status"], "SUCCEEDED",
                             r.json())
            self.assertGreaterEqual(r.json()["job"]["series"], 1, r.json())
            r = admin.call("GET", "/admin/status")
            self.assertFalse(r.json()["paused"], r.json())
            nodes = coord.nodes()
            self.assertFalse(nodes["w1"].get("draining"), nodes)
        finally:
            w1.stop()
            coord.stop()


if __name__ == "__main__":
    h.main(__doc__)
