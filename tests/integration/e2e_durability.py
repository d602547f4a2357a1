#!/usr/bin/python3
"""End-to-end durability beyond a process kill: failing fsync, write and
rename under a real vidflow process, and nothing acknowledged lost.

    /usr/bin/python3 tests/integration/e2e_durability.py \\
        --binary build/vidflow --shim build/tests/integration/libvf_fault_shim.so

The faults come from fault_shim.cpp, a test-only LD_PRELOAD library (the
kernel offers no way to make fsync fail on demand without root and a
device-mapper target; the full disk itself is tested for real on a tmpfs in
e2e_sec_storage). Rules are switched on and off while the node runs; every
injected failure is logged by the shim, and each case checks that its fault
really happened.

Cases, each on the built-in store:
- an upload whose bytes cannot be written (ENOSPC), whose partial file
  cannot be fsynced (EIO), whose announcement marker cannot be fsynced
  (EIO) and whose final rename fails (EIO): the PUT is refused (507 for no
  space, 500 otherwise), the job still AWAITING_UPLOAD, no partial file or
  marker left behind; once the fault is gone the same URL uploads and the
  job SUCCEEDS;
- the job store's fsync fails (EIO on vidflow.db/-wal): POST /jobs answers
  503 (never 2xx for a job that was not stored), and works again after;
- then kill -9 and a restart: every job that was acknowledged (201 for the
  job, 200 for the upload) is there with its state and result.
"""

import glob
import json
import os
import signal
import sys
import time

sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402
import chaoslib as cl  # noqa: E402

SHIM = cl.pop_option("shim", None)


