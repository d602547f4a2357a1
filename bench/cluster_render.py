#!/usr/bin/python3
"""bench/cluster_render.py — one job's renditions on 1 and on 2 worker nodes.

For each node count (--nodes, default 1,2) it starts a fresh coordinator
(`vidflow serve --workers 0 --cluster-port ...`) and that many worker nodes
(`vidflow worker --slots 1`), submits ONE job that makes 1080p, 720p and
480p renditions and a thumbnail of a 1080p30 clip (made by ffmpeg,
--seconds long, cached in --work-dir), and waits for it. From the
coordinator's attempt ledger it prints the render step's wall time (lease
to outcome), which workers made it (a render spread over two nodes lists
both, joined by '+'), and the job's wall time from upload to SUCCEEDED.

All nodes run on this machine, so two nodes share its cores: expect little
gain here. On separate machines the render's wall time falls towards its
heaviest part (for 1080p/720p/480p: the 1080p alone, about 0.6 of the
whole; see docs/outputs.md).

    /usr/bin/python3 bench/cluster_render.py [--binary build/vidflow]
        [--nodes 1,2] [--seconds 20] [--work-dir /tmp/vf-bench-render-cluster]

Never fails on speed; exit 1 only when a run broke.
"""

import argparse
import contextlib
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import vfharness as h  # noqa: E402
import clusterlib as cx  # noqa: E402


def make_source(path, seconds):
    if os.path.exists(path):
        return
    print(f"generating {path} ...", flush=True)
    tmp = path + ".tmp.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
         f"testsrc2=size=1920x1080:rate=30:duration={seconds}", "-f", "lavfi",
         "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
         "-c:v", "libx264", "-preset", "veryfast", "-g", "250", "-pix_fmt",
         "yuv420p", "-c:a", "aac", "-b:a", "128k", tmp], check=True)
    os.rename(tmp, path)


def run(binary, nodes, source):
    names = [f"n{i + 1}" for i in range(nodes)]
    certs = cx.Certs(binary).make("coordinator", *names)
    coord = cx.Coordinator(binary, certs, pipeline="probe,summarize").start()
    workers = []
    try:
        workers = [cx.WorkerNode(binary, n, coord.join_address(),
                                 certs.args(n), slots=1).start()
                   for n in names]
        coord.wait_nodes(f"{nodes} nodes", lambda ns: len(ns) == nodes)
        c = coord.client()
        r = c.call("POST", "/jobs", {
            "filename": "bench.mp4", "content_type": "video/mp4",
            "outputs": {"thumbnails": ["small"],
                        "renditions": ["1080p", "720p", "480p"]}})
        if r.status != 201:
            raise RuntimeError(f"POST /jobs → {r!r}")
        job = r.json()
        with open(source, "rb") as f:
            data = f.read()
        start = time.monotonic()
        put = h.upload(job["upload_url"], data, "video/mp4", timeout=300)
        if put.status != 200:
            raise RuntimeError(f"upload → {put!r}")
        final = c.wait_status(job["job_id"], h.TERMINAL, deadline_s=1800,
                              interval_s=0.5)
        wall = time.monotonic() - start
        if final["status"] != "SUCCEEDED":
            raise RuntimeError(f"job ended {final['status']}: "
                               f"{final.get('error')}")
        with contextlib.closing(coord.db()) as conn:
            row = conn.execute(
                "SELECT worker, leased_at, finished_at, duration_us FROM "
                "attempts WHERE job_id = ? AND kind = 'render' AND ok = 1",
                (job["job_id"],)).fetchone()
        return {"nodes": nodes, "render_s": (row[2] - row[1]) / 1000.0,
                "workers": row[0], "job_s": wall}
    finally:
        for w in workers:
            if w.alive():
                w.stop(deadline_s=30)
        coord.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", help="vidflow binary (default: build/vidflow)")
    ap.add_argument("--nodes", default="1,2")
    ap.add_argument("--seconds", type=int, default=20,
                    help="length of the 1080p30 source")
    ap.add_argument("--work-dir", default="/tmp/vf-bench-render-cluster")
    args = ap.parse_args()
    binary = h.resolve_binary(args.binary)
    h.binary = binary
    os.makedirs(args.work_dir, exist_ok=True)
    source = os.path.join(args.work_dir, f"1080p30-{args.seconds}s.mp4")
    make_source(source, args.seconds)
    print(f"cluster_render: {os.cpu_count()} CPUs, {args.seconds} s 1080p30 "
          f"source, renditions 1080p/720p/480p + a thumbnail", flush=True)
    print(f"{'nodes':>5} {'render wall':>12} {'job wall':>10}  made by")
    broke = False
    for n in (int(x) for x in args.nodes.split(",")):
        try:
            res = run(binary, n, source)
            print(f"{n:>5} {res['render_s']:>10.2f} s {res['job_s']:>8.2f} s"
                  f"  {res['workers']}", flush=True)
        except Exception as e:  # noqa: BLE001 — report and go on
            broke = True
            print(f"{n:>5} FAILED: {e}", flush=True)
    return 1 if broke else 0


if __name__ == "__main__":
    sys.exit(main())
