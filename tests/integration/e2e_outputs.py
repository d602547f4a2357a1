#!/usr/bin/python3
"""End-to-end: media outputs (thumbnails, renditions, downloads) of one
`vidflow serve` node, over HTTP, checked with ffprobe/ffmpeg.

    /usr/bin/python3 tests/integration/e2e_outputs.py --binary build/vidflow
    ... e2e_outputs.py Outputs.test_renditions_and_thumbnails   (one test)

Every output is downloaded through the presigned URL the API hands out and
inspected with the real ffprobe; deadlines are correctness bounds only.
"""

import glob
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402

SOURCE = "h264_aac_640x360.mp4"  # 640x360, 3 s, 25 fps, AAC


def top_level_boxes(data):
    """Names of the top-level MP4 boxes, in file order."""
    names, pos = [], 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos:pos + 4], "big")
        name = data[pos + 4:pos + 8].decode("latin-1")
        if size == 1:
            size = int.from_bytes(data[pos + 8:pos + 16], "big")
        elif size == 0:
            size = len(data) - pos
        if size < 8:
            break
        names.append(name)
        pos += size
    return names


def probe_bytes(data, suffix):
    """ffprobe's JSON of `data` written to a scratch file."""
    fd, path = tempfile.mkstemp(suffix=suffix, dir=h.scratch_dir())
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return h.ffprobe(path), path


def gray_stats(path):
    """Mean and spread of a picture's gray levels, decoded by ffmpeg."""
    r = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-f", "rawvideo",
                        "-pix_fmt", "gray", "-"], capture_output=True)
    if r.returncode != 0 or not r.stdout:
        raise AssertionError(f"ffmpeg cannot decode {path}: {r.stderr!r}")
    px = r.stdout
    mean = sum(px) / len(px)
    var = sum((p - mean) ** 2 for p in px[::7]) / len(px[::7])
    return mean, var


