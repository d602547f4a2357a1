#!/usr/bin/python3
"""bench/cpu_budget.py — where one job's CPU goes on a node under load: a
per-job CPU budget by part (HTTP, JWT, SigV4, SQLite, upload writes,
probe, summary, events, actor messages, ...), from `perf` samples.

    /usr/bin/python3 bench/cpu_budget.py [--binary build/vidflow]
        [--loadgen build/bench/vf-loadgen] [--clients 16] [--rate 0]
        [--duration 30] [--record 10] [--freq 499] [--keep DIR]

Starts `vidflow serve` (as bench/load.py does: free ports, temporary data
folder, the development config), puts vf-loadgen's end-to-end load on it
(--clients closed loop, or --rate jobs/s open loop) and, in the middle of
the run, records the node with `perf record -F FREQ --call-graph dwarf`
for --record seconds. Every sample's stack is read from the leaf up and
given to the first part one of its frames belongs to (kernel and libc
frames belong to no part, so an fsync counts for whoever called it: SQLite
or the upload's write). The node's CPU seconds per job in the same
seconds (vf-loadgen's --series, from /proc) turn shares into milliseconds
per job. Two more lines come from the same window: the kernel's share by
system call (fsync, openat, ...: from the same samples, whatever part made
the call) and the system calls per job (`perf stat` on the syscall
tracepoints: fsync, fdatasync, pwrite64, write, openat, mkdir, rename,
unlink, futex) with the context switches per job, counts that barely
move between runs where times do.

Needs `perf` (linux-perf) and the permission to profile the node
(root, or kernel.perf_event_paranoid <= 1). This machine's perf has no
hardware counters: samples are timer samples (cpu-clock), so the table
says where the time went, with the sampling error of its sample count.
Numbers only; exit 1 only if a run itself broke.
"""

import argparse
import bisect
import collections
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import vfharness as h  # noqa: E402

# (part, what it covers, pattern over "symbol dso" of one frame). The first
# part, from the leaf up, one of whose patterns a frame matches takes the
# sample; order matters only within one frame.
PARTS = [
    ("JWT", "HMAC-SHA256 of bearer tokens, claims", r"jwt"),
    ("SigV4", "presigning upload/download URLs, verifying presigned requests",
     r"sigv4"),
    ("SQLite", "jobs, claims, ledger, journal: statements, WAL, fsync",
     r"sqlite"),
    ("upload write", "the store taking the bytes: temp file, fsync, rename, "
     "SHA-256, marker", r"objectstore|object_store"),
    ("probe", "libavformat/libavcodec reading the clip (confined)",
     r"libav|libswresample|adapters::media|8adapters5media"),
    ("summary", "the mock summarizer", r"summar"),
    ("events", "job events: feed, SSE, ObjectCreated announcements",
     r"job_feed|event_bus|adapters::events|8adapters6events|announce"),
    ("HTTP", "Beast parse/serialize, Asio sockets, our routes' glue",
     r"boost::beast|boost::asio|5boost5beast|5boost4asio|adapters::http"
     r"|8adapters4http"),
    ("JSON", "nlohmann parse and dump", r"nlohmann"),
    ("actor messages", "CAF: mailboxes, scheduling, serialization",
     r"caf::|_ZN3caf|_ZNK3caf|libcaf"),
    ("orchestration", "vidflow's actors and runtime (job state, dispatch)",
     r"vf::|_ZN2vf|_ZNK2vf|_ZZN2vf"),
    ("other user code", "libc/libstdc++ with no part above them (thread "
     "start-up), unknown frames", r"."),
]
COMPILED = [(name, re.compile(pat)) for name, _, pat in PARTS]

# System calls counted per job during the recording (perf's syscall
# tracepoints): the file-system work behind "SQLite" and "upload write".
# Counts, unlike times, barely move from run to run.
COUNTED_CALLS = ["fsync", "fdatasync", "pwrite64", "write", "openat", "mkdir",
                 "rename", "unlink", "futex"]
# Counted next to them: a thread woken to hand over work shows here (the
# futex calls too), and counts are steady where time is not.
SWITCHES = "context-switches"
SYSCALL_FRAME = re.compile(r"__(?:x64|ia32)_sys_(\w+)")


def classify(frames):
    """frames: list of 'sym dso' strings, leaf first."""
    user = False
    for f in frames:
        if "[kernel.kallsyms]" in f or f.endswith("([unknown])"):
            continue
        user = True
        for name, rx in COMPILED:
            if name == "other user code":
                continue
            if rx.search(f):
                return name
    return "other user code" if user else "kernel only"


