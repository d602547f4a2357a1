"""Helpers for the duplicate-storm and chaos end-to-end tests.

Standard library only (Debian's /usr/bin/python3); builds on vfharness.py
(which it does not change): a node that can be killed with SIGKILL and
restarted on the same ports and data directory, client calls retried
through kills, the attempt ledger (GET /jobs/{id}/attempts), the
independent count of effects (`--effects-log`), small media made once with
ffmpeg, and a reproducible random seed.
"""

import collections
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
import vfharness as h  # noqa: E402

# --- command line -----------------------------------------------------------------


def pop_option(name, default=None, convert=str):
    """Removes `--name VALUE` / `--name=VALUE` from sys.argv (vfharness and
    unittest must not see it) and returns the value, or `default`."""
    flag = "--" + name
    argv = sys.argv
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            value = argv[i + 1]
            del argv[i:i + 2]
            return convert(value)
        if arg.startswith(flag + "="):
            del argv[i]
            return convert(arg[len(flag) + 1:])
    return default


def seed_from_argv():
    """--seed N, else a fresh random seed; printed so a failure can be rerun."""
    seed = pop_option("seed", None, int)
    if seed is None:
        seed = random.SystemRandom().randrange(1, 2**31)
    print(f"random seed: {seed} (rerun with --seed {seed})", flush=True)
    return seed


# --- media ------------------------------------------------------------------------

_media_lock = threading.RLock()

# name → (ffmpeg arguments after the inputs, content type); 1 s each.
SMALL_VIDEOS = {
    "tiny_h264_aac.mp4": (["-f", "lavfi", "-i", "testsrc=size=160x120:rate=25",
                           "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
                           "-t", "1", "-c:v", "libx264", "-preset", "ultrafast",
                           "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "48k",
                           "-shortest"], "video/mp4"),
    "tiny_h264_bars.mp4": (["-f", "lavfi", "-i", "smptebars=size=176x144:rate=15",
                            "-t", "1", "-c:v", "libx264", "-preset", "ultrafast",
                            "-pix_fmt", "yuv420p"], "video/mp4"),
    "tiny_h264_320.mp4": (["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
                           "-f", "lavfi", "-i", "sine=frequency=660:sample_rate=48000",
                           "-t", "1", "-c:v", "libx264", "-preset", "ultrafast",
                           "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "48k",
                           "-shortest", "-movflags", "+faststart"], "video/mp4"),
    "tiny_h264_mandel.mp4": (["-f", "lavfi", "-i", "mandelbrot=size=128x96:rate=20",
                              "-t", "1", "-c:v", "libx264", "-preset", "ultrafast",
                              "-pix_fmt", "yuv420p"], "video/mp4"),
}

# name → content type the client claims (wrongly) for files that are no video.
NOT_VIDEOS = {
    "noise.bin": "video/mp4",
    # The first 1.5 KiB of an mp4 whose index (moov) is at the end. (A text
    # file would not do: libavformat reads text as the `tty` format.)
    "truncated.mp4": "video/mp4",
}


def media(name):
    """Path of a small input made once per process (see SMALL_VIDEOS and
    NOT_VIDEOS) in the harness's scratch directory."""
    path = os.path.join(h.scratch_dir(), "chaos-media", name)
    with _media_lock:
        if os.path.exists(path):
            return path
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if name == "noise.bin":
            with open(path, "wb") as f:
                f.write(random.Random(7).randbytes(48 * 1024))
            return path
        if name == "truncated.mp4":
            with open(media("tiny_h264_aac.mp4"), "rb") as f:
                head = f.read(1536)
            with open(path, "wb") as f:
                f.write(head)
            return path
        if name not in SMALL_VIDEOS:
            raise KeyError(f"unknown input {name}")
        if shutil.which("ffmpeg") is None:
            raise AssertionError("ffmpeg is not installed "
                                 "(deploy/install-deps.sh --test)")
        tmp = path + ".tmp" + os.path.splitext(name)[1]
        cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
               *SMALL_VIDEOS[name][0], tmp]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError(f"ffmpeg failed for {name}: {r.stderr}")
        os.rename(tmp, path)
        return path


def content_type(name):
    if name in SMALL_VIDEOS:
        return SMALL_VIDEOS[name][1]
    return NOT_VIDEOS[name]