class Outputs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = h.Server(h.binary)
        cls.c = cls.server.client()
        cls.source = h.clip(SOURCE)
        cls.want = h.ffprobe(cls.source)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def submit(self, path, outputs, filename="clip.mp4", priority=None,
               content_type="video/mp4", client=None):
        body = {"filename": filename, "content_type": content_type,
                "outputs": outputs}
        if priority:
            body["priority"] = priority
        r = (client or self.c).call("POST", "/jobs", body)
        self.assertEqual(r.status, 201, r)
        job = r.json()
        put = h.upload(job["upload_url"], h.read_bytes(path), content_type)
        self.assertEqual(put.status, 200, put)
        return job["job_id"]

    def finished(self, jid, deadline_s=120):
        job = self.c.wait_status(jid, h.TERMINAL, deadline_s=deadline_s)
        self.assertEqual(job["status"], "SUCCEEDED",
                         f"{job}\n--- log ---\n{self.server.log_tail()}")
        r = self.c.result(jid)
        self.assertEqual(r.status, 200, r)
        return job, r.json()

    def long_source(self):
        """A 20 s 720p clip (vfharness makes it once per process)."""
        return h.clip("long_720p.mp4")

    def wait_rendering(self, jid):
        """Waits until the job's render step runs, then a moment more."""
        end = time.monotonic() + 60
        while True:
            job = self.c.get_job(jid)
            if job["step"] == "render" and job["status"] == "PROCESSING":
                break
            self.assertNotIn(job["status"], h.TERMINAL, job)
            self.assertLess(time.monotonic(), end, job)
            time.sleep(0.05)
        time.sleep(0.5)  # encoding now

    def fetch(self, url, headers=None):
        r = h.request("GET", url, headers=headers or {}, timeout=60)
        return r

    def test_renditions_and_thumbnails(self):
        jid = self.submit(self.source, {
            "thumbnails": ["small", {"width": 200, "height": 200}, "medium"],
            "thumbnail_at": 1.0,
            "renditions": ["360p", "240p", "720p"]}, priority="high")
        job, res = self.finished(jid)
        self.assertEqual(job["priority"], "high")
        # Every step is accounted for: done, or skipped with its reason.
        prog = job["progress"]
        self.assertEqual(prog["percent"], 100, prog)
        steps = {s["name"]: s for s in prog["steps"]}
        self.assertEqual(set(steps), {
            "probe", "summary", "thumbnail:small", "thumbnail:200x200",
            "thumbnail:medium", "rendition:360p", "rendition:240p",
            "rendition:720p"})
        for name, s in steps.items():
            want = "skipped" if name == "rendition:720p" else "done"
            self.assertEqual(s["state"], want, s)
            self.assertEqual(s["percent"], 100, s)
            self.assertTrue(s["node"], s)
            self.assertRegex(s["started_at"], h.ISO_UTC)
            self.assertRegex(s["finished_at"], h.ISO_UTC)
            self.assertLessEqual(s["started_at"], s["finished_at"], s)
        self.assertIn("upscale", steps["rendition:720p"]["reason"])
        self.assertEqual([t["name"] for t in job["outputs"]["thumbnails"]],
                         ["small", "200x200", "medium"])
        outs = res["outputs"]
        # Metadata and summary are still there.
        self.assertTrue(res["summary"])
        self.assertEqual(res["metadata"]["format"]["nb_streams"], 2)

        thumbs = {t["name"]: t for t in outs["thumbnails"]}
        self.assertEqual(set(thumbs), {"small", "200x200", "medium"})
        # A 16:9 source fitted into each box, even sides.
        for name, (w, hgt) in {"small": (320, 180), "200x200": (200, 112),
                               "medium": (640, 360)}.items():
            t = thumbs[name]
            self.assertEqual((t["width"], t["height"]), (w, hgt), t)
            self.assertEqual(t["content_type"], "image/jpeg")
            self.assertNotIn("key", t)
            r = self.fetch(t["url"])
            self.assertEqual(r.status, 200, f"GET {name}: {r!r}")
            self.assertEqual(len(r.body), t["bytes"])
            self.assertEqual(r.body[:2], b"\xff\xd8", "not a JPEG")
            info, path = probe_bytes(r.body, ".jpg")
            st = info["streams"][0]
            self.assertEqual((st["width"], st["height"]), (w, hgt), name)
            mean, var = gray_stats(path)
            self.assertGreater(var, 100.0, f"{name} looks blank ({mean}, {var})")

        rends = {x["name"]: x for x in outs["renditions"]}
        self.assertEqual(set(rends), {"360p", "240p", "720p"})
        self.assertIn("upscale", rends["720p"].get("skipped", ""), rends)
        self.assertNotIn("url", rends["720p"])
        src_dur = float(self.want["format"]["duration"])
        for name, (w, hgt) in {"360p": (640, 360), "240p": (426, 240)}.items():
            x = rends[name]
            self.assertEqual((x["width"], x["height"]), (w, hgt), x)
            self.assertEqual(x["video_codec"], "h264")
            self.assertEqual(x["audio_codec"], "aac")
            r = self.fetch(x["url"])
            self.assertEqual(r.status, 200, f"GET {name}: {r!r}")
            self.assertEqual(len(r.body), x["bytes"])
            boxes = top_level_boxes(r.body)
            self.assertIn("moov", boxes)
            self.assertIn("mdat", boxes)
            self.assertLess(boxes.index("moov"), boxes.index("mdat"),
                            f"{name}: not faststart: {boxes}")
            info, _ = probe_bytes(r.body, ".mp4")
            v = [s for s in info["streams"] if s["codec_type"] == "video"]
            a = [s for s in info["streams"] if s["codec_type"] == "audio"]
            self.assertEqual(len(v), 1, info)
            self.assertEqual(len(a), 1, info)
            self.assertEqual(v[0]["codec_name"], "h264")
            self.assertEqual((v[0]["width"], v[0]["height"]), (w, hgt))
            self.assertEqual(v[0]["r_frame_rate"], "25/1")
            self.assertEqual(a[0]["codec_name"], "aac")
            self.assertAlmostEqual(float(info["format"]["duration"]), src_dur,
                                   delta=0.1, msg=f"{name} duration")

        # The download route hands out a working URL; unknown and skipped
        # outputs are 404 with a JSON error.
        d = self.c.call("GET", f"/jobs/{jid}/download/240p")
        self.assertEqual(d.status, 200, d)
        dj = d.json()
        self.assertEqual(dj["content_type"], "video/mp4")
        self.assertEqual(dj["bytes"], rends["240p"]["bytes"])
        self.assertRegex(dj["expires_at"], h.ISO_UTC)
        full = self.fetch(dj["download_url"])
        self.assertEqual(full.status, 200)
        self.assertEqual(len(full.body), dj["bytes"])
        for name in ("720p", "4k", "small.jpg"):
            e = self.c.call("GET", f"/jobs/{jid}/download/{name}")
            self.assertEqual(e.status, 404, e)
            self.assertIn("detail", e.json())

        # A browser seeks with Range requests.
        url = rends["360p"]["url"]
        whole = self.fetch(url).body
        part = self.fetch(url, {"Range": "bytes=100-199"})
        self.assertEqual(part.status, 206, part)
        self.assertEqual(part.body, whole[100:200])
        self.assertEqual(part.headers.get("content-range"),
                         f"bytes 100-199/{len(whole)}")
        tail = self.fetch(url, {"Range": "bytes=-10"})
        self.assertEqual(tail.status, 206, tail)
        self.assertEqual(tail.body, whole[-10:])
        bad = self.fetch(url, {"Range": f"bytes={len(whole) + 5}-"})
        self.assertEqual(bad.status, 416, bad)
        self.assertEqual(bad.headers.get("content-range"),
                         f"bytes */{len(whole)}")
        head = h.request("HEAD", url)
        self.assertEqual(head.status, 200, head)
        self.assertEqual(head.headers.get("accept-ranges"), "bytes")

        # Another user sees neither the job nor its downloads.
        other = h.Client(self.server.base)
        self.assertEqual(other.call("GET", f"/jobs/{jid}/download/240p",
                                    token="").status, 401)

    def test_same_bytes_and_recipe_reuse_the_outputs(self):
        recipe = {"thumbnails": ["small"], "renditions": ["240p"]}
        first = self.submit(self.source, recipe)
        started = time.monotonic()
        _, r1 = self.finished(first)
        made_in = time.monotonic() - started
        self.assertNotIn("reused_from", r1)
        second = self.submit(self.source, recipe)
        started = time.monotonic()
        _, r2 = self.finished(second)
        reused_in = time.monotonic() - started
        self.assertEqual(r2.get("reused_from"), first, r2)
        # The same outputs, as objects of its own.
        def by_name(res):
            return {x["name"]: x for k in ("thumbnails", "renditions")
                    for x in res["outputs"][k]}
        o1, o2 = by_name(r1), by_name(r2)
        self.assertEqual(set(o1), set(o2))
        bodies = {}
        for name, x in o2.items():
            for key in ("width", "height", "bytes", "content_type"):
                self.assertEqual(x[key], o1[name][key], name)
            self.assertIn(f"/outputs/{second}/", x["url"])
            b2 = self.fetch(x["url"])
            self.assertEqual(b2.status, 200, b2)
            self.assertEqual(b2.body, self.fetch(o1[name]["url"]).body, name)
            bodies[name] = b2.body
        # Another user with the same bytes and recipe gets nothing of the
        # first user's: reuse would tell them somebody has the same file.
        other = h.Client(self.server.base)
        other.login("admin", "admin")
        theirs = self.submit(self.source, recipe, client=other)
        job = other.wait_status(theirs, h.TERMINAL, deadline_s=120)
        self.assertEqual(job["status"], "SUCCEEDED", job)
        r_other = other.result(theirs).json()
        self.assertNotIn("reused_from", r_other)
        for x in by_name(r_other).values():
            self.assertIn(f"/outputs/{theirs}/", x["url"])
        # Another recipe is made afresh.
        third = self.submit(self.source, {"thumbnails": ["medium"]})
        _, r3 = self.finished(third)
        self.assertNotIn("reused_from", r3)
        # Deleting the first job leaves the second whole.
        d = self.c.call("DELETE", f"/jobs/{first}")
        self.assertEqual(d.status, 200, d)
        again = by_name(self.c.result(second).json())
        for name, x in again.items():
            r = self.fetch(x["url"])
            self.assertEqual(r.status, 200, f"{name} after delete: {r!r}")
            self.assertEqual(r.body, bodies[name], name)
        print(f"reuse: made in {made_in:.2f} s, reused in {reused_in:.2f} s",
              file=sys.stderr)

    def test_cancel_mid_encode_stops_and_cleans_up(self):
        jid = self.submit(self.long_source(),
                          {"renditions": ["720p", "480p", "360p"]})
        self.wait_rendering(jid)
        # The percent moves while the renditions encode.
        seen = []
        end = time.monotonic() + 60
        while not seen or seen[-1] == 0:
            job = self.c.get_job(jid)
            self.assertEqual(job["status"], "PROCESSING", job)
            steps = {s["name"]: s for s in job["progress"]["steps"]}
            s = steps["rendition:720p"]
            self.assertEqual(s["state"], "running", s)
            self.assertTrue(s["node"], s)
            self.assertRegex(s["started_at"], h.ISO_UTC)
            self.assertIsNone(s["finished_at"], s)
            self.assertEqual(steps["probe"]["state"], "done", steps)
            seen.append(s["percent"])
            self.assertLess(time.monotonic(), end, seen)
            time.sleep(0.05)
        self.assertTrue(0 < seen[-1] < 100, seen)
        print(f"progress: rendition:720p at {seen[-1]}% after {len(seen)} "
              "polls", file=sys.stderr)
        self.assertTrue(0 < job["progress"]["percent"] < 100, job["progress"])
        work = glob.glob(os.path.join(self.server.data_dir, "tmp",
                                      "render-*", "render-*"))
        self.assertTrue(work, "no render work folder while encoding")
        r = self.c.call("POST", f"/jobs/{jid}/cancel")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["status"], "CANCELLED")
        cancelled = time.monotonic()
        # The encode stops within about a second and leaves nothing behind.
        end = time.monotonic() + 5
        while glob.glob(os.path.join(self.server.data_dir, "tmp", "render-*",
                                     "render-*")):
            self.assertLess(time.monotonic(), end,
                            "work folder still there 5 s after cancel")
            time.sleep(0.05)
        outputs = os.path.join(self.server.data_dir, "objects", "uploads",
                               "outputs", jid)
        self.assertFalse(os.path.exists(outputs) and os.listdir(outputs),
                         f"outputs stored for a cancelled job: {outputs}")
        # A cancelled run records nothing further: no render in the ledger.
        attempts = self.c.call("GET", f"/jobs/{jid}/attempts").json()["items"]
        self.assertFalse([a for a in attempts if a["kind"] == "render"
                          and a["ok"]], attempts)
        job = self.c.get_job(jid)
        self.assertEqual(job["status"], "CANCELLED")
        for s in job["progress"]["steps"]:
            if s["name"].startswith("rendition:"):
                self.assertEqual(s["state"], "skipped", s)
                self.assertIn("cancelled", s["reason"], s)
        print(f"cancel: work folder gone {time.monotonic() - cancelled:.2f} s "
              "after POST /cancel answered", file=sys.stderr)

    def test_delete_removes_upload_outputs_and_records(self):
        jid = self.submit(self.source, {"thumbnails": ["small"],
                                        "renditions": ["240p"]})
        _, res = self.finished(jid)
        urls = [o["url"] for kind in ("thumbnails", "renditions")
                for o in res["outputs"][kind]]
        self.assertEqual(len(urls), 2, res)
        for url in urls:
            self.assertEqual(self.fetch(url).status, 200)
        r = self.c.call("DELETE", f"/jobs/{jid}")
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(body["job_id"], jid)
        self.assertTrue(body["deleted"])
        self.assertEqual(body["objects_deleted"], 3, body)  # upload + 2
        for url in urls:
            self.assertEqual(self.fetch(url).status, 404, url)
        objects = os.path.join(self.server.data_dir, "objects", "uploads")
        self.assertFalse(os.path.exists(os.path.join(objects, "outputs", jid)))
        self.assertFalse(os.path.exists(os.path.join(objects, "uploads", jid,
                                                     "clip.mp4")))
        for method, path in (("GET", f"/jobs/{jid}"),
                             ("GET", f"/jobs/{jid}/result"),
                             ("DELETE", f"/jobs/{jid}")):
            e = self.c.call(method, path)
            self.assertEqual(e.status, 404, f"{method} {path}: {e!r}")
            self.assertIn("detail", e.json())

    def test_delete_cancels_a_running_render(self):
        src = self.long_source()
        jid = self.submit(src, {"renditions": ["720p", "480p"]})
        self.wait_rendering(jid)
        r = self.c.call("DELETE", f"/jobs/{jid}")
        self.assertEqual(r.status, 200, r)
        end = time.monotonic() + 5
        while glob.glob(os.path.join(self.server.data_dir, "tmp", "render-*",
                                     "render-*")):
            self.assertLess(time.monotonic(), end, "render still running")
            time.sleep(0.05)
        time.sleep(0.3)
        self.assertFalse(os.path.exists(os.path.join(
            self.server.data_dir, "objects", "uploads", "outputs", jid)))
        self.assertEqual(self.c.call("GET", f"/jobs/{jid}").status, 404)

    def test_audio_only_source_skips_pictures(self):
        jid = self.submit(h.clip("audio_only.m4a"),
                          {"thumbnails": ["small"], "renditions": ["360p"]},
                          filename="voice.m4a", content_type="audio/mp4")
        _, res = self.finished(jid)
        outs = res["outputs"]
        self.assertIn("no video", outs["thumbnails"][0].get("skipped", ""),
                      outs)
        self.assertIn("no video", outs["renditions"][0].get("skipped", ""),
                      outs)

    def test_bad_media_fails_at_probe_before_any_render(self):
        jid = self.submit(h.clip("random.bin"), {"renditions": ["360p"]},
                          filename="noise.mp4")
        job = self.c.wait_status(jid, h.TERMINAL, deadline_s=60)
        self.assertEqual(job["status"], "FAILED", job)
        self.assertEqual(job["error_code"], "bad_media", job)
        self.assertEqual(job["step"], "probe", job)
        attempts = self.c.call("GET", f"/jobs/{jid}/attempts").json()["items"]
        self.assertFalse([a for a in attempts if a["kind"] == "render"],
                         attempts)

    def test_bad_recipes_are_refused_and_create_nothing(self):
        before = len(self.c.history())
        for outputs, what in [({"renditions": ["8k"]}, "renditions[0]"),
                              ({"thumbnails": [{"width": 5, "height": 5}]},
                               "16..3840"),
                              ({"sizes": []}, "unknown field 'sizes'")]:
            r = self.c.call("POST", "/jobs", {"filename": "a.mp4",
                                              "outputs": outputs})
            self.assertEqual(r.status, 422, r)
            self.assertIn(what, r.json()["detail"])
        self.assertEqual(len(self.c.history()), before)

    def test_idempotency_key_gives_one_job_even_across_a_crash(self):
        body = {"filename": "idem.mp4", "content_type": "video/mp4",
                "outputs": {"thumbnails": ["small"]}}
        key = {"Idempotency-Key": f"e2e-{time.time_ns()}"}
        before = len(self.c.history())
        # A client that never heard back retries, several times at once.
        answers = []
        lock = threading.Lock()

        def post():
            r = self.c.call("POST", "/jobs", body, headers=key)
            with lock:
                answers.append(r)
        threads = [threading.Thread(target=post) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = sorted(r.status for r in answers)
        self.assertEqual(statuses, [200] * 7 + [201], answers)
        ids = {r.json()["job_id"] for r in answers}
        self.assertEqual(len(ids), 1, answers)
        jid = ids.pop()
        self.assertEqual(len(self.c.history()), before + 1)
        # Another request under the same key is refused and makes nothing.
        other = dict(body, filename="other.mp4")
        r = self.c.call("POST", "/jobs", other, headers=key)
        self.assertEqual(r.status, 422, r)
        self.assertIn("different request", r.json()["detail"])
        bad = self.c.call("POST", "/jobs", body,
                          headers={"Idempotency-Key": "with space"})
        self.assertEqual(bad.status, 422, bad)
        self.assertEqual(len(self.c.history()), before + 1)
        # The key is durable: after kill -9 and a restart it names the
        # same job, which is then uploaded and processed once.
        server = h.Server(h.binary)
        try:
            c = server.client()
            first = c.call("POST", "/jobs", body, headers=key)
            self.assertEqual(first.status, 201, first)
            server.stop(sig=signal.SIGKILL)
            server = h.Server(h.binary, data_dir=server.data_dir)
            c = server.client()
            again = c.call("POST", "/jobs", body, headers=key)
            self.assertEqual(again.status, 200, again)
            self.assertEqual(again.json()["job_id"], first.json()["job_id"])
            put = h.upload(again.json()["upload_url"],
                           h.read_bytes(self.source), "video/mp4")
            self.assertEqual(put.status, 200, put)
            kid = first.json()["job_id"]
            job = c.wait_status(kid, h.TERMINAL, deadline_s=120)
            self.assertEqual(job["status"], "SUCCEEDED", job)
            self.assertEqual(len(c.history()), 1)
            # A replay after the job finished still names it.
            late = c.call("POST", "/jobs", body, headers=key)
            self.assertEqual(late.status, 200, late)
            self.assertEqual(late.json()["job_id"], kid)
            # Once the job is deleted, its key is free.
            self.assertEqual(c.call("DELETE", f"/jobs/{kid}").status, 200)
            fresh = c.call("POST", "/jobs", body, headers=key)
            self.assertEqual(fresh.status, 201, fresh)
            self.assertNotEqual(fresh.json()["job_id"], kid)
        finally:
            server.stop()

    def test_jobs_without_outputs_work_as_before(self):
        job = self.c.create_job("plain.mp4", "video/mp4")
        put = h.upload(job["upload_url"], h.read_bytes(self.source),
                       "video/mp4")
        self.assertEqual(put.status, 200)
        done, res = self.finished(job["job_id"])
        self.assertEqual(done["priority"], "default")
        self.assertIsNone(done["outputs"])
        self.assertNotIn("outputs", res)


if __name__ == "__main__":
    h.main(__doc__)
