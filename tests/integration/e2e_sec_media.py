#!/usr/bin/python3
"""End-to-end: an upload is probed from its own bytes only (issue 8, #3).

    /usr/bin/python3 tests/integration/e2e_sec_media.py --binary build/vidflow

One real `vidflow serve` node, two users. Alice uploads a clip with a
distinctive title tag, size and duration. Bob uploads files that make an
unconfined libavformat read *her* upload: an HLS playlist named `.mp4`
pointing at `../<alice's job>/holiday.mp4`, at the absolute path of her
object in the data directory and at its `file:` URL, and an ffconcat script
naming it. Each of Bob's jobs must end FAILED with `bad_media`, and nothing
of Alice's clip (title, size, duration) may show in Bob's job, result or
attempts. Alice's own job must succeed and show her title (the control that
makes the absence mean something). Then the node is still healthy.
"""

import json
import os
import subprocess
import sys
import unittest
import uuid

sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402

JOB_DEADLINE_S = 90
USERS = "alice:alice-pw-1:user,bob:bob-pw-1:user"
# Alice's clip: every one of these shows in her metadata, none may in Bob's.
TITLE = "SECRET-holiday-" + uuid.uuid4().hex[:12]
WIDTH, HEIGHT, DURATION = 208, 144, "2.480000"
MARKS = (TITLE, "holiday", f'"width": {WIDTH}', f'"height": {HEIGHT}',
         DURATION)


def secret_clip():
    path = os.path.join(h.scratch_dir(), "clips", "holiday.mp4")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not os.path.exists(path):
        r = subprocess.run(
            ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
             "-f", "lavfi", "-i",
             f"testsrc=size={WIDTH}x{HEIGHT}:rate=25:duration=2.48",
             "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
             "-movflags", "+faststart", "-metadata", f"title={TITLE}", path],
            capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError(f"ffmpeg failed: {r.stderr}")
    return path


def playlist(*segments):
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:3",
             "#EXT-X-MEDIA-SEQUENCE:0"]
    for seg in segments:
        lines += ["#EXTINF:2.48,", seg]
    lines.append("#EXT-X-ENDLIST")
    return ("\n".join(lines) + "\n").encode()


def compact(doc):
    """JSON text with the spacing probe output uses, for the mark search."""
    return json.dumps(doc, indent=4)


class ConfinedMedia(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = h.Server(h.binary, extra_args=["--users", USERS])
        cls.alice = h.Client(cls.server.base)
        cls.alice.login("alice", "alice-pw-1")
        cls.bob = h.Client(cls.server.base)
        cls.bob.login("bob", "bob-pw-1")
        # Alice's private upload, probed normally.
        job = cls.alice.create_job("holiday.mp4", "video/mp4")
        r = h.upload(job["upload_url"], h.read_bytes(secret_clip()),
                     "video/mp4")
        if r.status != 200:
            raise AssertionError(f"alice's upload: {r!r}")
        cls.alice_job = job
        cls.alice_done = cls.alice.wait_status(job["job_id"], h.TERMINAL,
                                               deadline_s=JOB_DEADLINE_S)
        # objectstore/object_paths.cpp: <data>/objects/<bucket>/<key>
        cls.alice_path = os.path.join(cls.server.data_dir, "objects",
                                      job["s3_bucket"], job["s3_key"])

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def bob_uploads(self, filename, data):
        """Bob's job for `data`, waited for to a terminal state; returns
        (job, everything the API shows Bob about it as text)."""
        job = self.bob.create_job(filename, "video/mp4")
        r = h.upload(job["upload_url"], data, "video/mp4")
        self.assertEqual(r.status, 200, f"bob's upload of {filename}: {r!r}")
        done = self.bob.wait_status(job["job_id"], h.TERMINAL,
                                    deadline_s=JOB_DEADLINE_S)
        shown = [compact(done)]
        for path in (f"/jobs/{job['job_id']}/result",
                     f"/jobs/{job['job_id']}/attempts"):
            resp = self.bob.call("GET", path)
            self.assertLess(resp.status, 500, f"GET {path}: {resp!r}")
            try:
                shown.append(compact(resp.json()))
            except ValueError:
                shown.append(resp.text)
        return done, "\n".join(shown)

    def check_refused(self, filename, data):
        done, shown = self.bob_uploads(filename, data)
        leaked = [m for m in MARKS if m in shown]
        self.assertEqual(leaked, [], f"{filename}: Bob sees Alice's clip:\n"
                         f"{shown}")
        self.assertEqual(done["status"], "FAILED", shown)
        self.assertEqual(done["error_code"], "bad_media", shown)
        self.assertIn("not a media file", done.get("error_message") or "",
                      shown)

    def test_0_alice_sees_her_own_clip(self):
        done = self.alice_done
        self.assertEqual(done["status"], "SUCCEEDED", json.dumps(done))
        self.assertTrue(os.path.isfile(self.alice_path),
                        f"object layout changed: no {self.alice_path}")
        res = self.alice.result(self.alice_job["job_id"])
        self.assertEqual(res.status, 200, repr(res))
        text = compact(res.json())
        for mark in MARKS:
            self.assertIn(mark, text, "the control lacks a mark")

    def test_hls_relative_to_another_job(self):
        self.check_refused("playlist.mp4", playlist(
            f"../{self.alice_job['job_id']}/holiday.mp4"))

    def test_hls_relative_named_m3u8(self):
        self.check_refused("playlist.m3u8", playlist(
            f"../{self.alice_job['job_id']}/holiday.mp4"))

    def test_hls_absolute_path(self):
        self.check_refused("absolute.mp4", playlist(self.alice_path))

    def test_hls_file_and_http_urls(self):
        self.check_refused("urls.mp4", playlist(
            "file:" + self.alice_path, "http://127.0.0.1:9/holiday.mp4"))

    def test_ffconcat(self):
        script = ("ffconcat version 1.0\n"
                  f"file '../{self.alice_job['job_id']}/holiday.mp4'\n"
                  f"file '{self.alice_path}'\n").encode()
        self.check_refused("concat.mp4", script)

    def test_z_node_still_healthy(self):
        r = h.request("GET", self.server.base + "/healthz")
        self.assertEqual(r.status, 200)
        # And a normal upload of Bob's still succeeds.
        job = self.bob.create_job("ok.mp4", "video/mp4")
        r = h.upload(job["upload_url"],
                     h.read_bytes(h.clip("h264_aac.mp4")), "video/mp4")
        self.assertEqual(r.status, 200, repr(r))
        done = self.bob.wait_status(job["job_id"], h.TERMINAL,
                                    deadline_s=JOB_DEADLINE_S)
        self.assertEqual(done["status"], "SUCCEEDED", json.dumps(done))


if __name__ == "__main__":
    h.main(__doc__)