_probe_cache = {}


def ffprobe_cached(path):
    with _media_lock:
        if path not in _probe_cache:
            _probe_cache[path] = h.ffprobe(path)
        return _probe_cache[path]


def compare_metadata(meta, path):
    """Differences between a result's `metadata` and ffprobe of `path`
    (format fields and stream codecs); [] when they agree."""
    want = ffprobe_cached(path)
    problems = []
    fmt, wfmt = meta.get("format") or {}, want["format"]
    if fmt.get("format_name") != wfmt["format_name"]:
        problems.append(f"format_name {fmt.get('format_name')!r} != "
                        f"{wfmt['format_name']!r}")
    try:
        if abs(float(fmt.get("duration")) - float(wfmt["duration"])) > 0.02:
            problems.append(f"duration {fmt.get('duration')} != "
                            f"{wfmt['duration']}")
    except (TypeError, ValueError):
        problems.append(f"duration {fmt.get('duration')!r} unreadable")
    for key in ("size", "nb_streams"):
        try:
            if int(fmt.get(key)) != int(wfmt[key]):
                problems.append(f"{key} {fmt.get(key)} != {wfmt[key]}")
        except (TypeError, ValueError):
            problems.append(f"{key} {fmt.get(key)!r} unreadable")
    streams = meta.get("streams") or []
    if len(streams) != len(want["streams"]):
        problems.append(f"{len(streams)} streams, ffprobe sees "
                        f"{len(want['streams'])}")
    else:
        for got, exp in zip(streams, want["streams"]):
            for key in ("codec_type", "codec_name"):
                if got.get(key) != exp.get(key):
                    problems.append(f"stream {exp['index']} {key} "
                                    f"{got.get(key)!r} != {exp.get(key)!r}")
    return problems


# --- retried client calls ---------------------------------------------------------

RETRY_STATUSES = (502, 503, 504)


class Retries:
    """Thread-safe count of client retries, by what was retried."""

    def __init__(self):
        self._lock = threading.Lock()
        self.by_what = collections.Counter()
        self.reasons = collections.Counter()

    def add(self, what, reason):
        with self._lock:
            self.by_what[what] += 1
            self.reasons[reason] += 1

    @property
    def total(self):
        with self._lock:
            return sum(self.by_what.values())

    def summary(self):
        with self._lock:
            parts = ", ".join(f"{k} {v}" for k, v in sorted(self.by_what.items()))
            why = ", ".join(f"{k} {v}" for k, v in self.reasons.most_common(6))
            return f"{sum(self.by_what.values())} ({parts or 'none'}; {why or '-'})"


def retrying(call, what, retries, deadline_s=300, rng=None):
    """Runs `call()` (an HTTP exchange returning a vfharness Response) until
    it neither raises a connection error nor answers 502/503/504, with
    jittered exponential backoff; returns the response. Fails after
    `deadline_s`."""
    rng = rng or random
    end = time.monotonic() + deadline_s
    delay = 0.05
    while True:
        try:
            r = call()
            if r.status not in RETRY_STATUSES:
                return r
            reason = f"HTTP {r.status}"
        except (OSError, http.client.HTTPException) as e:
            reason = type(e).__name__
        if time.monotonic() > end:
            raise AssertionError(f"{what}: still failing after {deadline_s}s "
                                 f"(last: {reason})")
        retries.add(what, reason)
        time.sleep(delay * rng.uniform(0.5, 1.5))
        delay = min(delay * 2, 1.0)


# --- the attempt ledger -----------------------------------------------------------


def attempts(client, job_id):
    """Items of GET /jobs/{id}/attempts; AssertionError naming the problem
    when the route is missing or answers something else."""
    r = client.call("GET", f"/jobs/{job_id}/attempts")
    if r.status == 404 and "no route" in r.text:
        raise AssertionError(
            f"GET /jobs/{job_id}/attempts → 404 'no route': this vidflow "
            f"binary has no attempt ledger route yet")
    if r.status != 200:
        raise AssertionError(f"GET /jobs/{job_id}/attempts → {r!r}")
    body = r.json()
    if body.get("job_id") != job_id or not isinstance(body.get("items"), list):
        raise AssertionError(f"GET /jobs/{job_id}/attempts: unexpected shape "
                             f"{str(body)[:300]}")
    return body["items"]


