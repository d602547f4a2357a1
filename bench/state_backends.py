#!/usr/bin/python3
"""vidflow's state in SQLite vs DynamoDB (dynalite), on this machine.

    /usr/bin/python3 bench/state_backends.py --binary build/vidflow
        [--jobs 300] [--pipeline probe,summarize]

Runs the same work twice, once per `store.backend`, each on a fresh node
with the built-in object store:

  create   POST /jobs, 8 clients at once: jobs/s and latency p50/p99 (ms)
  process  upload every job's clip (8 at once) and wait until every job
           has ended: jobs/s from the first upload to the last job ended
  read     GET /jobs/{id}, 8 clients at once: reads/s and p50/p99 (ms)

DynamoDB here is dynalite, an emulator on 127.0.0.1 (DynamoDB cannot run
here) answering a call in about a millisecond; AWS in-region answers in
3-10 ms, so expect the dynamodb column to be bounded by round trips
(a job takes some 15-25 calls) and by `dynamodb.workers` (16 calls in
flight). Numbers only; never fails on speed. Needs node with dynalite
(deploy/install-deps.sh --test).
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402
from e2e_sqs import Dynalite, AWS_ENV  # noqa: E402


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000 if xs else 0.0


def timed(fn):
    t = time.monotonic()
    out = fn()
    return out, time.monotonic() - t


def run(args, backend, ddb):
    extra = ["--pipeline", args.pipeline, "--log-level", "warning",
             "--jobs-in-flight-per-user", "0"]
    if backend == "dynamodb":
        extra += ["--store-backend", "dynamodb", "--dynamodb-endpoint",
                  ddb.endpoint, "--dynamodb-table", "bench-state",
                  "--dynamodb-create-table", "1"]
    server = h.Server(args.binary, env=AWS_ENV, extra_args=extra)
    try:
        c = server.client()
        n = args.jobs
        t0 = time.monotonic()
        made = h.run_parallel(
            lambda i: timed(lambda: c.create_job(f"bench {i}.mp4",
                                                 "video/mp4")),
            range(n), max_workers=8)
        create_s = time.monotonic() - t0
        jobs = [j for j, _ in made]
        create_lat = [s for _, s in made]
        body = h.read_bytes(h.clip("h264_aac.mp4"))
        t1 = time.monotonic()

        def up(job):
            r = h.upload(job["upload_url"], body, "video/mp4")
            if r.status != 200:
                raise SystemExit(f"{backend}: upload failed: {r!r}")
        h.run_parallel(up, jobs, max_workers=8)
        while True:
            done = h.metric_value(c.metrics(), "vidflow_jobs_ended_total")
            if done >= n:
                break
            if time.monotonic() - t1 > 900:
                raise SystemExit(f"{backend}: only {done} of {n} jobs "
                                 "ended within 900 s")
            time.sleep(0.05)
        process_s = time.monotonic() - t1
        ok = h.metric_value(c.metrics(), "vidflow_jobs_ended_total",
                            status="SUCCEEDED")
        t2 = time.monotonic()
        reads = h.run_parallel(
            lambda j: timed(lambda: c.get_job(j["job_id"]))[1], jobs,
            max_workers=8)
        read_s = time.monotonic() - t2
        return {"create/s": n / create_s, "create p50": pct(create_lat, .5),
                "create p99": pct(create_lat, .99),
                "jobs/s": n / process_s, "succeeded": ok,
                "read/s": n / read_s, "read p50": pct(reads, .5),
                "read p99": pct(reads, .99)}
    finally:
        server.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--binary", default=None)
    p.add_argument("--jobs", type=int, default=300)
    p.add_argument("--pipeline", default="probe,summarize")
    args = p.parse_args()
    args.binary = h.resolve_binary(args.binary)
    ddb = Dynalite()
    try:
        rows = {b: run(args, b, ddb) for b in ("sqlite", "dynamodb")}
    finally:
        ddb.stop()
    print(f"\n{args.jobs} jobs, pipeline {args.pipeline}, built-in store; "
          f"DynamoDB = dynalite emulator on 127.0.0.1")
    cols = ["create/s", "create p50", "create p99", "jobs/s", "succeeded",
            "read/s", "read p50", "read p99"]
    print(f"{'backend':9s}" + "".join(f"{c:>11s}" for c in cols))
    for b, r in rows.items():
        print(f"{b:9s}" + "".join(f"{r[c]:11.1f}" for c in cols))
    print("(p50/p99 in ms)")


if __name__ == "__main__":
    try:
        main()
    finally:
        h._cleanup_scratch()
