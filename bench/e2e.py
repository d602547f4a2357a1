#!/usr/bin/python3
"""bench/e2e.py — end-to-end ingest throughput through the real API.

Starts `vidflow serve` (free ports, temporary data dir), uploads N small
clips concurrently (POST /jobs + PUT to the presigned URL from a thread pool),
then measures:
  - jobs/s: N / (first POST /jobs → last job terminal)
  - upload latency (POST /jobs + PUT) p50/p99
  - upload done → SUCCEEDED p50/p99/max, two ways: as observed by polling
    (GET /history and GET /jobs/{id}; resolution ~ the poll interval), and
    from the server's own updated_at when it has sub-second precision.
Prints a table; never fails on speed (exit 1 only if the run itself broke,
e.g. a job did not finish within --deadline).

    /usr/bin/python3 bench/e2e.py [--binary build/vidflow] [--jobs 300]
                                  [--concurrency 32] [--workers N]
    /usr/bin/python3 bench/e2e.py --url http://127.0.0.1:8000   # running node
"""

import argparse
import datetime
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import vfharness as h  # noqa: E402

CLIPS = [("h264_aac.mp4", "video/mp4"), ("vp9_opus.webm", "video/webm"),
         ("h264_only.mp4", "video/mp4"), ("audio_only.m4a", "audio/mp4")]


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


def epoch_of(iso):
    text = iso.replace("Z", "+00:00")
    return datetime.datetime.fromisoformat(text).timestamp()


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", help="vidflow binary (default: "
                    "$VIDFLOW_BINARY or build/vidflow)")
    ap.add_argument("--url", help="use an already running node instead")
    ap.add_argument("--config", default=h.DEFAULT_CONFIG)
    ap.add_argument("--jobs", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=32,
                    help="client threads for create + PUT (default 32)")
    ap.add_argument("--workers", type=int,
                    help="vidflow --workers (default: the config's)")
    ap.add_argument("--poll-interval", type=float, default=0.05)
    ap.add_argument("--deadline", type=float, default=600,
                    help="seconds for all jobs to finish (a correctness bound)")
    args = ap.parse_args()

    server = None
    if args.url:
        base = args.url
    else:
        binary = h.resolve_binary(args.binary)
        if not os.path.exists(binary):
            print(f"e2e.py: vidflow binary not found at {binary}", file=sys.stderr)
            return 1
        server = h.Server(binary, config=args.config, workers=args.workers)
        base = server.base
    try:
        return run(args, base, server)
    finally:
        if server is not None:
            rc = server.stop()
            if rc != 0:
                print(f"e2e.py: vidflow exited with {rc} on SIGTERM",
                      file=sys.stderr)


def run(args, base, server):
    client = h.Client(base)
    client.login()
    payloads = [(h.read_bytes(h.clip(name)), ctype, name)
                for name, ctype in CLIPS]
    n = args.jobs
    uploaded = {}            # job_id → monotonic time the PUT returned
    upload_lat = []
    lock = threading.Lock()
    # wall clock ↔ monotonic, to compare the server's updated_at
    wall0, mono0 = time.time(), time.monotonic()

    def one(i):
        data, ctype, name = payloads[i % len(payloads)]
        t0 = time.monotonic()
        job = client.create_job(f"bench-{i}-{name}", ctype)
        r = h.upload(job["upload_url"], data, ctype)
        t1 = time.monotonic()
        if r.status != 200:
            raise RuntimeError(f"PUT for job {job['job_id']}: {r!r}")
        with lock:
            uploaded[job["job_id"]] = t1
            upload_lat.append(t1 - t0)
        return job["job_id"]

    done = {}                # job_id → (status, observed mono, updated_at)
    stop = threading.Event()

    def poll():
        pending_end = time.monotonic() + args.deadline
        while not stop.is_set() and time.monotonic() < pending_end:
            try:
                items = client.history(200)
            except (AssertionError, OSError):
                items = []
            now = time.monotonic()  # an upper bound: when we learned it
            with lock:
                known = dict(uploaded)
            for it in items:
                jid = it["job_id"]
                if jid in known and jid not in done and it["status"] in h.TERMINAL:
                    done[jid] = (it["status"], now, it.get("updated_at"))
            # jobs older than the history window: ask for them directly
            missing = [j for j in known if j not in done]
            seen = {it["job_id"] for it in items}
            for jid in [j for j in missing if j not in seen][:32]:
                job = client.get_job(jid)
                if job["status"] in h.TERMINAL:
                    done[jid] = (job["status"], time.monotonic(),
                                 job.get("updated_at"))
            if len(done) >= n:
                return
            time.sleep(args.poll_interval)

    poller = threading.Thread(target=poll, daemon=True)
    t_start = time.monotonic()
    poller.start()
    with ThreadPoolExecutor(args.concurrency) as pool:
        ids = list(pool.map(one, range(n)))
    t_uploaded = time.monotonic()
    poller.join(args.deadline)
    stop.set()
    if len(done) < n:
        print(f"e2e.py: only {len(done)}/{n} jobs finished within "
              f"{args.deadline}s", file=sys.stderr)
        if server is not None:
            print(server.log_tail(), file=sys.stderr)
        return 1
    t_end = max(v[1] for v in done.values())

    observed = [done[j][1] - uploaded[j] for j in ids]
    server_side = []
    for j in ids:
        ua = done[j][2]
        if ua and "." in ua:
            put_wall = wall0 + (uploaded[j] - mono0)
            server_side.append(epoch_of(ua) - put_wall)
    statuses = {}
    for status, _, _ in done.values():
        statuses[status] = statuses.get(status, 0) + 1

    wall = t_end - t_start
    print(f"e2e bench: {n} jobs, {args.concurrency} client threads, "
          f"workers={args.workers or 'config'}, {os.cpu_count()} CPUs, "
          f"clips {', '.join(c for c, _ in CLIPS)}")
    print(f"{'metric':<38} {'value':>12}")
    rows = [
        ("jobs finished", f"{len(done)}"),
        ("statuses", ", ".join(f"{k}={v}" for k, v in sorted(statuses.items()))),
        ("wall time (first POST → last done) s", f"{wall:.2f}"),
        ("jobs/s (end to end)", f"{n / wall:.1f}"),
        ("uploads/s (create + PUT phase)", f"{n / (t_uploaded - t_start):.1f}"),
        ("create+PUT latency p50 ms", f"{pct(upload_lat, 50) * 1e3:.1f}"),
        ("create+PUT latency p99 ms", f"{pct(upload_lat, 99) * 1e3:.1f}"),
        ("upload→SUCCEEDED observed p50 ms", f"{pct(observed, 50) * 1e3:.1f}"),
        ("upload→SUCCEEDED observed p99 ms", f"{pct(observed, 99) * 1e3:.1f}"),
        ("upload→SUCCEEDED observed max ms", f"{max(observed) * 1e3:.1f}"),
    ]
    if server_side:
        rows += [
            ("upload→done server updated_at p50 ms",
             f"{pct(server_side, 50) * 1e3:.1f}"),
            ("upload→done server updated_at p99 ms",
             f"{pct(server_side, 99) * 1e3:.1f}"),
        ]
    for k, v in rows:
        print(f"{k:<38} {v:>12}")
    print(f"(observed latencies include up to ~{args.poll_interval * 1e3:.0f} ms "
          f"poll interval plus poll round time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
