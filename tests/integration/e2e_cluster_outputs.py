#!/usr/bin/python3
"""Media outputs made on worker nodes: a coordinator without local workers
and two worker nodes on 127.0.0.1.

    /usr/bin/python3 tests/integration/e2e_cluster_outputs.py \\
        --binary build/vidflow [--keep]

`vidflow serve --workers 0 --pipeline probe,summarize` with a cluster port
and two `vidflow worker` nodes (1 slot each, default kinds, which include
`render`). Worker nodes hold no store credentials: each render lease
carries a presigned GET of the upload and one presigned PUT per output,
signed by the coordinator for exactly those keys.

test_renders_run_on_worker_nodes: three jobs, each with two renditions and
two thumbnails. Every render attempt is recorded by a worker node (never
the coordinator); every output is downloaded through the presigned URL the
API hands out and checked with ffprobe (codec, size, duration within 0.1 s
of the source); the coordinator's store holds exactly one object per
output made and no partial upload; the nodes' render folders are empty.

test_one_render_spread_over_two_nodes: with both nodes idle, a job's two
renditions are made as two parts on both nodes (dispatcher split, media
adapter grouping); one render outcome is recorded (its worker lists both),
progress names each output's node, and the outputs are whole.

test_node_killed_mid_encode: one job rendering a 20 s 720p clip to 720p
and 360p, spread over both nodes. Once `GET /jobs/{id}` shows a rendition
running on a node at 5 % or more, that node gets SIGKILL. Only its part
is leased again (the other node's part runs on): the other node makes it
once its own is done; one render attempt is recorded, made by the other
node alone; the job SUCCEEDED with exactly one object per output (no
second object, no partial one) and both renditions have the source's
duration.

test_reuse_on_a_worker_node: the same bytes and recipe a second time: the
render leased to a worker node copies the first job's outputs through
presigned GETs (`reused_from`), stores them as the second job's own
through presigned PUTs, and they outlive the first job's deletion.

test_compositions_render_on_worker_nodes: two assets (a video and a song)
uploaded through POST /assets and probed on worker nodes, then a
composition of two clips of the video with the song and an overlay: its
compose task runs on a worker node, which reads both assets through
presigned GETs and stores the file through a presigned PUT; the file
downloads with the composition's length and size; the coordinator's store
holds it once and no partial upload.

Deadlines are correctness bounds, never performance assertions.
"""

import contextlib
import json
import os
import sys
import time
import unittest

sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402
import clusterlib as cx  # noqa: E402

SOURCE = "h264_aac_640x360.mp4"  # 640x360, 3 s, 25 fps, AAC
NODES = ("w1", "w2")


def outputs_on_disk(coord, jid):
    """Names of the objects under outputs/<jid>/ in the coordinator's
    built-in store."""
    folder = os.path.join(coord.data_dir, "objects", "uploads", "outputs",
                          jid)
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def partial_uploads(coord):
    folder = os.path.join(coord.data_dir, "objects", ".partial")
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def render_leftovers(node):
    """Work folders left in a worker node's render slots."""
    left = []
    tmp = os.path.join(node.data_dir, "tmp")
    if not os.path.isdir(tmp):
        return left
    for slot in os.listdir(tmp):
        if slot.startswith("render-"):
            left += [f"{slot}/{x}" for x in
                     os.listdir(os.path.join(tmp, slot))]
    return left


def render_attempts(coord, jid, kind="render"):
    with contextlib.closing(coord.db()) as conn:
        return [dict(r) for r in conn.execute(
            "SELECT lease_id, attempt, ok, error_code, worker FROM attempts "
            "WHERE job_id = ? AND kind = ? ORDER BY id", (jid, kind))]


def render_nodes(row):
    """Nodes that made a render: a render spread over parts is recorded
    with its parts' workers joined by '+'."""
    return {cx.node_of(w) for w in (row["worker"] or "").split("+") if w}


def probe_download(url, suffix):
    r = h.request("GET", url, timeout=60)
    if r.status != 200:
        raise AssertionError(f"GET {url.split('?')[0]} → {r!r}")
    path = os.path.join(h.scratch_dir(), f"dl-{time.monotonic_ns()}{suffix}")
    with open(path, "wb") as f:
        f.write(r.body)
    return h.ffprobe(path), len(r.body)


