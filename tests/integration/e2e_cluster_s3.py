#!/usr/bin/python3
"""End-to-end cluster in `store.mode = s3`: worker nodes fetch uploads
straight from a real S3 server (s3rver) by presigned GET URLs.

    deploy/install-deps.sh --test        # puts s3rver into build/tools
    /usr/bin/python3 tests/integration/e2e_cluster_s3.py --binary build/vidflow \\
        [--jobs 20] [--keep]

s3rver (npm @20minutes/s3rver, started as in e2e_s3rver.py through
s3rver-launcher.js, which forwards its object events to the coordinator's
/minio/webhook) holds the bucket `uploads`. The coordinator is `vidflow
serve --workers 0 --cluster-port C --store-mode s3 --store-endpoint <s3rver>`
(mutual TLS, certificates from `vidflow cluster init-certs`); two `vidflow
worker` nodes join with 2 slots each and no S3 credentials: the dispatcher
gives them presigned GET URLs signed for the S3 endpoint.

Jobs get presigned PUT URLs for s3rver, the clips are uploaded there, and
every job must SUCCEED with the object s3rver stored (size, ETag). The
attempt ledger must show each step ok exactly once, every step run on a
worker node, probes on both nodes, no failed attempt; results of a few clips
agree with ffprobe. That the objects came by URL from s3rver: the
coordinator's built-in store is not running (its store port refuses
connections), the nodes hold no credentials, and each node's download file
(D/tmp/slot-N.object) is byte for byte one of the uploaded clips. Missing
node or s3rver is a failure, never a skip (as in e2e_s3rver.py).

test_remote_render_stores_outputs_in_s3: a job with a thumbnail and a
rendition renders on a worker node, which stores both straight in s3rver
by the presigned PUT URLs its lease carries; the API's download URLs serve
them from s3rver and ffprobe reads the expected sizes.
"""

import collections
import os
import socket
import sys
import time
import unittest

sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402
import chaoslib as cl  # noqa: E402
import clusterlib as cx  # noqa: E402
import e2e_s3rver as s3  # noqa: E402  (start_s3rver, credentials)

JOBS = cl.pop_option("jobs", 20, int)
SLEEP_MS = cl.pop_option("sleep-ms", 150, int)
NODES = ("w1", "w2")
SLOTS = 2
BUCKET = "uploads"