def kernel_call(frames):
    """The system call a sample spent its time in (the first syscall entry
    from the leaf up), or None outside any."""
    for f in frames:
        m = SYSCALL_FRAME.search(f)
        if m:
            return m.group(1)
    return None


def read_call_counts(path):
    """{call: count} from `perf stat -x,` output; {} if there is none."""
    out = {}
    try:
        with open(path) as f:
            for line in f:
                fields = line.strip().split(",")
                if len(fields) > 2 and fields[2] == SWITCHES:
                    try:
                        out[SWITCHES] = float(fields[0])
                    except ValueError:
                        pass
                elif len(fields) > 2 and fields[2].startswith("syscalls:"):
                    try:
                        out[fields[2].split("sys_enter_", 1)[1]] = \
                            float(fields[0])
                    except (ValueError, IndexError):
                        pass
    except OSError:
        pass
    return out


def read_samples(perf_data):
    """Yields (thread name, [frames]) per sample of `perf script`."""
    p = subprocess.Popen(["perf", "script", "--no-inline", "-i", perf_data,
                          "-F", "comm,ip,sym,dso"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True, errors="replace")
    comm, frames = None, []
    for line in p.stdout:
        line = line.rstrip("\n")
        if not line.strip():
            if comm is not None:
                yield comm, frames
            comm, frames = None, []
            continue
        if not line.startswith((" ", "\t")):
            comm = line.strip() or "?"
            frames = []
            continue
        parts = line.strip().split(None, 1)
        frames.append(parts[1] if len(parts) > 1 else parts[0])
    if comm is not None:
        yield comm, frames
    p.wait()


def series_at(rows, t):
    """(jobs_ended, node_cpu_s) at `t` s, interpolated from --series."""
    ts = [r[0] for r in rows]
    i = bisect.bisect_left(ts, t)
    if i <= 0:
        return rows[0][1], rows[0][2]
    if i >= len(rows):
        return rows[-1][1], rows[-1][2]
    (t0, j0, c0), (t1, j1, c1) = rows[i - 1], rows[i]
    f = (t - t0) / (t1 - t0) if t1 > t0 else 0
    return j0 + f * (j1 - j0), c0 + f * (c1 - c0)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", help="vidflow binary (default: "
                    "$VIDFLOW_BINARY or build/vidflow)")
    ap.add_argument("--loadgen", default=os.path.join(
        HERE, "..", "build", "bench", "vf-loadgen"))
    ap.add_argument("--config", default=h.DEFAULT_CONFIG)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--rate", type=float, default=0,
                    help="open loop at this many jobs/s (0: closed loop)")
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--record", type=float, default=10,
                    help="seconds of perf recording, centred in the run")
    ap.add_argument("--freq", type=int, default=499)
    ap.add_argument("--clip", default="h264_aac.mp4")
    ap.add_argument("--keep", help="keep perf.data and series.csv here")
    args = ap.parse_args()

    if shutil.which("perf") is None:
        print("cpu_budget.py: perf not found (apt-get install linux-perf)",
              file=sys.stderr)
        return 1
    binary = h.resolve_binary(args.binary)
    for what, path in (("vidflow", binary), ("vf-loadgen", args.loadgen)):
        if not os.access(path, os.X_OK):
            print(f"cpu_budget.py: {what} not found at {path} (make build)",
                  file=sys.stderr)
            return 1
    work = args.keep or tempfile.mkdtemp(prefix="vf-cpu-budget-")
    os.makedirs(work, exist_ok=True)
    series = os.path.join(work, "series.csv")
    perf_data = os.path.join(work, "perf.data")
    calls_path = os.path.join(work, "syscalls.csv")
    clip = h.clip(args.clip)
    server = h.Server(binary, config=args.config)
    rc = 0
    try:
        pid = server.proc.pid
        argv = [args.loadgen, "--url", server.base, "--file", clip,
                "--pid", str(pid), "--warmup", "0", "--duration",
                str(args.duration), "--clients", str(args.clients),
                "--series", series, "--server-times", "0"]
        if args.rate > 0:
            argv += ["--rate", str(args.rate)]
        print("$ " + " ".join(os.path.basename(a) if a == args.loadgen
                              else a for a in argv), flush=True)
        gen_out = []
        t_start = time.monotonic()
        gen = subprocess.Popen(argv, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
        reader = threading.Thread(
            target=lambda: gen_out.extend(gen.stdout), daemon=True)
        reader.start()
        lead = max(0.0, (args.duration - args.record) / 2)
        time.sleep(lead)
        r0 = time.monotonic() - t_start
        # perf stat counts from about now for --record seconds (it starts
        # in milliseconds; perf record takes longer to get going).
        stat = subprocess.Popen(
            ["perf", "stat", "-x,", "-o", calls_path, "-p", str(pid), "-e",
             ",".join([f"syscalls:sys_enter_{c}" for c in COUNTED_CALLS]
                      + [SWITCHES]),
             "--", "sleep", str(args.record)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        rec = subprocess.run(
            ["perf", "record", "-q", "-F", str(args.freq), "-e", "cpu-clock",
             "--call-graph", "dwarf,16384", "-p", str(pid), "-o", perf_data,
             "--", "sleep", str(args.record)],
            capture_output=True, text=True)
        r1 = time.monotonic() - t_start
        stat_err = stat.communicate()[1]
        gen.wait()
        reader.join()
        if rec.returncode != 0:
            print(f"cpu_budget.py: perf record failed: {rec.stderr}",
                  file=sys.stderr)
            return 1
        if gen.returncode != 0:
            print("".join(gen_out), file=sys.stderr)
            print(f"cpu_budget.py: vf-loadgen exited with {gen.returncode}",
                  file=sys.stderr)
            return 1
        rows = []
        with open(series) as f:
            for r in csv.DictReader(f):
                rows.append((float(r["t_s"]), float(r["jobs_ended"]),
                             float(r["node_cpu_s"])))
        # The generator's clock starts after its logins, a few ms after
        # ours: well inside one series step.
        j0, c0 = series_at(rows, r0)
        j1, c1 = series_at(rows, r1)
        jobs = j1 - j0
        cpu = c1 - c0
        stat_jobs = series_at(rows, r0 + args.record)[0] - j0
    finally:
        stop_rc = server.stop()
        if stop_rc != 0:
            print(f"cpu_budget.py: vidflow exited with {stop_rc} on SIGTERM",
                  file=sys.stderr)
            rc = 1
    print("".join(gen_out[-40:]))
    counts = collections.Counter()
    by_thread = collections.Counter()
    by_call = collections.Counter()
    total = 0
    for comm, frames in read_samples(perf_data):
        counts[classify(frames)] += 1
        by_thread[comm] += 1
        call = kernel_call(frames)
        if call:
            by_call[call] += 1
        total += 1
    if total == 0 or jobs <= 0:
        print(f"cpu_budget.py: nothing to report ({total} samples, "
              f"{jobs:.0f} jobs in the window)", file=sys.stderr)
        return 1
    ms_per_job = 1000 * cpu / jobs
    print(f"\nperf window {r1 - r0:.1f} s: {jobs:.0f} jobs ended "
          f"({jobs / (r1 - r0):.1f}/s), node CPU {cpu:.2f} s = "
          f"{ms_per_job:.2f} ms per job; {total} samples at {args.freq} Hz")
    print(f"\n| part | share | ms per job | covers |")
    print("|---|---|---|---|")
    covers = {name: what for name, what, _ in PARTS}
    covers["kernel only"] = ("samples with no user frame: interrupts, "
                             "scheduler, softirq (TCP) work")
    names = [name for name, _ in counts.most_common()]
    names += [name for name, _, _ in PARTS if name not in counts]
    for name in names:
        n = counts.get(name, 0)
        share = n / total
        if n == 0:
            print(f"| {name} | no sample (< {100 / total:.2f} %) | "
                  f"< {ms_per_job / total:.3f} | {covers.get(name, '')} |")
            continue
        print(f"| {name} | {100 * share:.1f} % | {share * ms_per_job:.2f} | "
              f"{covers.get(name, '')} |")
    print("\nKernel time by system call (samples inside it, whatever "
          "part called it): " + ", ".join(
              f"{c} {100 * n / total:.1f} % = {ms_per_job * n / total:.2f} ms"
              for c, n in by_call.most_common(8)) + " per job")
    calls = read_call_counts(calls_path)
    if calls and stat_jobs > 0:
        print(f"System calls per job (perf stat, {args.record:g} s, "
              f"{stat_jobs:.0f} jobs): " + ", ".join(
                  f"{c} {calls[c] / stat_jobs:.2f}"
                  for c in COUNTED_CALLS + [SWITCHES] if c in calls))
    else:
        why = (stat_err or "").strip().splitlines()
        print("System calls per job: not counted (perf stat: "
              + (why[-1] if why else "no output") + ")")
    print("\nBy thread: " + ", ".join(
        f"{t} {100 * n / total:.0f} %" for t, n in by_thread.most_common(6)))
    print("  (caf.multiplexer: CAF 0.17.6 gives its scheduler's worker "
          "threads this name, so these are the cooperative actors; "
          "caf.actor: detached actors such as the job store and the media "
          "actor; vf.*: our Asio and SQLite threads)")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"perf data and series kept in {work}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