class ClusterOutputs(unittest.TestCase):

    def setUp(self):
        self.coord = None
        self.workers = {}
        certs = cx.Certs(h.binary).make("coordinator", *NODES)
        # JSON logs on every node: test_one_request_id_through_the_logs
        # reads them.
        self.coord = cx.Coordinator(h.binary, certs,
                                    pipeline="probe,summarize",
                                    extra_args=("--log-format",
                                                "json")).start()
        for n in NODES:
            self.workers[n] = cx.WorkerNode(
                h.binary, n, self.coord.join_address(), certs.args(n),
                slots=1, extra_args=("--log-format", "json")).start()
        self.coord.wait_nodes(f"nodes {NODES} registered",
                              lambda ns: all(n in ns for n in NODES))
        self.c = self.coord.client()

    def tearDown(self):
        for w in self.workers.values():
            if w.alive():
                w.stop(deadline_s=20)
        if self.coord is not None:
            self.coord.stop()

    def submit(self, path, outputs):
        r = self.c.call("POST", "/jobs", {"filename": "clip.mp4",
                                          "content_type": "video/mp4",
                                          "outputs": outputs})
        self.assertEqual(r.status, 201, r)
        job = r.json()
        put = h.upload(job["upload_url"], h.read_bytes(path), "video/mp4")
        self.assertEqual(put.status, 200, put)
        return job["job_id"]

    def succeeded(self, jid, deadline_s=180):
        job = self.c.wait_status(jid, h.TERMINAL, deadline_s=deadline_s)
        logs = "\n".join(f"--- {n} ---\n{w.log_text()[-3000:]}"
                         for n, w in self.workers.items())
        self.assertEqual(job["status"], "SUCCEEDED",
                         f"{job}\n--- coordinator ---\n"
                         f"{self.coord.log_text()[-3000:]}\n{logs}")
        r = self.c.result(jid)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def check_renditions(self, res, want_duration, names):
        got = {x["name"]: x for x in res["outputs"]["renditions"]}
        self.assertEqual(sorted(got), sorted(names), res)
        for name, x in got.items():
            self.assertNotIn("skipped", x, x)
            info, size = probe_download(x["url"], ".mp4")
            self.assertEqual(size, x["bytes"], x)
            video = [s for s in info["streams"]
                     if s["codec_type"] == "video"][0]
            self.assertEqual(video["codec_name"], "h264", name)
            self.assertEqual(int(video["height"]), x["height"], name)
            self.assertEqual(int(video["width"]), x["width"], name)
            self.assertLess(abs(float(info["format"]["duration"])
                                - want_duration), 0.1, (name, info["format"]))

    def json_lines(self, text, who):
        """Every line of a JSON log, parsed (a line that is not one JSON
        object fails the test)."""
        out = []
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                self.fail(f"{who}: a log line is not JSON: {line!r}")
        return out

    def test_one_request_id_through_the_logs(self):
        rid = "req-e2e-" + os.urandom(6).hex()
        r = self.c.call("POST", "/jobs",
                        {"filename": "clip.mp4", "content_type": "video/mp4",
                         "outputs": {"thumbnails": ["small"]}},
                        headers={"X-Request-ID": rid})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.headers.get("x-request-id"), rid)
        job = r.json()
        put = h.upload(job["upload_url"], h.read_bytes(h.clip(SOURCE)),
                       "video/mp4")
        self.assertEqual(put.status, 200, put)
        self.succeeded(job["job_id"])
        self.assertEqual(self.c.get_job(job["job_id"])["job_id"],
                         job["job_id"])
        # One grep for the id shows the job's whole path: the coordinator
        # took the upload, handed out each step and ended the job...
        coord = [x for x in self.json_lines(self.coord.log_text(),
                                            "coordinator")
                 if x.get("request_id") == rid]
        msgs = [x["msg"] for x in coord]
        self.assertTrue(any(m.startswith("upload taken") for m in msgs), msgs)
        for kind in ("probe", "summarize", "render"):
            self.assertTrue(any(m.startswith(f"step {kind} attempt 1 queued")
                                for m in msgs), (kind, msgs))
        self.assertTrue(any(m.startswith("job ended SUCCEEDED")
                            for m in msgs), msgs)
        for x in coord:
            self.assertEqual(x["job_id"], job["job_id"], x)
            self.assertEqual(x["component"], "orchestrator", x)
        # ... and the worker nodes ran them (the coordinator has none).
        ran = {}
        for n, w in self.workers.items():
            for x in self.json_lines(w.log_text(), n):
                if x.get("request_id") != rid:
                    continue
                self.assertEqual(x["node"], n, x)
                self.assertEqual(x["job_id"], job["job_id"], x)
                verb, kind = x["msg"].split()[:2]
                ran.setdefault(kind, set()).add(verb)
        self.assertEqual(ran, {"probe": {"started", "finished"},
                               "summarize": {"started", "finished"},
                               "render": {"started", "finished"}}, ran)
        # An id that could forge or split log lines is replaced by a fresh
        # one (echoed, so the client can still quote it).
        r = self.c.call("GET", f"/jobs/{job['job_id']}",
                        headers={"X-Request-ID": "two words"})
        self.assertEqual(r.status, 200, r)
        self.assertRegex(r.headers.get("x-request-id", ""),
                         "^req-[0-9a-f]{24}$")

    def asset(self, clip, kind, ctype):
        r = self.c.call("POST", "/assets", {"filename": "a" + os.path.splitext(clip)[1],
                                            "content_type": ctype,
                                            "kind": kind})
        self.assertEqual(r.status, 201, r)
        a = r.json()
        put = h.upload(a["upload_url"], h.read_bytes(h.clip(clip)), ctype)
        self.assertEqual(put.status, 200, put)
        end = time.monotonic() + 120
        while True:
            got = self.c.call("GET", f"/assets/{a['asset_id']}").json()
            if got["status"] == "ready":
                return a["asset_id"]
            self.assertEqual(got["status"], "processing", got)
            self.assertLess(time.monotonic(), end, got)
            time.sleep(0.05)

    def test_compositions_render_on_worker_nodes(self):
        video = self.asset(SOURCE, "video", "video/mp4")
        song = self.asset("audio_only.m4a", "audio", "audio/mp4")
        body = {"title": "on a worker node",
                "clips": [{"asset_id": video, "start": 0, "end": 1.5},
                          {"asset_id": video, "start": 2, "end": 3}],
                "audio": {"music_asset": song, "music_volume": 0.3},
                "overlays": [{"text": "hello", "position": "center"}],
                "output": {"resolution": "480p", "fps": 25}}
        r = self.c.call("POST", "/compositions", body)
        self.assertEqual(r.status, 202, r)
        cid = r.json()["composition_id"]
        self.succeeded(cid)
        attempts = render_attempts(self.coord, cid, "compose")
        self.assertEqual(len(attempts), 1, attempts)
        self.assertTrue(attempts[0]["ok"], attempts)
        self.assertIn(cx.node_of(attempts[0]["worker"]), NODES, attempts)
        d = self.c.call("GET", f"/compositions/{cid}/download")
        self.assertEqual(d.status, 200, d)
        info, size = probe_download(d.json()["download_url"], ".mp4")
        self.assertEqual(size, d.json()["bytes"])
        self.assertLess(abs(float(info["format"]["duration"]) - 2.5), 0.15,
                        info["format"])
        v = [s for s in info["streams"] if s["codec_type"] == "video"][0]
        self.assertEqual((v["width"], v["height"]), (854, 480))
        self.assertEqual(outputs_on_disk(self.coord, cid),
                         ["composition.mp4"])
        self.assertEqual(partial_uploads(self.coord), [])
        for n, w in self.workers.items():
            self.assertEqual(render_leftovers(w), [], n)

    def test_renders_run_on_worker_nodes(self):
        src = h.clip(SOURCE)
        want = float(h.ffprobe(src)["format"]["duration"])
        recipe = {"thumbnails": ["small", {"width": 200, "height": 200}],
                  "renditions": ["360p", "240p"]}
        jids = [self.submit(src, recipe) for _ in range(3)]
        nodes_used = set()
        for jid in jids:
            res = self.succeeded(jid)
            self.check_renditions(res, want, ["360p", "240p"])
            thumbs = {x["name"]: x for x in res["outputs"]["thumbnails"]}
            self.assertEqual(sorted(thumbs), ["200x200", "small"], res)
            for x in thumbs.values():
                info, size = probe_download(x["url"], ".jpg")
                self.assertEqual(size, x["bytes"], x)
                self.assertEqual(int(info["streams"][0]["width"]), x["width"])
            self.assertEqual(outputs_on_disk(self.coord, jid),
                             ["200x200.jpg", "240p.mp4", "360p.mp4",
                              "small.jpg"])
            renders = render_attempts(self.coord, jid)
            ok = [r for r in renders if r["ok"]]
            self.assertEqual(len(ok), 1, renders)
            nodes = render_nodes(ok[0])
            self.assertTrue(nodes and nodes <= set(NODES), renders)
            nodes_used |= nodes
        self.assertEqual(partial_uploads(self.coord), [])
        for n, w in self.workers.items():
            self.assertEqual(render_leftovers(w), [], n)
        print(f"\n  3 jobs rendered on worker nodes {sorted(nodes_used)}; "
              f"every output downloaded and probed", flush=True)

    def test_one_render_spread_over_two_nodes(self):
        """Both nodes idle: the job's two renditions are made on both, one
        outcome is recorded, and every output is whole."""
        src = h.clip(SOURCE)
        want = float(h.ffprobe(src)["format"]["duration"])
        jid = self.submit(src, {"thumbnails": ["small"],
                                "renditions": ["360p", "240p"]})
        res = self.succeeded(jid)
        self.check_renditions(res, want, ["360p", "240p"])
        for x in res["outputs"]["renditions"] + res["outputs"]["thumbnails"]:
            self.assertNotIn("worker", x)  # internal: not for clients
        renders = render_attempts(self.coord, jid)
        self.assertEqual(len(renders), 1, renders)
        self.assertTrue(renders[0]["ok"], renders)
        self.assertEqual(render_nodes(renders[0]), set(NODES), renders)
        # Progress names the node of each output.
        steps = {st["name"]: st for st in
                 self.c.get_job(jid)["progress"]["steps"]}
        made_on = {steps[f"rendition:{n}"]["node"] for n in ("360p", "240p")}
        self.assertEqual(made_on, set(NODES), steps)
        self.assertEqual(outputs_on_disk(self.coord, jid),
                         ["240p.mp4", "360p.mp4", "small.jpg"])
        print(f"\n  one render spread over {sorted(made_on)}: "
              f"{renders[0]['worker']}", flush=True)

    def long_source(self):
        """A 20 s 720p clip (vfharness makes it once per process)."""
        return h.clip("long_720p.mp4")

    def test_node_killed_mid_encode(self):
        src = self.long_source()
        jid = self.submit(src, {"thumbnails": ["small"],
                                "renditions": ["720p", "360p"]})
        end = time.monotonic() + 120
        victim = None
        while victim is None:
            job = self.c.get_job(jid)
            self.assertNotIn(job["status"], h.TERMINAL, job)
            self.assertLess(time.monotonic(), end, job)
            for step in (job.get("progress") or {}).get("steps", []):
                if (step["name"].startswith("rendition:")
                        and step["state"] == "running"
                        and step.get("node") in NODES
                        and step.get("percent", 0) >= 5):
                    victim = step["node"]
            time.sleep(0.05)
        self.workers[victim].kill()
        other = [n for n in NODES if n != victim][0]
        res = self.succeeded(jid, deadline_s=240)
        self.check_renditions(res, 20.0, ["720p", "360p"])
        renders = render_attempts(self.coord, jid)
        # The lost part was leased again within the render's one attempt:
        # no failed attempt, and every output made by the other node.
        self.assertEqual(len(renders), 1, renders)
        self.assertTrue(renders[0]["ok"], renders)
        self.assertEqual(render_nodes(renders[0]), {other}, renders)
        self.assertEqual(len(renders[0]["worker"].split("+")), 2, renders)
        self.assertEqual(outputs_on_disk(self.coord, jid),
                         ["360p.mp4", "720p.mp4", "small.jpg"])
        self.assertEqual(partial_uploads(self.coord), [])
        self.assertEqual(render_leftovers(self.workers[other]), [])
        print(f"\n  killed {victim} mid-encode; {other} made its part; "
              f"attempts: {[(r['worker'], r['ok'], r['error_code']) for r in renders]}",
              flush=True)

    def test_reuse_on_a_worker_node(self):
        src = h.clip(SOURCE)
        recipe = {"thumbnails": ["small"], "renditions": ["360p", "240p"]}
        first = self.submit(src, recipe)
        r1 = self.succeeded(first)
        self.assertNotIn("reused_from", r1)
        second = self.submit(src, recipe)
        r2 = self.succeeded(second)
        self.assertEqual(r2.get("reused_from"), first, r2)
        renders = render_attempts(self.coord, second)
        self.assertEqual(len(renders), 1, renders)
        self.assertTrue(renders[0]["ok"], renders)
        self.assertTrue(render_nodes(renders[0]) <= set(NODES), renders)

        def by_name(res):
            return {x["name"]: x for k in ("thumbnails", "renditions")
                    for x in res["outputs"][k]}
        o1, o2 = by_name(r1), by_name(r2)
        self.assertEqual(sorted(o1), sorted(o2))
        bodies = {}
        for name, x in o2.items():
            self.assertIn(f"/outputs/{second}/", x["url"])
            b2 = h.request("GET", x["url"], timeout=60)
            self.assertEqual(b2.status, 200, b2)
            self.assertEqual(b2.body,
                             h.request("GET", o1[name]["url"]).body, name)
            bodies[name] = b2.body
        self.assertEqual(outputs_on_disk(self.coord, second),
                         ["240p.mp4", "360p.mp4", "small.jpg"])
        d = self.c.call("DELETE", f"/jobs/{first}")
        self.assertEqual(d.status, 200, d)
        self.assertEqual(outputs_on_disk(self.coord, first), [])
        for name, x in by_name(self.c.result(second).json()).items():
            r = h.request("GET", x["url"], timeout=60)
            self.assertEqual(r.status, 200, f"{name} after delete: {r!r}")
            self.assertEqual(r.body, bodies[name], name)
        self.assertEqual(partial_uploads(self.coord), [])
        print(f"\n  reused on {renders[0]['worker']}: {sorted(o2)}",
              flush=True)


if __name__ == "__main__":
    h.main(__doc__)
