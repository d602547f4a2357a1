#!/usr/bin/python3
"""End-to-end: the video library (GET /videos, /videos/{id}, views, likes,
GET /stats) on one `vidflow serve` node with real media.

    /usr/bin/python3 tests/integration/e2e_library.py --binary build/vidflow
    ... e2e_library.py Library.test_4_views_survive_kill_9   (one test)

One server for the class; tests run in name order and build on each other
(views counted by one are seen by the next). The kill -9 test restarts the
node on the same data directory and ports.
"""

import collections
import signal
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402

RECIPE = {"thumbnails": ["small"], "renditions": ["240p"]}


class Library(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = h.Server(h.binary)
        cls.c = cls.server.client()
        cls.admin = h.Client(cls.server.base)
        cls.admin.login("admin", "admin")
        cls.ids = {}
        for name, clip, outputs in (("rendered", "h264_aac_320.mp4", RECIPE),
                                    ("plain", "h264_aac.mp4", None),
                                    ("bars", "h264_only.mp4", None)):
            body = {"filename": name + ".mp4", "content_type": "video/mp4"}
            if outputs:
                body["outputs"] = outputs
            r = cls.c.call("POST", "/jobs", body)
            assert r.status == 201, r
            job = r.json()
            put = h.upload(job["upload_url"], h.read_bytes(h.clip(clip)),
                           "video/mp4")
            assert put.status == 200, put
            cls.ids[name] = job["job_id"]
        for name, jid in cls.ids.items():
            job = cls.c.wait_status(jid, h.TERMINAL, deadline_s=120)
            assert job["status"] == "SUCCEEDED", job
        # Not finished: created, never uploaded.
        cls.waiting = cls.c.create_job("later.mp4", "video/mp4")["job_id"]
        # Another user's job (the admin's).
        cls.admins = cls.admin.create_job("theirs.mp4", "video/mp4")["job_id"]

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    # -- helpers ---------------------------------------------------------------

    def ok(self, method, path, client=None, status=200):
        r = (client or self.c).call(method, path)
        self.assertEqual(r.status, status, f"{method} {path}: {r}")
        return r.json()

    def error(self, method, path, status, code, client=None):
        r = (client or self.c).call(method, path)
        self.assertEqual(r.status, status, f"{method} {path}: {r}")
        body = r.json()
        self.assertEqual(body.get("code"), code, body)
        self.assertTrue(body.get("detail"), body)
        return body

    def listing(self, query=""):
        return self.ok("GET", "/videos" + query)

    @staticmethod
    def without_signatures(page):
        """A page with the presigned URLs cut at their query: the signature
        and X-Amz-Date change every second, the object named does not."""
        def cut(item):
            return {k: (v.split("?", 1)[0] if k.endswith("_url") and v
                        else v) for k, v in item.items()}
        return dict(page, items=[cut(x) for x in page["items"]])

    def names(self, items):
        by_id = {v: k for k, v in self.ids.items()}
        return [by_id.get(x["video_id"], x["video_id"]) for x in items]

    def views_of(self, name):
        return self.ok("GET", f"/videos/{self.ids[name]}")["views"]

    # -- tests -----------------------------------------------------------------

    def test_1_items_have_metadata_and_working_links(self):
        page = self.listing()
        self.assertEqual(page["total"], 3, page)
        self.assertEqual(set(self.names(page["items"])),
                         {"rendered", "plain", "bars"})
        items = {n: x for n, x in zip(self.names(page["items"]),
                                      page["items"])}
        r = items["rendered"]
        self.assertEqual((r["width"], r["height"]), (320, 240))
        self.assertAlmostEqual(r["duration"], 1.5, delta=0.1)
        self.assertEqual(r["size"],
                         len(h.read_bytes(h.clip("h264_aac_320.mp4"))))
        self.assertEqual((r["views"], r["likes"], r["engagement"]), (0, 0, 0))
        self.assertEqual(r["filename"], "rendered.mp4")
        self.assertEqual(r["owner"], "demo")
        self.assertIn(f"/outputs/{self.ids['rendered']}/", r["playback_url"])
        thumb = h.request("GET", r["thumbnail_url"])
        self.assertEqual(thumb.status, 200)
        self.assertEqual(thumb.body[:3], b"\xff\xd8\xff")  # a JPEG
        play = h.request("GET", r["playback_url"])
        self.assertEqual(play.status, 200)
        self.assertEqual(play.body[4:8], b"ftyp")
        # Without renditions: the upload itself plays; no thumbnail.
        p = items["plain"]
        self.assertIsNone(p["thumbnail_url"])
        self.assertEqual(h.request("GET", p["playback_url"]).body,
                         h.read_bytes(h.clip("h264_aac.mp4")))
        self.assertIsNone(items["bars"]["thumbnail_url"])
        # One video in full: its renditions and thumbnails too.
        one = self.ok("GET", f"/videos/{self.ids['rendered']}")
        self.assertEqual([x["name"] for x in one["renditions"]], ["240p"])
        self.assertEqual([x["name"] for x in one["thumbnails"]], ["small"])
        self.assertTrue(one["summary"])

    def test_2_every_bad_input_is_a_clear_4xx_and_changes_nothing(self):
        before = self.without_signatures(self.listing())
        for query in ("?sort_by=size", "?order=up", "?limit=0",
                      "?limit=1001", "?limit=ten", "?offset=-1",
                      "?all=maybe", "?owner=a%20b", "?owner=a%2",
                      "?owner=", "?owner=demo&all=true"):
            self.error("GET", "/videos" + query, 422, "invalid_argument")
        self.error("GET", "/videos?owner=admin", 403, "forbidden")
        self.error("GET", "/videos?all=true", 403, "forbidden")
        self.error("GET", "/stats?all=true", 403, "forbidden")
        self.error("GET", "/stats?top=0", 422, "invalid_argument")
        self.error("GET", "/stats?top=101", 422, "invalid_argument")
        unknown = "00000000-0000-4000-8000-000000000000"
        for method, path in (("GET", f"/videos/{unknown}"),
                             ("POST", f"/videos/{unknown}/view"),
                             ("PUT", f"/videos/{unknown}/like"),
                             ("DELETE", f"/videos/{unknown}/like"),
                             # Someone else's video does not exist for us.
                             ("POST", f"/videos/{self.admins}/view"),
                             ("PUT", f"/videos/{self.admins}/like")):
            self.error(method, path, 404, "not_found")
        for method, path in (("GET", f"/videos/{self.waiting}"),
                             ("POST", f"/videos/{self.waiting}/view"),
                             ("PUT", f"/videos/{self.waiting}/like")):
            self.error(method, path, 409, "conflict")
        r = self.c.call("PATCH", f"/videos/{self.ids['plain']}/like")
        self.assertEqual(r.status, 405, r)
        r = h.request("POST", self.server.base
                      + f"/videos/{self.ids['plain']}/view")
        self.assertEqual(r.status, 401, r)
        self.assertEqual(self.without_signatures(self.listing()), before)

    def test_3_likes_are_idempotent_and_pages_sort(self):
        plain = self.ids["plain"]
        for _ in range(2):
            x = self.ok("PUT", f"/videos/{plain}/like")
            self.assertEqual((x["likes"], x["liked"]), (1, True))
        # An admin may see (and like) any video: a second user's like.
        x = self.ok("PUT", f"/videos/{plain}/like", client=self.admin)
        self.assertEqual(x["likes"], 2)
        for _ in range(2):
            x = self.ok("DELETE", f"/videos/{plain}/like")
            self.assertEqual((x["likes"], x["liked"]), (1, False))
        self.assertFalse(self.ok("GET", f"/videos/{plain}")["liked"])
        self.assertTrue(self.ok("GET", f"/videos/{plain}",
                                client=self.admin)["liked"])
        x = self.ok("PUT", f"/videos/{self.ids['bars']}/like")
        for name, n in (("plain", 4), ("bars", 1)):
            for _ in range(n):
                self.ok("POST", f"/videos/{self.ids[name]}/view")
        # views: plain 4, bars 1, rendered 0; likes: 1, 1, 0;
        # engagement: .25, 1, 0.
        self.assertEqual(self.names(self.listing("?sort_by=views")["items"]),
                         ["plain", "bars", "rendered"])
        self.assertEqual(
            self.names(self.listing("?sort_by=views&order=asc")["items"]),
            ["rendered", "bars", "plain"])
        self.assertEqual(
            self.names(self.listing("?sort_by=engagement")["items"]),
            ["bars", "plain", "rendered"])
        # Pages of one add up to the whole list, each with the total.
        whole = self.names(self.listing("?sort_by=likes")["items"])
        pages = []
        for off in range(4):
            page = self.listing(f"?sort_by=likes&limit=1&offset={off}")
            self.assertEqual(page["total"], 3)
            self.assertEqual((page["limit"], page["offset"]), (1, off))
            pages += self.names(page["items"])
        self.assertEqual(pages, whole)
        bars = self.ok("GET", f"/videos/{self.ids['bars']}")
        self.assertEqual(bars["engagement"], 1.0)
        # An admin reads demo's library by name (plain or percent-encoded),
        # and everyone's.
        for name in ("demo", "%64emo"):
            self.assertEqual(self.ok("GET", f"/videos?owner={name}",
                                     client=self.admin)["total"], 3)
        self.assertEqual(self.ok("GET", "/videos?owner=nobody%40x.org",
                                 client=self.admin)["total"], 0)
        self.assertEqual(self.ok("GET", "/videos?all=true",
                                 client=self.admin)["total"], 3)
        self.assertEqual(self.ok("GET", "/videos", client=self.admin)["total"],
                         0)

    def test_4_views_survive_kill_9_and_end_exact(self):
        jid = self.ids["rendered"]
        start = self.views_of("rendered")
        total, clients = 1000, 20
        acked = collections.Counter()
        answers = []
        lock = threading.Lock()
        killed = threading.Event()
        sent_before_kill = [0]

        def view_loop(k, quota):
            c = h.Client(self.server.base, token=self.c.token)
            done = 0
            while done < quota:
                if killed.is_set():
                    return
                with lock:
                    sent_before_kill[0] += 1
                try:
                    r = c.call("POST", f"/videos/{jid}/view", timeout=10)
                except OSError:
                    return  # the node is gone
                if r.status != 200:
                    return
                with lock:
                    acked[k] += 1
                    answers.append(r.json()["views"])
                done += 1

        threads = [threading.Thread(target=view_loop,
                                    args=(k, total // clients))
                   for k in range(clients)]
        for t in threads:
            t.start()
        # Kill mid-way: once about half the views were acknowledged.
        end = time.monotonic() + 60
        while sum(acked.values()) < total // 2 and time.monotonic() < end:
            time.sleep(0.005)
        self.server.stop(sig=signal.SIGKILL)
        killed.set()
        for t in threads:
            t.join()
        got_before = sum(acked.values())
        self.assertGreater(got_before, 0)
        self.assertLess(got_before, total, "the kill came after the end")
        print(f"\n  {got_before} views acknowledged, "
              f"{sent_before_kill[0]} sent before kill -9", flush=True)
        # Same data, same ports.
        type(self).server = h.Server(h.binary, data_dir=self.server.data_dir,
                                     http_port=self.server.http_port,
                                     store_port=self.server.store_port)
        after = self.views_of("rendered")
        # Every acknowledged view kept; none counted that was never sent.
        self.assertGreaterEqual(after, start + got_before)
        self.assertLessEqual(after, start + sent_before_kill[0])
        # Distinct answers: no two views saw the same count.
        self.assertEqual(len(answers), len(set(answers)))
        # The rest, again from 20 clients at once: exactly `total` in all.
        rest = start + total - after
        answers.clear()
        acked.clear()
        killed.clear()
        per = [rest // clients + (1 if k < rest % clients else 0)
               for k in range(clients)]
        threads = [threading.Thread(target=view_loop, args=(k, per[k]))
                   for k in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sum(acked.values()), rest)
        self.assertEqual(self.views_of("rendered"), start + total)
        self.assertEqual(len(answers), len(set(answers)))
        # Likes made before the kill are there too.
        self.assertTrue(self.ok("GET", f"/videos/{self.ids['bars']}")["liked"])

    def test_5_stats_add_up(self):
        st = self.ok("GET", "/stats")
        t = st["totals"]
        self.assertEqual(t["videos"], 3)
        self.assertEqual(t["views"], 1000 + 4 + 1)
        self.assertEqual(t["likes"], 2)
        self.assertAlmostEqual(t["engagement"], 2 / 1005)
        sizes = sum(len(h.read_bytes(h.clip(c))) for c in
                    ("h264_aac.mp4", "h264_aac_320.mp4", "h264_only.mp4"))
        self.assertGreater(t["storage_bytes"], sizes)  # uploads + outputs
        self.assertAlmostEqual(t["minutes"], (1 + 1.5 + 2) / 60, delta=0.01)
        self.assertEqual(self.names(st["top_by_views"]),
                         ["rendered", "plain", "bars"])
        self.assertEqual(self.names(st["top_by_likes"])[0:2],
                         ["bars", "plain"])
        self.assertEqual(self.names(st["top_by_engagement"])[0], "bars")
        days = st["uploads_per_day"]
        self.assertEqual(len(days), 30)
        self.assertEqual(days[-1]["date"],
                         time.strftime("%Y-%m-%d", time.gmtime()))
        # Three uploads today (the waiting job never uploaded).
        self.assertEqual(sum(d["uploads"] for d in days), 3)
        top = self.ok("GET", "/stats?top=1")
        self.assertEqual(len(top["top_by_views"]), 1)
        everyone = self.ok("GET", "/stats?all=true", client=self.admin)
        self.assertEqual(everyone["totals"]["videos"], 3)

    def test_6_deleting_a_job_removes_its_video_and_counts(self):
        self.ok("DELETE", f"/jobs/{self.ids['plain']}")
        page = self.listing()
        self.assertEqual(page["total"], 2)
        self.assertNotIn("plain", self.names(page["items"]))
        st = self.ok("GET", "/stats")["totals"]
        self.assertEqual((st["views"], st["likes"]), (1000 + 1, 1))
        self.error("POST", f"/videos/{self.ids['plain']}/view", 404,
                   "not_found")


if __name__ == "__main__":
    h.main(__doc__)
