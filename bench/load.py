#!/usr/bin/python3
"""bench/load.py — starts a node and puts end-to-end load on it with the
native generator, bench/loadgen.cpp (vf-loadgen).

    /usr/bin/python3 bench/load.py [--binary build/vidflow]
        [--loadgen build/bench/vf-loadgen] [--clients 32] [--rate 0]
        [--duration 30] [--warmup 2] [--clip h264_aac.mp4] [--workers N]
        [--csv FILE] [--single] [--poll] [--views N]

Starts `vidflow serve` (free ports, temporary data dir, the development
config, rate limit off), makes a small clip, and runs vf-loadgen against it
with the node's pid (CPU seconds and RSS of the node per job come from
/proc). --single adds a second pass first: one job at a time on the idle
node (closed loop, 1 client). Prints vf-loadgen's tables; never fails on
speed (exit 1 only if the run itself broke). --views N adds a last pass: N
clients counting views of one video (`vf-loadgen --views`), for the video
library's views/s and their p99; 0 leaves it out.
"""

import argparse
import os
import subprocess
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import vfharness as h  # noqa: E402


def main():
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", help="vidflow binary (default: "
                    "$VIDFLOW_BINARY or build/vidflow)")
    ap.add_argument("--loadgen", default=os.path.join(
        HERE, "..", "build", "bench", "vf-loadgen"))
    ap.add_argument("--config", default=h.DEFAULT_CONFIG)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--rate", type=float, default=0)
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--clip", default="h264_aac.mp4")
    ap.add_argument("--workers", type=int,
                    help="vidflow --workers (default: the config's)")
    ap.add_argument("--csv")
    ap.add_argument("--poll", action="store_true",
                    help="follow jobs by polling (vf-loadgen --poll) "
                         "instead of GET /jobs/{id}?wait=")
    ap.add_argument("--single", action="store_true",
                    help="first one job at a time on the idle node")
    ap.add_argument("--views", type=int, default=20,
                    help="clients of the views pass (0: none)")
    args = ap.parse_args()

    binary = h.resolve_binary(args.binary)
    for what, path in (("vidflow", binary), ("vf-loadgen", args.loadgen)):
        if not os.access(path, os.X_OK):
            print(f"load.py: {what} not found at {path} (build it first: "
                  f"make build)", file=sys.stderr)
            return 1
    clip = h.clip(args.clip)
    server = h.Server(binary, config=args.config, workers=args.workers)
    rc = 0
    try:
        passes = []
        if args.single:
            passes.append(["--clients", "1", "--duration",
                           str(min(args.duration, 15))])
        load = ["--clients", str(args.clients), "--duration",
                str(args.duration)]
        if args.rate > 0:
            load += ["--rate", str(args.rate)]
        if args.csv:
            load += ["--csv", args.csv]
        passes.append(load)
        if args.poll:
            passes = [p + ["--poll"] for p in passes]
        if args.views > 0:
            passes.append(["--views", "--clients", str(args.views),
                           "--duration", str(min(args.duration, 15))])
        for extra in passes:
            argv = [args.loadgen, "--url", server.base, "--file", clip,
                    "--pid", str(server.proc.pid), "--warmup",
                    str(args.warmup)] + extra
            print(f"\n$ {' '.join(os.path.basename(a) if a == args.loadgen else a for a in argv)}",
                  flush=True)
            r = subprocess.run(argv)
            if r.returncode != 0:
                print(f"load.py: vf-loadgen exited with {r.returncode}",
                      file=sys.stderr)
                print(server.log_tail(), file=sys.stderr)
                rc = 1
    finally:
        stop_rc = server.stop()
        if stop_rc != 0:
            print(f"load.py: vidflow exited with {stop_rc} on SIGTERM",
                  file=sys.stderr)
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