def ok_counts(items, version, series=None):
    """Counter kind → number of ok ledger entries for `version` (and
    `series`; the highest series seen for that version when None)."""
    mine = [it for it in items if it.get("object_version") == version]
    if series is None:
        series = max((int(it.get("series", 0)) for it in mine), default=0)
    return collections.Counter(
        it.get("kind") for it in mine
        if it.get("ok") is True and int(it.get("series", 0)) == series)


# --- the independent count of effects --------------------------------------------


class EffectsLog:
    """The test-only effects log (`--effects-log PATH`, key
    `testing.effects_log`): every vidflow process given the same path
    appends one JSON line per task a worker finished ("exec", written before
    the outcome goes out) and per ok step the SQLite ledger committed
    ("record", written after the COMMIT). It lives outside the system, so
    it counts how often work ran and was recorded whatever the ledger and
    the orchestrator say later."""

    def __init__(self, prefix="effects"):
        fd, self.path = tempfile.mkstemp(prefix=prefix + "-", suffix=".jsonl",
                                         dir=h.scratch_dir())
        os.close(fd)

    def args(self):
        return ("--effects-log", self.path)

    def lines(self):
        out = []
        with open(self.path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                try:
                    out.append(json.loads(line))
                except ValueError as e:
                    raise AssertionError(f"{self.path}:{n}: not a JSON line "
                                         f"({e}): {line[:200]!r}") from e
        return out


def now_ms():
    return int(time.time() * 1000)


def effects_verdict(lines, ledgers, recorder_runs, allow_superseded=False):
    """Compares the effects log with the ledgers of the jobs checked.

    `ledgers`: job id → items of GET /jobs/{id}/attempts. `recorder_runs`:
    every run of the process that records outcomes (the node, or the
    coordinator), as dicts with `start_ms`, `end_ms` (None while running)
    and `killed`. Returns (problems, counts).

    Per step of an upload (job, kind, object version, series):
    - at most one "record" line (recorded twice is a duplicate effect, even
      if the ledger shows one);
    - every "record" line names a lease some worker finished ok ("exec"),
      so executions >= 1 for every recorded step;
    - the ledger's ok entry and the "record" line name the same lease; a
      ledger entry without its line is allowed only as often as the
      recorder was killed (a kill between COMMIT and append);
    - every other ok execution is explained: its lease was handed back (the
      ledger holds a failed entry for it: timeout, worker_lost,
      cancelled), or the recorder alive when it finished was killed after
      that, or (`allow_superseded`: cluster re-reports racing a retry after
      a coordinator restart) it finished after a kill of the recorder and
      the step was recorded from another lease. Anything else is work that
      ran ok and vanished."""
    problems = []
    counts = collections.Counter()

    def key(job, kind, version, series):
        return (job, kind, version or "", int(series or 0))

    def lease_of(value):
        # Lease ids are unsigned 64-bit; SQLite hands them back signed.
        return int(value) % (1 << 64)

    records = collections.defaultdict(list)
    ok_execs = []
    ok_exec_leases = set()
    for x in lines:
        if x.get("job") not in ledgers:
            continue
        k = key(x["job"], x["kind"], x.get("version"), x.get("series"))
        if x.get("e") == "record":
            records[k].append(x)
            counts["record lines"] += 1
        elif x.get("e") == "exec":
            counts["executions"] += 1
            if x.get("ok") is True:
                ok_execs.append((k, x))
                ok_exec_leases.add((x["job"], lease_of(x["lease"])))
            else:
                counts["failed executions"] += 1
        else:
            problems.append(f"effects log: unknown line {x!r}")
    ledger_ok = collections.defaultdict(set)
    ledger_failed = set()
    for jid, items in ledgers.items():
        for it in items:
            k = key(jid, it.get("kind"), it.get("object_version"),
                    it.get("series"))
            if it.get("ok") is True:
                ledger_ok[k].add(lease_of(it["lease_id"]))
            else:
                ledger_failed.add((jid, lease_of(it["lease_id"])))
    counts["steps recorded (ledger)"] = len(ledger_ok)
    for k, rs in records.items():
        if len(rs) > 1:
            problems.append(f"step {k} recorded {len(rs)} times: "
                            f"leases {[r['lease'] for r in rs]}")
        for r in rs:
            if (r["job"], lease_of(r["lease"])) not in ok_exec_leases:
                problems.append(f"step {k} recorded from lease {r['lease']} "
                                f"that no worker finished ok")
        if k not in ledger_ok:
            problems.append(f"step {k} was committed (record line) but is "
                            f"not in the ledger")
    lost_lines = 0
    for k, leases in ledger_ok.items():
        if len(leases) > 1:
            problems.append(f"step {k}: the ledger has {len(leases)} ok "
                            f"entries {sorted(leases)}")
        rs = records.get(k, [])
        if not rs:
            lost_lines += 1
        elif {lease_of(r["lease"]) for r in rs} != leases:
            problems.append(f"step {k}: the ledger's ok lease {sorted(leases)} "
                            f"is not the recorded one "
                            f"{[r['lease'] for r in rs]}")
    counts["record lines lost to a kill"] = lost_lines
    kills = sum(1 for r in recorder_runs if r["killed"])
    if lost_lines > kills:
        problems.append(f"{lost_lines} recorded steps have no record line, "
                        f"but the recorder was killed only {kills} times")

    def killed_after(at_ms):
        for run in recorder_runs:
            end = run["end_ms"]
            if (run["killed"] and run["start_ms"] <= at_ms
                    and end is not None and at_ms <= end):
                return True
        return False

    def restarted_before(at_ms):
        # Re-reports (and so their races with retries) follow a kill.
        return any(run["killed"] and run["end_ms"] is not None
                   and run["end_ms"] <= at_ms for run in recorder_runs)

    for k, x in ok_execs:
        lease = lease_of(x["lease"])
        if lease in ledger_ok.get(k, ()):
            counts["ok executions recorded"] += 1
        elif (x["job"], lease) in ledger_failed:
            counts["extra: lease handed back first"] += 1
        elif killed_after(int(x["at"])):
            counts["extra: recorder killed before recording"] += 1
        elif (allow_superseded and ledger_ok.get(k)
              and restarted_before(int(x["at"]))):
            counts["extra: step recorded from another lease"] += 1
        else:
            problems.append(f"step {k}: lease {lease} finished ok on "
                            f"{x.get('worker')} at {x['at']} and was neither "
                            f"recorded, handed back, nor lost to a kill")
    return problems, counts


# --- a node that is killed and restarted ------------------------------------------


class Node:
    """`vidflow serve` on fixed ports and a data directory that survive
    SIGKILL; `kill()` then `start()` brings it back as the same node."""

    def __init__(self, binary, extra_args=(), start_deadline_s=60):
        self.binary = binary
        self.extra_args = tuple(extra_args)
        self.start_deadline_s = start_deadline_s
        self.http_port = h.free_port()
        self.store_port = h.free_port()
        self.data_dir = tempfile.mkdtemp(prefix="chaos-data-",
                                         dir=h.scratch_dir())
        self.base = f"http://127.0.0.1:{self.http_port}"
        self.server = None
        self.runs = []          # every h.Server started, oldest first
        self.starts = 0
        self.kills = 0
        # Per run: when it started and ended (Unix ms) and whether it was
        # killed (for effects_verdict).
        self.history = []

    def start(self):
        started = now_ms()
        self.server = h.Server(self.binary, extra_args=self.extra_args,
                               data_dir=self.data_dir,
                               http_port=self.http_port,
                               store_port=self.store_port,
                               name=f"vidflow-run{self.starts}",
                               start_deadline_s=self.start_deadline_s)
        self.runs.append(self.server)
        self.starts += 1
        self.history.append({"start_ms": started, "end_ms": None,
                             "killed": False})
        return self.server

    def kill(self):
        """SIGKILL (no chance to clean up) and reap."""
        rc = self.server.stop(signal.SIGKILL, deadline_s=10)
        self.kills += 1
        if self.history:  # Empty if a test started its runs itself.
            self.history[-1].update(end_ms=now_ms(), killed=True)
        return rc

    def stop(self):
        if self.server is not None and self.server.poll() is None:
            rc = self.server.stop()
            if self.history:
                self.history[-1]["end_ms"] = now_ms()
            return rc
        return None

    def alive(self):
        return self.server is not None and self.server.poll() is None