class Durability(h.unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not SHIM or not os.path.isfile(SHIM):
            raise AssertionError(f"--shim must name the built fault shim "
                                 f"(libvf_fault_shim.so), got {SHIM!r}")
        cls.rules = os.path.join(h.scratch_dir(), "fault-rules")
        open(cls.rules, "w").close()
        asan = os.environ.get("ASAN_OPTIONS", "")
        cls.env = {"LD_PRELOAD": os.path.abspath(SHIM),
                   "VF_FAULT_SHIM": cls.rules,
                   # The shim comes before the ASan runtime in the library
                   # list of a sanitizer build; that is fine here.
                   "ASAN_OPTIONS": (asan + ":" if asan else "")
                   + "verify_asan_link_order=0"}
        cls.node = cl.Node(h.binary)
        cls.node.start = cls.start_node
        cls.node.start()
        cls.c = cls.node.server.client()
        cls.acknowledged = {}   # job id → status it must keep

    @classmethod
    def start_node(cls):
        n = cls.node
        n.server = h.Server(n.binary, extra_args=n.extra_args,
                            data_dir=n.data_dir, http_port=n.http_port,
                            store_port=n.store_port, env=cls.env,
                            name=f"vidflow-run{n.starts}",
                            start_deadline_s=n.start_deadline_s)
        n.runs.append(n.server)
        n.starts += 1
        return n.server

    @classmethod
    def tearDownClass(cls):
        cls.set_rules()
        cls.node.stop()

    @classmethod
    def set_rules(cls, *lines):
        with open(cls.rules, "w") as f:
            f.write("".join(line + "\n" for line in lines))
        time.sleep(0.1)   # the shim re-reads its rules every 20 ms

    def hits(self):
        try:
            with open(self.rules + ".hits") as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def leftovers(self):
        """Partial files, open announcement markers (journal lines `+` not
        acknowledged by a `-` line) and any other file in the journal
        folder."""
        d = self.node.data_dir
        pending = os.path.join(d, "objects", ".pending")
        open_markers = []
        try:
            with open(os.path.join(pending, "journal")) as f:
                for line in f.read().splitlines():
                    if line.startswith("+"):
                        open_markers.append(json.loads(line[1:])["version"])
                    elif line.startswith("-") and line[1:] in open_markers:
                        open_markers.remove(line[1:])
        except FileNotFoundError:
            pass
        return (glob.glob(os.path.join(d, "objects", ".partial", "*"))
                + [f"marker {v}" for v in open_markers]
                + [p for p in glob.glob(os.path.join(pending, "*"))
                   if os.path.basename(p) != "journal"])

    def refused_upload(self, name, rule, want_status):
        """Uploads under `rule`; checks the refusal, then uploads again
        without it and waits for SUCCEEDED."""
        data = h.read_bytes(h.clip("h264_aac.mp4"))
        job = self.c.create_job(name, "video/mp4")
        jid = job["job_id"]
        before = len(self.hits())
        self.set_rules(rule)
        try:
            r = h.upload(job["upload_url"], data, "video/mp4")
        finally:
            self.set_rules()
        self.assertGreater(len(self.hits()), before,
                           f"the fault '{rule}' never fired")
        self.assertEqual(r.status, want_status, r)
        self.assertIn("<Error>", r.text)
        self.assertEqual(self.c.get_job(jid)["status"], "AWAITING_UPLOAD")
        cx_wait(lambda: not self.leftovers(),
                f"partial files or markers left after '{rule}': "
                f"{self.leftovers()}")
        r = h.upload(job["upload_url"], data, "video/mp4")
        self.assertEqual(r.status, 200, r)
        done = self.c.wait_status(jid, h.TERMINAL, deadline_s=60)
        self.assertEqual(done["status"], "SUCCEEDED", done)
        self.acknowledged[jid] = "SUCCEEDED"

    def test_1_upload_bytes_cannot_be_written(self):
        self.refused_upload("nospace.mp4", "write ENOSPC /objects/.partial/",
                            507)

    def test_2_partial_file_fsync_fails(self):
        self.refused_upload("fsync.mp4", "fsync EIO /objects/.partial/", 500)

    def test_3_marker_fsync_fails(self):
        self.refused_upload("marker.mp4", "fsync EIO /objects/.pending/", 500)

    def test_4_final_rename_fails(self):
        self.refused_upload("rename.mp4", "rename EIO /objects/.partial/",
                            500)

    def test_5_job_store_fsync_fails(self):
        before = len(self.hits())
        self.set_rules("fsync EIO vidflow.db", "write EIO vidflow.db")
        try:
            r = self.c.call("POST", "/jobs", {"filename": "db.mp4"})
        finally:
            self.set_rules()
        self.assertGreater(len(self.hits()), before,
                           "the job store's fsync/write fault never fired")
        self.assertEqual(r.status, 503, r)
        self.assertEqual(set(r.json()), {"detail", "code"}, r)
        # The store recovers: the next job is created and processed.
        job = self.c.create_job("after.mp4", "video/mp4")
        up = h.upload(job["upload_url"],
                      h.read_bytes(h.clip("h264_aac.mp4")), "video/mp4")
        self.assertEqual(up.status, 200, up)
        done = self.c.wait_status(job["job_id"], h.TERMINAL, deadline_s=60)
        self.assertEqual(done["status"], "SUCCEEDED", done)
        self.acknowledged[job["job_id"]] = "SUCCEEDED"

    def test_6_kill9_keeps_everything_acknowledged(self):
        self.assertTrue(self.acknowledged, "the earlier cases ran first")
        results = {j: self.c.result(j).json() for j in self.acknowledged}
        self.node.kill()
        self.node.start()
        c = self.node.server.client()
        for jid, status in self.acknowledged.items():
            self.assertEqual(c.get_job(jid)["status"], status, jid)
            r = c.result(jid)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json(), results[jid], jid)
        print(f"\n  {len(self.acknowledged)} acknowledged job(s) intact after "
              f"kill -9; {len(self.hits())} injected failure(s)", flush=True)


def cx_wait(pred, what, deadline_s=10):
    end = time.monotonic() + deadline_s
    while not pred():
        if time.monotonic() > end:
            raise AssertionError(what)
        time.sleep(0.05)


if __name__ == "__main__":
    h.main(__doc__)