class ClusterS3(unittest.TestCase):

    def setUp(self):
        self.s3rver = None
        self.coord = None
        self.workers = []

    def tearDown(self):
        for w in self.workers:
            if w.alive():
                w.stop(deadline_s=20)
        if self.coord is not None:
            self.coord.stop()
        if self.s3rver is not None:
            self.s3rver.stop()

    def start_cluster(self):
        certs = cx.Certs(h.binary).make("coordinator", *NODES)
        self.s3_port = h.free_port()
        self.endpoint = f"http://127.0.0.1:{self.s3_port}"
        coord = cx.Coordinator(
            h.binary, certs, sleep_ms=SLEEP_MS, public_url=self.endpoint,
            extra_args=("--store-mode", "s3",
                        "--store-endpoint", self.endpoint,
                        "--bucket", BUCKET, "--region", "us-east-1",
                        "--access-key", s3.ACCESS_KEY,
                        "--secret-key", s3.SECRET_KEY))
        # s3rver first: it needs the coordinator's webhook URL (the port is
        # fixed before the coordinator starts).
        self.s3rver = s3.start_s3rver(
            self.s3_port, f"{coord.base}/minio/webhook")
        self.coord = coord.start()
        # No S3 flags for the nodes: they can only use the URLs they get.
        self.workers = [cx.WorkerNode(h.binary, n, coord.join_address(),
                                      certs.args(n), slots=SLOTS).start()
                        for n in NODES]
        for w in self.workers:
            bad = [a for a in w.argv if a.startswith(("--access-key",
                   "--secret-key", "--store-"))]
            self.assertFalse(bad, f"worker {w.name} got S3 flags: {bad}")
        coord.wait_nodes(f"nodes {NODES} registered",
                         lambda ns: all(n in ns and ns[n]["workers"] == SLOTS
                                        for n in NODES))

    def submit(self, client, retries):
        """Creates JOBS jobs and PUTs a clip to each presigned URL, which
        must point at s3rver; returns [(Submitted, PUT ETag, size)]."""
        clips = cx.CLIPS
        data = {c: h.read_bytes(h.clip(c)) for c in clips}

        def one(i):
            st = cx.Submitted(i, clips[i % len(clips)])
            ctype = cx.CONTENT_TYPES[os.path.splitext(st.clip)[1]]
            body = {"filename": f"s3c-{i:03d}-{st.clip}",
                    "content_type": ctype}
            r = cl.retrying(lambda: client.call("POST", "/jobs", body),
                            "POST /jobs", retries, deadline_s=60)
            if r.status != 201:
                raise AssertionError(f"POST /jobs {body} → {r!r}")
            job = r.json()
            st.job_id = job["job_id"]
            if job.get("s3_bucket") != BUCKET or not job["upload_url"] \
                    .startswith(self.endpoint + "/"):
                raise AssertionError(f"job {st.job_id}: upload not aimed at "
                                     f"s3rver {self.endpoint}: {job}")
            r = h.upload(job["upload_url"], data[st.clip], ctype)
            if r.status != 200:
                raise AssertionError(f"s3rver refused the presigned PUT "
                                     f"{job['upload_url']} → {r!r}")
            return st, r.headers.get("etag", "").strip('"'), len(data[st.clip])

        return h.run_parallel(one, range(JOBS), max_workers=8), data

    def test_remote_workers_fetch_from_s3(self):
        self.start_cluster()
        coord = self.coord
        problems = []

        # The built-in store must not be running in s3 mode.
        store_state = "refused"
        try:
            with socket.create_connection(("127.0.0.1", coord.store_port),
                                          timeout=3):
                store_state = "OPEN"
        except ConnectionRefusedError:
            pass
        except OSError as e:
            store_state = f"{type(e).__name__}: {e}"
        if store_state != "refused":
            problems.append(f"coordinator's built-in store port "
                            f"{coord.store_port}: {store_state}, expected "
                            f"connection refused (s3 mode)")

        client = coord.client()
        retries = cl.Retries()
        m0 = client.metrics()
        t0 = time.monotonic()
        submitted, data = self.submit(client, retries)
        jobs = [s for s, _, _ in submitted]
        uploaded_at = time.monotonic() - t0
        final = cx.wait_terminal(client, jobs, deadline_s=180,
                                 retries=retries)
        settled_at = time.monotonic() - t0
        problems += cx.outcome_problems(jobs, final)

        # The object each job ran on is the one s3rver stored.
        for s, etag, size in submitted:
            job = final.get(s.job_id) or {}
            obj = job.get("object") or {}
            if job.get("status") != "SUCCEEDED":
                continue
            if job.get("attempts") != 1:
                problems.append(f"job {s.job_id}: attempts "
                                f"{job.get('attempts')}, expected 1")
            if obj.get("bucket", BUCKET) != BUCKET \
                    or int(obj.get("size", -1)) != size \
                    or (obj.get("etag") or "").strip('"') != etag:
                problems.append(f"job {s.job_id}: object {obj} is not the "
                                f"upload (size {size}, s3rver ETag {etag})")

        rep = cx.LedgerReport(coord.ledger(), jobs, final, coord.pipeline)
        problems += rep.problems
        mine = {s.job_id for s in jobs}
        rows = [r for r in rep.rows if r["job_id"] in mine]
        if rep.failed:
            problems.append(f"failed attempts: {cx.fmt_counter(rep.failed)} "
                            f"({[(r['worker'], r['kind'], r['error_message']) for r in rows if not r['ok']][:5]})")
        elsewhere = collections.Counter(
            cx.node_of(r["worker"]) for r in rows
            if r["ok"] and cx.node_of(r["worker"]) not in NODES)
        if elsewhere:
            problems.append(f"steps ran off the worker nodes (coordinator "
                            f"has --workers 0): {cx.fmt_counter(elsewhere)}")
        probes = collections.Counter(
            cx.node_of(r["worker"]) for r in rows
            if r["ok"] and r["kind"] == "probe")
        for n in NODES:
            if probes[n] == 0:
                problems.append(f"node {n} ran no probe (probes by node: "
                                f"{cx.fmt_counter(probes)})")

        # Each node's download file holds one of the uploaded clips.
        fetched = {}
        for w in self.workers:
            tmp = os.path.join(w.data_dir, "tmp")
            names = sorted(f for f in os.listdir(tmp)
                           if f.endswith(".object")) \
                if os.path.isdir(tmp) else []
            same = []
            for f in names:
                with open(os.path.join(tmp, f), "rb") as fh:
                    got = fh.read()
                same += [f"{f}={c}" for c, b in data.items() if b == got]
            fetched[w.name] = same
            if not same:
                problems.append(f"node {w.name}: no download file in {tmp} "
                                f"equals an uploaded clip (files: {names})")

        m1 = client.metrics()
        accepted = (h.metric_value(m1, "vidflow_object_events_total",
                                   outcome="accepted")
                    - h.metric_value(m0, "vidflow_object_events_total",
                                     outcome="accepted"))
        if accepted != JOBS:
            problems.append(f"{accepted:g} object events accepted from "
                            f"s3rver's webhook, expected {JOBS}")
        meta, clips = cx.metadata_problems(client, jobs)
        problems += meta

        exits = {}
        for w in self.workers:
            exits[w.name] = w.stop(deadline_s=60)
            if exits[w.name] != 0:
                problems.append(f"worker {w.name} exited with "
                                f"{exits[w.name]} after SIGTERM")

        cx.print_summary("cluster: objects straight from S3 (s3rver)", [
            ("jobs", f"{JOBS} ({cx.fmt_counter(collections.Counter(j['status'] for j in final.values()))})"),
            ("uploads done", f"t={uploaded_at:.1f}s; settled t={settled_at:.1f}s"),
            ("s3 endpoint", self.endpoint),
            ("built-in store", f"port {coord.store_port}: {store_state}"),
            ("webhook events", f"{accepted:g} accepted"),
            ("ok steps by node", cx.fmt_counter(rep.ok_by_node)),
            ("probes by node", cx.fmt_counter(probes)),
            ("download files", "; ".join(f"{n}: {', '.join(v) or '-'}"
                                         for n, v in fetched.items())),
            ("failed attempts", cx.fmt_counter(rep.failed)),
            ("duplicate ok steps", sum(len(v) - 1 for v in rep.duplicates.values())),
            ("results checked", f"{len(clips)} vs ffprobe ({', '.join(clips)})"),
            ("client retries", retries.summary()),
            ("worker exits", cx.fmt_counter(exits)),
        ])
        self.assertFalse(problems, "\n".join(
            [f"{len(problems)} problem(s):"] + problems[:40]))

    def test_remote_render_stores_outputs_in_s3(self):
        """A render on a worker node stores each output straight in s3rver
        by the presigned PUT its lease carries (the node has no
        credentials); the API's download URLs serve them from s3rver."""
        self.start_cluster()
        client = self.coord.client()
        body = {"filename": "render.mp4", "content_type": "video/mp4",
                "outputs": {"thumbnails": ["small"],
                            "renditions": ["240p"]}}
        r = client.call("POST", "/jobs", body)
        self.assertEqual(r.status, 201, r)
        job = r.json()
        src = h.clip("h264_aac_640x360.mp4")
        put = h.upload(job["upload_url"], h.read_bytes(src), "video/mp4")
        self.assertEqual(put.status, 200, put)
        final = client.wait_status(job["job_id"], h.TERMINAL, deadline_s=120)
        self.assertEqual(final["status"], "SUCCEEDED",
                         f"{final}\n{self.coord.log_text()[-3000:]}")
        res = client.result(job["job_id"]).json()
        renders = [row for row in self.coord.ledger()
                   if row["job_id"] == job["job_id"]
                   and row["kind"] == "render"]
        self.assertEqual([cx.node_of(row["worker"]) in NODES
                          for row in renders], [True], renders)
        got = {}
        for kind, suffix in (("thumbnails", ".jpg"), ("renditions", ".mp4")):
            for x in res["outputs"][kind]:
                self.assertTrue(x["url"].startswith(self.endpoint + "/"), x)
                dl = h.request("GET", x["url"], timeout=30)
                self.assertEqual(dl.status, 200, dl)
                self.assertEqual(len(dl.body), x["bytes"], x)
                path = os.path.join(h.scratch_dir(), f"s3-{x['name']}{suffix}")
                with open(path, "wb") as f:
                    f.write(dl.body)
                info = h.ffprobe(path)
                got[x["name"]] = (int(info["streams"][0]["width"]),
                                  int(info["streams"][0]["height"]))
        self.assertEqual(got, {"small": (320, 180), "240p": (426, 240)}, res)
        print(f"\n  render on {renders[0]['worker']}: outputs stored in "
              f"s3rver by presigned PUT: {got}", flush=True)


if __name__ == "__main__":
    h.main(__doc__)
