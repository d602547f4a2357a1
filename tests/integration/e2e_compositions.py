#!/usr/bin/python3
"""End-to-end: assets and compositions (POST /assets, /compositions and
their reads, status, download, cancel, cancel-all, delete) on one
`vidflow serve` node with real media, rendered by the node's workers
through the `compose` task kind.

    /usr/bin/python3 tests/integration/e2e_compositions.py --binary build/vidflow
    ... e2e_compositions.py Compositions.test_3_a_composition_renders

One server for the class; tests run in name order.
"""

import copy
import os
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402
from e2e_events import SSE  # noqa: E402

DONE = ("completed", "failed", "cancelled")


class Compositions(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = h.Server(h.binary)
        cls.c = cls.server.client()
        cls.admin = h.Client(cls.server.base)
        cls.admin.login("admin", "admin")
        cls.assets = {}
        for name, clip, kind, ctype in (
                ("wide", "h264_aac_640x360.mp4", "video", "video/mp4"),
                ("small", "h264_aac_320.mp4", "video", "video/mp4"),
                ("bars", "h264_only.mp4", "video", "video/mp4"),
                ("tone", "audio_only.m4a", "audio", "audio/mp4"),
                ("long", "long_720p.mp4", "video", "video/mp4"),
                ("poster", "picture.png", "image", "image/png"),
                ("photo", "picture.jpg", "image", "image/jpeg")):
            cls.assets[name] = cls.make_asset(cls.c, name, clip, kind, ctype)
        # A plain job's upload is a source too (by job_id).
        job = cls.c.create_job("plain.mp4", "video/mp4")
        put = h.upload(job["upload_url"], h.read_bytes(h.clip("h264_aac.mp4")),
                       "video/mp4")
        assert put.status == 200, put
        cls.job = job["job_id"]
        cls.c.wait_status(cls.job, "SUCCEEDED", deadline_s=120)
        for name, aid in cls.assets.items():
            cls.wait_asset(cls.c, aid)
        # Not uploaded yet; and someone else's.
        r = cls.c.call("POST", "/assets", {"filename": "later.mp4",
                                           "kind": "video"})
        assert r.status == 201, r
        cls.pending = r.json()["asset_id"]
        cls.theirs = cls.make_asset(cls.admin, "theirs", "h264_aac.mp4",
                                    "video", "video/mp4")
        cls.wait_asset(cls.admin, cls.theirs)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    @staticmethod
    def make_asset(client, name, clip, kind, ctype):
        r = client.call("POST", "/assets", {"filename": name + os.path.splitext(clip)[1],
                                            "content_type": ctype,
                                            "kind": kind})
        assert r.status == 201, r
        a = r.json()
        assert a["kind"] == kind and a["status"] == "awaiting_upload", a
        put = h.upload(a["upload_url"], h.read_bytes(h.clip(clip)), ctype)
        assert put.status == 200, put
        return a["asset_id"]

    @staticmethod
    def wait_asset(client, aid, deadline_s=120):
        end = time.monotonic() + deadline_s
        while True:
            r = client.call("GET", f"/assets/{aid}")
            assert r.status == 200, r
            a = r.json()
            if a["status"] == "ready":
                return a
            assert a["status"] == "processing" and time.monotonic() < end, a
            time.sleep(0.05)

    # -- helpers ---------------------------------------------------------------

    def ok(self, method, path, body=None, status=200, client=None):
        r = (client or self.c).call(method, path, body)
        self.assertEqual(r.status, status, f"{method} {path}: {r}")
        return r.json()

    def error(self, method, path, status, code, body=None):
        r = self.c.call(method, path, body)
        self.assertEqual(r.status, status, f"{method} {path} {body}: {r}")
        doc = r.json()
        self.assertEqual(doc.get("code"), code, doc)
        self.assertTrue(doc.get("detail"), doc)
        return doc["detail"]

    def good_body(self):
        return {
            "title": "Launch teaser",
            "description": "two clips, music and a title",
            "clips": [{"asset_id": self.assets["wide"], "start": 0.5,
                       "end": 2.5},
                      {"job_id": self.job, "start": 0, "end": 1}],
            "audio": {"music_asset": self.assets["tone"],
                      "music_volume": 0.4, "original_volume": 0.8},
            "overlays": [{"text": "vidflow 100% {literal} %{pts}",
                          "position": "top_left", "start": 0, "end": 2,
                          "font_size": 24, "font_color": "#FFCC00"}],
            "output": {"resolution": "480p", "format": "mp4", "fps": 24},
        }

    def wait_done(self, cid, deadline_s=180):
        end = time.monotonic() + deadline_s
        seen = set()
        while True:
            st = self.ok("GET", f"/compositions/{cid}/status")
            self.assertIn(st["status"], ("pending", "queued", "processing")
                          + DONE, st)
            self.assertTrue(0 <= st["percent"] <= 100, st)
            self.assertEqual([s["name"] for s in st["stages"]],
                             ["fetching", "rendering", "encoding", "storing"])
            seen.add(st["status"])
            if st["status"] in DONE:
                return st, seen
            self.assertLess(time.monotonic(), end, st)
            time.sleep(0.05)

    def download(self, cid, name):
        """Fetches a completed composition by its presigned URL into the
        scratch folder; returns (download answer, path, ffprobe JSON)."""
        d = self.ok("GET", f"/compositions/{cid}/download")
        got = h.request("GET", d["download_url"])
        self.assertEqual(got.status, 200)
        self.assertEqual(len(got.body), d["bytes"])
        path = os.path.join(h.scratch_dir(), name)
        with open(path, "wb") as f:
            f.write(got.body)
        return d, path, h.ffprobe(path)

    def total(self):
        return self.ok("GET", "/compositions")["total"]

    # -- tests -----------------------------------------------------------------

    def test_1_assets_are_probed_and_private(self):
        a = self.ok("GET", f"/assets/{self.assets['wide']}")
        self.assertEqual((a["status"], a["kind"]), ("ready", "video"))
        self.assertAlmostEqual(a["duration"], 3.0, delta=0.1)
        self.assertEqual((a["width"], a["height"]), (640, 360))
        self.assertTrue(a["has_video"] and a["has_audio"], a)
        t = self.ok("GET", f"/assets/{self.assets['tone']}")
        self.assertEqual((t["has_video"], t["has_audio"]), (False, True))
        self.assertEqual(self.ok("GET", f"/assets/{self.pending}")["status"],
                         "awaiting_upload")
        # A job is no asset; someone else's asset does not exist for us.
        self.error("GET", f"/assets/{self.job}", 404, "not_found")
        self.error("GET", f"/assets/{self.theirs}", 404, "not_found")
        for body, field in (({"filename": "a.mp4"}, "kind"),
                            ({"filename": "a.mp4", "kind": "pdf"}, "kind"),
                            ({"kind": "video"}, "filename"),
                            ({"filename": "a.mp4", "kind": "video",
                              "size": 1}, "size"),
                            ({"filename": "a.mp4", "kind": "video",
                              "content_type": "a\r\nb"}, "content_type"),
                            ({"filename": "../a.mp4", "kind": "video"},
                             "filename")):
            detail = self.error("POST", "/assets", 422, "invalid_argument",
                                body)
            self.assertIn(field, detail)
        # The caller's assets, listed (newest first), by kind; no job, no
        # one else's.
        listed = self.ok("GET", "/assets?limit=100")["items"]
        ids = {a["asset_id"] for a in listed}
        self.assertEqual(ids, set(self.assets.values()) | {self.pending})
        audio = self.ok("GET", "/assets?kind=audio")["items"]
        self.assertEqual({a["asset_id"] for a in audio},
                         {aid for name, aid in self.assets.items()
                          if self.ok("GET", f"/assets/{aid}")["kind"]
                          == "audio"})
        self.assertTrue(all(a["kind"] == "audio" for a in audio), audio)
        self.assertEqual(len(self.ok("GET", "/assets?limit=1")["items"]), 1)
        for q in ("kind=pdf", "limit=0", "limit=101", "limit=x"):
            self.error("GET", f"/assets?{q}", 422, "invalid_argument")
        # Assets stay out of the video library; the plain job is in it.
        page = self.ok("GET", "/videos?limit=100")
        self.assertEqual([v["video_id"] for v in page["items"]], [self.job])
        self.error("GET", f"/videos/{self.assets['wide']}", 404, "not_found")
        self.error("POST", f"/videos/{self.assets['wide']}/view", 404,
                   "not_found")

    def test_2_every_broken_rule_is_a_422_naming_the_field(self):
        before = self.total()
        wide = self.assets["wide"]

        def change(path, value):
            body = self.good_body()
            node = body
            for p in path[:-1]:
                node = node[p]
            if value is KeyError:
                del node[path[-1]]
            else:
                node[path[-1]] = value
            return body

        cases = [
            (change(["title"], KeyError), "title"),
            (change(["title"], ""), "title"),
            (change(["title"], "x" * 201), "title"),
            (change(["clips"], []), "clips"),
            (change(["clips"], [{"asset_id": wide, "start": 0, "end": 1}] * 21),
             "clips"),
            (change(["clips", 0, "end"], 0.5), "clips[0].end"),
            (change(["clips", 0, "start"], -1), "clips[0].start"),
            (change(["clips", 1, "end"], "1"), "clips[1].end"),
            (change(["clips", 0, "job_id"], self.job), "clips[0]"),
            (change(["clips", 0, "asset_id"], "not-an-id"), "clips[0].asset_id"),
            (change(["clips"], [{"asset_id": wide, "start": 0, "end": 31}] * 20),
             "600"),
            (change(["audio", "music_volume"], 1.5), "audio.music_volume"),
            (change(["audio", "voiceover_volume"], -0.1),
             "audio.voiceover_volume"),
            (change(["audio", "loud"], True), "audio.loud"),
            (change(["overlays"], [{"text": "x"}] * 11), "overlays"),
            (change(["overlays", 0, "text"], ""), "overlays[0].text"),
            (change(["overlays", 0, "text"], "y" * 501), "overlays[0].text"),
            (change(["overlays", 0, "position"], "middle"),
             "overlays[0].position"),
            (change(["overlays", 0, "font_size"], 7), "overlays[0].font_size"),
            (change(["overlays", 0, "font_size"], 145),
             "overlays[0].font_size"),
            (change(["overlays", 0, "font_color"], "red"),
             "overlays[0].font_color"),
            (change(["overlays", 0, "end"], 0), "overlays[0].end"),
            (change(["output", "resolution"], "360p"), "output.resolution"),
            (change(["output", "format"], "avi"), "output.format"),
            (change(["output", "fps"], 23), "output.fps"),
            (change(["output", "fps"], 61), "output.fps"),
            (change(["output", "bitrate"], "fast"), "output.bitrate"),
            (change(["output", "bitrate"], "2G"), "output.bitrate"),
            (change(["priority"], "urgent"), "priority"),
            (change(["extra"], 1), "extra"),
            # Rules that need the sources looked up.
            (change(["clips", 0, "end"], 9), "clips[0].asset_id"),
            (change(["clips", 0, "asset_id"], self.assets["tone"]),
             "clips[0].asset_id"),
            (change(["clips", 1], {"job_id": wide, "start": 0, "end": 1}),
             "clips[1].job_id"),
            (change(["clips", 1], {"asset_id": self.job, "start": 0,
                                   "end": 1}), "clips[1].asset_id"),
            (change(["clips", 0, "asset_id"], self.pending),
             "clips[0].asset_id"),
            (change(["clips", 0, "asset_id"], self.theirs),
             "clips[0].asset_id"),
            (change(["clips", 0, "asset_id"],
                    "00000000-0000-4000-8000-000000000000"),
             "clips[0].asset_id"),
            (change(["audio", "music_asset"], self.assets["bars"]),
             "audio.music_asset"),
        ]
        for body, field in cases:
            detail = self.error("POST", "/compositions", 422,
                                "invalid_argument", body)
            self.assertIn(field, detail, body)
        # Not JSON at all.
        r = self.c.call("POST", "/compositions", b"{", headers={
            "Content-Type": "application/json"})
        self.assertIn(r.status, (400, 422), r)
        # Nothing was made by any of them.
        self.assertEqual(self.total(), before)

    def test_3_a_composition_renders(self):
        made = self.ok("POST", "/compositions", self.good_body(), status=202)
        cid = made["composition_id"]
        # Followed live on the job event stream like any job.
        sse = SSE(self.server.http_port, f"/jobs/{cid}/events", self.c.token)
        self.assertEqual(sse.status, 200)
        self.assertIn(made["status"], ("queued", "processing"), made)
        self.assertEqual(made["title"], "Launch teaser")
        self.assertAlmostEqual(made["length"], 3.0)
        self.assertEqual(made["output"]["width"], 854)
        self.error("GET", f"/compositions/{cid}/download", 409, "conflict")
        # GET /jobs/{id} shows its one step (not the upload pipeline).
        steps = self.ok("GET", f"/jobs/{cid}")["progress"]["steps"]
        self.assertEqual([s["name"] for s in steps], ["compose"], steps)
        st, seen = self.wait_done(cid)
        events = []
        while (e := sse.next()) is not None:
            events.append(e)
            if e["event"] == "done":
                break
        sse.close()
        kinds = [e["event"] for e in events]
        self.assertEqual(kinds[-1], "done", kinds)
        self.assertEqual(events[-1]["data"]["status"], "SUCCEEDED")
        states = [e["data"]["status"] for e in events if e["event"] == "state"]
        self.assertEqual(states[-1], "SUCCEEDED", states)
        progress = [e["data"] for e in events if e["event"] == "progress"]
        self.assertTrue(progress, kinds)
        self.assertEqual([s["name"] for s in progress[-1]["steps"]],
                         ["compose"], progress[-1])
        self.assertEqual(progress[-1]["percent"], 100)
        self.assertEqual(st["status"], "completed", st)
        self.assertEqual(st["percent"], 100)
        self.assertTrue(all(s["state"] == "done" for s in st["stages"]), st)
        got = self.ok("GET", f"/compositions/{cid}")
        self.assertEqual(got["status"], "completed")
        self.assertIsNone(got["error"])
        d, _, probe = self.download(cid, "composition.mp4")
        self.assertEqual(d["content_type"], "video/mp4")
        self.assertAlmostEqual(float(probe["format"]["duration"]), 3.0,
                               delta=0.15)
        video = [s for s in probe["streams"] if s["codec_type"] == "video"]
        audio = [s for s in probe["streams"] if s["codec_type"] == "audio"]
        self.assertEqual((video[0]["codec_name"], video[0]["width"],
                          video[0]["height"], video[0]["r_frame_rate"]),
                         ("h264", 854, 480, "24/1"))
        self.assertEqual(audio[0]["codec_name"], "aac")
        # Listed, filtered by status; not in the video library.
        page = self.ok("GET", "/compositions?status=completed")
        self.assertIn(cid, [x["composition_id"] for x in page["items"]])
        self.assertEqual(self.ok("GET", "/compositions?status=queued")["total"],
                         0)
        self.assertNotIn(cid, [v["video_id"] for v in
                               self.ok("GET", "/videos?limit=100")["items"]])
        for q in ("?status=done", "?limit=0", "?limit=101", "?offset=-1"):
            self.error("GET", "/compositions" + q, 422, "invalid_argument")
        # Nobody else sees it; a job is no composition.
        other = h.Client(self.server.base)
        other.login("admin", "admin")
        self.assertEqual(other.call("GET", f"/compositions/{cid}").status, 200)
        self.error("GET", f"/compositions/{self.job}", 404, "not_found")
        self.error("GET", f"/compositions/{self.job}/status", 404, "not_found")
        # The attempt ledger shows the compose step like any other.
        attempts = self.ok("GET", f"/jobs/{cid}/attempts")["items"]
        self.assertEqual([(a["kind"], a["ok"]) for a in attempts],
                         [("compose", True)])
        type(self).completed = cid

    def wait_failed_asset(self, aid, deadline_s=60):
        end = time.monotonic() + deadline_s
        while True:
            a = self.ok("GET", f"/assets/{aid}")
            if a["status"] not in ("processing", "awaiting_upload"):
                return a
            self.assertLess(time.monotonic(), end, a)
            time.sleep(0.05)

    def test_3b_a_still_picture_is_a_clip(self):
        a = self.ok("GET", f"/assets/{self.assets['poster']}")
        self.assertEqual((a["status"], a["kind"]), ("ready", "image"), a)
        self.assertEqual((a["width"], a["height"]), (400, 300), a)
        self.assertEqual((a["has_video"], a["has_audio"]), (True, False), a)
        body = {"title": "poster first",
                "clips": [{"asset_id": self.assets["poster"], "start": 0,
                           "end": 1.5},
                          {"asset_id": self.assets["wide"], "start": 0,
                           "end": 1},
                          {"asset_id": self.assets["photo"], "start": 0,
                           "end": 0.5}],
                "output": {"resolution": "480p", "fps": 24}}
        made = self.ok("POST", "/compositions", body, status=202)
        self.assertAlmostEqual(made["length"], 3.0)
        st, _ = self.wait_done(made["composition_id"])
        self.assertEqual(st["status"], "completed", st)
        _, path, probe = self.download(made["composition_id"], "still.mp4")
        self.assertAlmostEqual(float(probe["format"]["duration"]), 3.0,
                               delta=0.15)
        # The picture shows (red, pillarboxed) over its whole 1.5 s.
        for at in (0.2, 1.3):
            r = subprocess.run(
                ["ffmpeg", "-nostdin", "-v", "error", "-ss", str(at), "-i",
                 path, "-frames:v", "1", "-vf", "crop=20:20:417:230",
                 "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                capture_output=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            px = r.stdout
            self.assertEqual(len(px), 20 * 20 * 3)
            red = sum(px[0::3]) / 400
            green = sum(px[1::3]) / 400
            self.assertGreater(red, 200, (at, red, green))
            self.assertLess(green, 60, (at, red, green))
        # A picture has no sound to be music, and its length is the clip's
        # (no source end to pass).
        detail = self.error("POST", "/compositions", 422, "invalid_argument",
                            dict(body, clips=body["clips"][1:2],
                                 audio={"music_asset": self.assets["poster"]}))
        self.assertIn("audio.music_asset", detail)
        self.assertIn("no audio stream", detail)
        long_still = copy.deepcopy(body)
        long_still["clips"] = [{"asset_id": self.assets["poster"],
                                "start": 0, "end": 12}]
        cid = self.ok("POST", "/compositions", long_still,
                      status=202)["composition_id"]
        self.assertEqual(self.wait_done(cid)[0]["status"], "completed")
        # A video sent as an image asset, and a picture sent as a video
        # asset, fail with a reason; neither is usable as a clip.
        wrong = [self.make_asset(self.c, "clip-as-image", "h264_aac.mp4",
                                 "image", "image/png"),
                 self.make_asset(self.c, "png-as-video", "picture.png",
                                 "video", "video/mp4")]
        for aid, why in zip(wrong, ("not a picture", "not a media file")):
            a = self.wait_failed_asset(aid)
            self.assertEqual(a["status"], "failed", a)
            self.assertEqual(a["error"]["code"], "bad_media", a)
            self.assertIn(why, a["error"]["message"], a)
            clip = copy.deepcopy(body)
            clip["clips"] = [{"asset_id": aid, "start": 0, "end": 1}]
            detail = self.error("POST", "/compositions", 422,
                                "invalid_argument", clip)
            self.assertIn("clips[0].asset_id", detail)

    def test_3c_a_composition_is_a_source_of_another(self):
        first = type(self).completed
        body = {"title": "sequel",
                "clips": [{"job_id": first, "start": 2, "end": 3},
                          {"asset_id": self.assets["small"], "start": 0,
                           "end": 0.5}],
                "output": {"resolution": "480p", "fps": 24}}
        made = self.ok("POST", "/compositions", body, status=202)
        st, _ = self.wait_done(made["composition_id"])
        self.assertEqual(st["status"], "completed", st)
        d = self.ok("GET", f"/compositions/{made['composition_id']}/download")
        self.assertAlmostEqual(d["duration"], 1.5, delta=0.15)
        self.assertEqual(self.ok("GET", f"/compositions/{made['composition_id']}")
                         ["sources"], [first, self.assets["small"]])
        # Named as an asset, past its end, or not finished: 422 naming it.
        for clip, why in (({"asset_id": first, "start": 0, "end": 1},
                           "name it by job_id"),
                          ({"job_id": first, "start": 0, "end": 4},
                           "past the end")):
            detail = self.error("POST", "/compositions", 422,
                                "invalid_argument",
                                dict(body, clips=[clip]))
            self.assertIn("clips[0]", detail)
            self.assertIn(why, detail)
        long = {"title": "long", "clips": [{"asset_id": self.assets["long"],
                                            "start": 0, "end": 20}],
                "output": {"resolution": "1080p", "fps": 60}}
        running = self.ok("POST", "/compositions", long,
                          status=202)["composition_id"]
        detail = self.error("POST", "/compositions", 422, "invalid_argument",
                            dict(body, clips=[{"job_id": running, "start": 0,
                                               "end": 1}]))
        self.assertIn(f"/compositions/{running}", detail)
        self.ok("DELETE", f"/compositions/{running}")

    def test_4_cancel_and_cancel_all(self):
        long = {"title": "long", "clips": [{"asset_id": self.assets["long"],
                                            "start": 0, "end": 20}],
                "output": {"resolution": "1080p", "fps": 60}}
        one = self.ok("POST", "/compositions", long, status=202)
        cid = one["composition_id"]
        done = self.ok("POST", f"/compositions/{cid}/cancel")
        self.assertEqual(done["status"], "cancelled")
        self.error("POST", f"/compositions/{cid}/cancel", 409, "conflict")
        self.error("GET", f"/compositions/{cid}/download", 409, "conflict")
        st = self.ok("GET", f"/compositions/{cid}/status")
        self.assertEqual((st["status"], st["percent"]), ("cancelled", 0))
        ids = [self.ok("POST", "/compositions", long,
                       status=202)["composition_id"] for _ in range(2)]
        r = self.ok("POST", "/compositions/cancel-all")
        self.assertEqual(sorted(r["composition_ids"]), sorted(ids))
        self.assertEqual(r["cancelled"], 2)
        for x in ids:
            self.assertEqual(self.ok("GET", f"/compositions/{x}")["status"],
                             "cancelled")
        self.assertEqual(self.ok("POST", "/compositions/cancel-all")
                         ["cancelled"], 0)
        # Cancelled ones are listed as such.
        page = self.ok("GET", "/compositions?status=cancelled&limit=100")
        self.assertEqual(sorted(x["composition_id"] for x in page["items"]),
                         sorted(ids + [cid]))

    def test_5_delete_removes_it_and_its_file(self):
        cid = type(self).completed
        d = self.ok("GET", f"/compositions/{cid}/download")
        gone = self.ok("DELETE", f"/compositions/{cid}")
        self.assertTrue(gone["deleted"])
        self.assertGreaterEqual(gone["objects_deleted"], 1)
        self.error("GET", f"/compositions/{cid}", 404, "not_found")
        self.assertEqual(h.request("GET", d["download_url"]).status, 404)
        # The sources it was cut from are untouched.
        self.assertEqual(self.ok("GET", f"/assets/{self.assets['wide']}")
                         ["status"], "ready")

    def test_6_many_newer_jobs_do_not_hide_compositions_or_assets(self):
        # Listings once looked only among the caller's 200 newest jobs:
        # 205 newer uploads emptied both. Now they read compositions and
        # assets only.
        long = {"title": "buried", "clips": [{"asset_id": self.assets["long"],
                                              "start": 0, "end": 20}],
                "output": {"resolution": "1080p", "fps": 60}}
        buried = self.ok("POST", "/compositions", long,
                         status=202)["composition_id"]
        before = self.ok("GET", "/compositions?limit=100")
        assets = self.ok("GET", "/assets?limit=100")["items"]
        audio = self.ok("GET", "/assets?kind=audio")["items"]
        self.assertGreaterEqual(before["total"], 4)
        for i in range(205):
            self.c.create_job(f"newer-{i}.mp4", "video/mp4")
        after = self.ok("GET", "/compositions?limit=100")
        self.assertEqual(after["total"], before["total"])
        self.assertEqual([x["composition_id"] for x in after["items"]],
                         [x["composition_id"] for x in before["items"]])
        self.assertEqual(self.ok("GET", "/assets?limit=100")["items"], assets)
        self.assertEqual(self.ok("GET", "/assets?kind=audio")["items"], audio)
        page = self.ok("GET", "/compositions?limit=1&offset=1")
        self.assertEqual([x["composition_id"] for x in page["items"]],
                         [before["items"][1]["composition_id"]])
        for q in ("?offset=1000", "?offset=x"):
            self.error("GET", "/compositions" + q, 422, "invalid_argument")
        # cancel-all reaches them too.
        r = self.ok("POST", "/compositions/cancel-all")
        self.assertEqual(r["composition_ids"], [buried])


if __name__ == "__main__":
    h.main(__doc__)
