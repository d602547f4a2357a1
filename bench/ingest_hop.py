#!/usr/bin/python3
"""POST /jobs through an ingestion node vs straight to the coordinator.

    /usr/bin/python3 bench/ingest_hop.py --binary build/vidflow
        [--duration 10s] [--connections 50] [--threads 2] [--warmup 2s]

Starts redis-server, a coordinator (cluster port, Redis event bus, ingest
key) and one ingestion node (`serve --role ingest --join`, mutual TLS),
then runs the same wrk load (bench/post_jobs.lua: POST /jobs with a bearer
token) against the coordinator's API and against the ingestion node's, in
turn, and prints one table and the cost of the extra hop (every request on
the node crosses CAF's network layer to the coordinator's intake gate and
back). All on this machine's loopback: the hop's cost here is CPU and
serialization, not network latency. Numbers only; never fails on speed.
Needs wrk (deploy/install-deps.sh --bench) and redis-server.
"""

import argparse
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402
import clusterlib as cluster  # noqa: E402
from e2e_redis import Redis, redis_args  # noqa: E402
from e2e_ingest import IngestNode  # noqa: E402


def wrk(url, token, args, seconds):
    env = dict(os.environ, TOKEN=token)
    argv = ["wrk", f"-t{args.threads}", f"-c{args.connections}",
            f"-d{seconds}", "--timeout", "10s", "--latency",
            "-s", os.path.join(HERE, "post_jobs.lua"), url]
    r = subprocess.run(argv, env=env, capture_output=True, text=True,
                       timeout=600)
    if r.returncode != 0:
        raise SystemExit(f"ingest_hop.py: wrk failed against {url}:\n"
                         f"{r.stdout}{r.stderr}")
    for line in r.stdout.splitlines():
        if line.startswith("VFBENCH"):
            return {k: float(v) for k, v in
                    (x.split("=") for x in line.split()[1:])}
    raise SystemExit(f"ingest_hop.py: no VFBENCH line from wrk:\n{r.stdout}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--binary", default=None)
    p.add_argument("--config", default=None)
    p.add_argument("--duration", default="10s")
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", default="2s")
    args = p.parse_args()
    for tool in ("wrk", "redis-server"):
        if not shutil.which(tool):
            raise SystemExit(f"ingest_hop.py: {tool} not installed "
                             "(deploy/install-deps.sh --bench)")
    h.binary = h.resolve_binary(args.binary)
    if args.config:
        h.config = os.path.abspath(args.config)
    procs = []
    try:
        r = Redis()
        procs.append(r)
        certs = cluster.Certs(h.binary).make("coordinator", "ingest-a")
        coord = cluster.Coordinator(
            h.binary, certs, pipeline="probe,summarize",
            extra_args=redis_args(r)
            + ["--cluster-ingest-key", certs.ingest_secret,
               "--jobs-in-flight-per-user", "0"])
        coord.start()
        procs.append(coord.server)
        node = IngestNode(r, coord, certs, "ingest-a")
        procs.append(node)
        token = node.login().token
        rows = {}
        print(f"ingest hop bench: wrk -t{args.threads} -c{args.connections} "
              f"-d{args.duration} POST /jobs; {os.cpu_count()} CPUs")
        for name, url in (("coordinator", coord.base),
                          ("ingest node", node.base)):
            if args.warmup not in ("0", "0s"):
                wrk(url, token, args, args.warmup)
            rows[name] = wrk(url, token, args, args.duration)
        print(f"{'API':<12} {'req/s':>10} {'p50 ms':>9} {'p99 ms':>9} "
              f"{'max ms':>9} {'requests':>9} {'non-2xx':>8}")
        for name, x in rows.items():
            print(f"{name:<12} {x['rps']:>10.1f} {x['p50_ms']:>9.2f} "
                  f"{x['p99_ms']:>9.2f} {x['max_ms']:>9.2f} "
                  f"{int(x['requests']):>9} {int(x['non2xx']):>8}")
        c, n = rows["coordinator"], rows["ingest node"]
        print(f"the hop: throughput {n['rps'] / c['rps']:.2f}x of straight, "
              f"p50 +{n['p50_ms'] - c['p50_ms']:.2f} ms, "
              f"p99 +{n['p99_ms'] - c['p99_ms']:.2f} ms")
    finally:
        for proc in reversed(procs):
            try:
                proc.stop()
            except Exception:  # noqa: BLE001 - best effort at exit
                pass


if __name__ == "__main__":
    main()
